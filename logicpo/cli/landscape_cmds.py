"""Commands about the landscape of losses: decompile, neighbors, census."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from logicpo.cli.common import (
    FreeTextCommand,
    Number,
    console,
    emit_json,
    err_console,
    file_option,
    json_option,
    make_table,
)
from logicpo.errors import UsageError
from logicpo.logic.truth import world_list


def register(group: click.Group) -> None:
    """Add this area's commands to the main group."""
    for command in (decompile, neighbors, census):
        group.add_command(command)


def _structure_rows(s) -> list[tuple[str, str]]:
    ok, bad = s.regions()
    return [("core P", s.core_text), ("cond P_C", s.cond_text), ("add P_A", s.add_text),
            ("ok ✓", " ".join(ok) or "(none)"), ("bad ✗", " ".join(bad) or "(none)")]


# ---------------------------------------------------------------- decompile


class _Binding(click.ParamType):
    """``NAME=NUMBER``: a parameter of the loss bound to a finite number."""

    name = "NAME=NUMBER"

    def convert(self, value, param, ctx) -> tuple[str, float]:
        if isinstance(value, tuple):
            return value
        name, eq, number = str(value).partition("=")
        name = name.strip()
        if not eq or not name.isidentifier():
            self.fail(f"{value!r} is not NAME=NUMBER (e.g. --value lambda=0.5)", param, ctx)
        return name, LOG_VALUE.convert(number.strip(), param, ctx)


LOG_VALUE = Number("parameter value")


@click.command(cls=FreeTextCommand)
@click.argument("expr", nargs=-1, required=True)
@click.option("--value", "values", type=_Binding(), multiple=True,
              help="Bind a parameter of EXPR to a number, by the name EXPR uses "
                   "(repeatable): --value lambda=0.5.")
@click.option("--points", type=click.IntRange(min=1), default=5, show_default=True,
              help="Random points at which the round trip is checked (at least 1).")
@click.option("--atoms", "declared", multiple=True, metavar="NAME=ATOM,...",
              help="Declare more log-prob and token-count names (repeatable, or "
                   "comma-separated): --atoms \"g=M(yg),len_g=|yg|\". Without it, M_yg, "
                   "Ref_ys, n_yg and the short forms pg, rs, ng already have their meaning.")
@json_option
def decompile(expr: tuple[str, ...], values: tuple[tuple[str, float], ...], points: int,
              declared: tuple[str, ...], as_json: bool) -> None:
    """Find the logic behind a loss EXPR written in log-probs: an objective, a sum of
    terms f(structure, params), and the DSL text that trains it.

    EXPR uses the log-probs pc, pr, rc, rr (or policy_chosen_logps, ...), token counts
    (nc, nr, len_w, len_l, chosen_lengths, ...: pc/nc gives normalize=length), the
    log-prob Model_response of any other atom (M_yg, Ref_ys, M_yl2; pg, rs for short) and
    the token count n_response (n_yg; ng for short), numbers,
    + - * / ** and log, exp, logsigmoid, sigmoid, softplus, log1mexp, log1p, expm1,
    logaddexp, relu, max. Every other name is a parameter (beta, gamma, eps, lambda, tau,
    ...), reported by its role. Each term's outer function may be any of the spec's
    families (logistic with label smoothing, hinge, square, robust, exo, sigmoid,
    discopop) or -log of a probability (the NLL -pc, unlikelihood -log1mexp(pr), ...).
    Example: logicpo decompile "-logsigmoid(beta*(pc - pr)) - lambda*pc"

    Every word that is not exactly one of the options below is part of EXPR, so an
    expression may start with "-"; after "--" everything is EXPR.
    """
    from logicpo.decompiler import decompile as run

    expr = " ".join(expr)
    bound: dict[str, float] = {}
    for name, number in values:
        if name in bound:
            raise UsageError(f"--value {name}=... is given twice")
        bound[name] = number
    extra = {"atoms": ",".join(declared)} if declared else {}  # the API's own default else
    result = run(expr, file="<expr>", check_points=points, values=bound, **extra)
    if as_json:
        emit_json(result.to_json())
        return
    console.print(f"[bold]{escape(expr)}[/]")
    if result.dsl is not None:
        console.print(f"  is {escape(result.dsl)}")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan")
    grid.add_column()
    if result.dsl is not None:
        grid.add_row("dsl", escape(result.dsl))
    else:
        grid.add_row("dsl", escape(f"none: {result.dsl_problem}"))
    for d in result.definitions:
        grid.add_row("needs", escape(d))
    if len(result.terms) == 1:
        t = result.terms[0]
        grid.add_row("f", t.family)
        for k, v in t.params.items():
            grid.add_row(k, escape(str(v)))
        grid.add_row("weight", escape(str(t.weight)))
        grid.add_row("normalize", "length" if t.normalize else "none")
        for label, value in _structure_rows(t.structure):
            grid.add_row(label, escape(value))
        grid.add_row("rho", escape(str(t.rho)))
        grid.add_row("structure's loss", escape(t.closed_form))
        grid.add_row("known as", ", ".join(m.expression for m in t.matches)
                     or "no zoo structure (up to ref and flip)")
    for p in result.parameters:
        grid.add_row("parameter", escape(f"{p.name}: " + "; ".join(p.roles)))
    for name, v in result.values:
        grid.add_row("bound", f"{escape(name)} = {v:g}")
    for a in result.assumptions:
        grid.add_row("assumes", escape(a))
    for note in result.dsl_notes + result.notes:
        grid.add_row("note", escape(note))
    grid.add_row("round trip", f"{result.round_trip_points} random points, largest "
                               f"relative difference {result.round_trip_error:.1e}")
    console.print(grid)
    if len(result.terms) > 1:
        rows = [[i, escape(t.text), t.family, escape(t.structure.name),
                 escape(", ".join(f"{k}={v}" for k, v in t.params.items()
                                  if k == "beta" or v != 0.0)),
                 escape(str(t.weight)), "length" if t.normalize else "none",
                 escape(", ".join(m.expression for m in t.matches) or "new")]
                for i, t in enumerate(result.terms, 1)]
        console.print(make_table("terms", ["#", "as written", "f", "structure", "params",
                                           "weight", "normalize", "known as"], rows))
    for w in result.warnings:
        err_console.print(f"[bold yellow]warning:[/] {escape(w)}")


# ---------------------------------------------------------------- neighbors


@click.command()
@click.argument("name")
@file_option
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the neighbourhood to this PNG file (a summary grid beyond 16 "
                   "neighbours).")
@click.option("--svg", type=click.Path(dir_okay=False, path_type=Path),
              help="The same picture as an SVG file.")
@json_option
def neighbors(name: str, files: tuple[Path, ...], png: Path | None, svg: Path | None,
              as_json: bool) -> None:
    """Every structure one world-edit away from NAME, classified against it.

    Each edit moves one world between ok, bad, both and neither. Neighbours are
    stronger (they entail NAME, loss at least as high), weaker or incomparable;
    degenerate ones are marked, and those computing the same loss are grouped.
    Each neighbour is also printed as a line of the DSL, ready to paste into a
    .lpo file. NAME may be an objective with one structure (sigmoid, simpo, ...):
    its structure is used.
    """
    from logicpo.api import program_for
    from logicpo.cli.logic_cmds import loss_structures, print_notes
    from logicpo.reasoning.landscape import neighbours

    program, (short,) = program_for([name], files)
    found, note = loss_structures(program, short)
    if len(found) > 1:
        raise UsageError(f"{short} is an objective with {len(found)} structures "
                         f"({', '.join(s.name for s in found)}): neighbors explores one "
                         "structure, name one of them")
    origin = found[0]
    print_notes([note])
    known = [program.structure(n) for n in program.names_of("structure")]
    hood = neighbours(origin, known)
    pictures = [p for p in (png, svg) if p is not None]
    for path in pictures:
        from logicpo.plots import save_figure
        from logicpo.plots.landscape import draw_neighbourhood

        save_figure(draw_neighbourhood(hood), path)
    if as_json:
        out = hood.to_json()
        out["notes"] = [note] if note else []
        if png is not None:
            out["png"] = str(png)
        if svg is not None:
            out["svg"] = str(svg)
        emit_json(out)
        return
    rows = []
    for i, g in enumerate(hood.groups, 1):
        for m in g.members:
            tag = m.degeneracy.name.lower() if m.degeneracy else ""
            if m.same_loss_as_origin:
                tag = (tag + " same loss as " + origin.name).strip()
            ok, bad = m.structure.regions()
            rows.append([i, m.edit, m.relation, ", ".join(m.same_as) or "-",
                         escape(m.structure.core_text), world_list(ok, empty="-"), world_list(bad, empty="-"), tag or "-"])
    table = make_table(
        f"{len(hood.neighbours)} one-world edits of {origin.name}, "
        f"{len(hood.groups)} distinct losses",
        ["loss", "edit", f"vs {origin.name}", "zoo name", "core P", "ok ✓", "bad ✗", "note"],
        rows)
    console.print(table)
    console.print(make_table("The distinct losses (beta = 1)", ["loss", "closed form"],
                             [[i, escape(g.closed_form)] for i, g in enumerate(hood.groups, 1)]))
    # Plain lines (no table borders) so that they can be copied into a .lpo file as they are.
    console.print("# The neighbours in the DSL (loss number, edit), to paste into a .lpo file:")
    for i, g in enumerate(hood.groups, 1):
        for m in g.members:
            same = f", same regions as {', '.join(m.same_as)}" if m.same_as else ""
            console.print(f"{escape(m.definition)}   # loss {i}, {escape(m.edit)}{same}",
                          soft_wrap=True, highlight=False)
    for path in pictures:
        console.print(f"picture written to {escape(str(path))}")


# ---------------------------------------------------------------- census


# The exact decimals of N = 13 pass 4,300 digits, Python's default limit for int -> str.
MAX_COUNTED_ATOMS = 12
MAX_ENUMERATED_ATOMS = 4


@click.command()
@click.option("--atoms", "n", type=click.IntRange(1, MAX_COUNTED_ATOMS), required=True,
              help="Number of atoms N: 2 for single-model losses, 4 for DPO's "
                   f"(up to {MAX_COUNTED_ATOMS} counted, {MAX_ENUMERATED_ATOMS} enumerated).")
@click.option("--method", type=click.Choice(["count", "enumerate"]), default="count",
              show_default=True,
              help="count: exact formula, instant for any N (proof in docs/landscape.md); "
                   "enumerate: visit the pairs one ok row at a time (N <= 4, the cross-check).")
@click.option("--workers", "-j", type=click.IntRange(1, 64), default=None,
              help="Worker processes for --method enumerate (default: every core).")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path),
              help="--method enumerate: save finished work here and resume from it.")
@click.option("--max-seconds", type=float, default=None,
              help="--method enumerate: stop after about this long; rerun with --state.")
@json_option
def census(n: int, method: str, workers: int | None, state: Path | None,
           max_seconds: float | None, as_json: bool) -> None:
    """Count the 4^(2^N) (ok, bad) pairs over N atoms: degenerate and distinct losses.

    Two pairs define the same loss when WMC(ok)/WMC(bad) are equal rational
    functions; the canonical form of a pair is the pair left after cancelling
    common factors. The default method counts these canonical pairs with an exact
    formula (Möbius inversion over common factors); --method enumerate visits the
    pairs instead. Both are explained in docs/landscape.md.
    """
    from logicpo.reasoning.census import count_census, ratio_json

    if method == "count":
        given = [opt for opt, v in (("--workers", workers), ("--state", state),
                                    ("--max-seconds", max_seconds)) if v is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: only for --method enumerate "
                             "(counting needs no workers, state or time limit)")
        result = count_census(n)
    else:
        if n > MAX_ENUMERATED_ATOMS:
            raise UsageError(f"--method enumerate handles N <= {MAX_ENUMERATED_ATOMS} "
                             f"(N = {n} has {1 << (1 << n):,} ok sets); use --method count")
        result = _enumerate(n, workers, state, max_seconds, as_json)
    if as_json:
        out = result.to_json()
        out.update(ratio_json(result.distinct, n))
        emit_json(out)
        return
    rows = [["(ok, bad) pairs", _big(result.pairs), f"4^(2^{n})"]]
    if method == "enumerate":
        rows.append(["rows done", f"{result.rows_done:,} / {result.rows_total:,}",
                     "complete" if result.complete else "partial: rerun with the same --state"])
    rows += [
        ["degenerate pairs", _big(result.degenerate), "ok empty, bad empty, or ok = bad"],
        ["non-degenerate pairs", _big(result.nondegenerate), ""],
        ["distinct non-degenerate losses", _big(result.distinct),
         "coprime pairs (each its own canonical form)"],
    ]
    if method == "enumerate":
        rows.append(["  the same, counted", _big(result.distinct_by_inclusion_exclusion),
                     "independent count (--method count)"])
    rows.append(["distinct losses with degenerate ones", _big(result.distinct_with_degenerate),
                 "+ undefined, +inf, 0, log 2"])
    r = ratio_json(result.distinct, n)
    rows.append(["distinct / 4^(2^N)", f"{r['ratio_to_bound']:.6f}",
                 f"1 - ratio = {r['one_minus_ratio']:.3e}; log10 distinct = "
                 f"{r['log10_distinct']:.3f}, log10 4^(2^N) = {r['log10_bound']:.3f}"])
    if method == "enumerate":
        rows += [
            ["failed reduction checks", f"{result.reduction_violations:,}",
             f"fingerprint error bound {result.fingerprint_error_bound:.1e}"],
            ["time", f"{result.seconds:.1f} s", f"{result.workers} worker(s)"
             + (f", {result.resumed_rows:,} rows resumed" if result.resumed_rows else "")],
            ["peak memory", f"{result.peak_rss_mib:.0f} MiB", "largest process (ru_maxrss)"],
        ]
    else:
        rows.append(["time", f"{result.seconds * 1e3:.2f} ms", "counted, not enumerated"])
    console.print(_folded(make_table(f"Census of the structures over {n} atoms ({method})",
                                     ["", "count", "how"], rows)))
    if method == "count":
        irr = [[k, _big(per), _big(total)] for k, (per, total) in enumerate(
            zip(result.irreducible_per_support, result.irreducible_over_atoms, strict=True))
            if k]
        console.print(_folded(make_table("Irreducible world sets by support size k",
                                         ["k", "per set of k atoms", f"over all {n} atoms"],
                                         irr)))
    if getattr(result, "targets", None):
        trows = [[name, f"{c.get('canonical', 0):,}", f"{c.get('fingerprint', 0):,}"]
                 for name, c in result.targets.items()]
        console.print(make_table("Pairs computing exactly the loss of a zoo structure",
                                 ["structure", "pairs (canonical form)",
                                  "pairs (fingerprint, independent)"], trows))


def _folded(table):
    """Long exact numbers wrap onto several lines instead of being cut with an ellipsis."""
    for column in table.columns:
        column.overflow = "fold"
    return table


def _big(x: int) -> str:
    """Exact up to N = 8 (155 digits); beyond, scientific with the digit count (--json is
    always exact)."""
    text = f"{x:,}"
    if len(str(x)) <= 160:
        return text
    digits = str(x)
    return f"{digits[0]}.{digits[1:7]}e{len(digits) - 1} ({len(digits)} digits, exact in --json)"


def _enumerate(n: int, workers: int | None, state: Path | None, max_seconds: float | None,
               as_json: bool):
    import os

    from logicpo.reasoning.landscape import census as run

    workers = workers or os.cpu_count() or 1
    if n == 4 and state is None and not as_json:
        err_console.print("hint: pass --state FILE to make this run resumable")
    with Progress(TextColumn(f"census N={n}"), BarColumn(), TextColumn("{task.completed:,}/"
                  "{task.total:,} ok rows"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=err_console, transient=True, disable=not err_console.is_terminal
                  ) as progress:
        task = progress.add_task("census", total=1 << (1 << n))

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = run(n, workers=workers, state=state, max_seconds=max_seconds, progress=report)
    if result.reduction_violations:
        raise UsageError(f"{result.reduction_violations} reductions failed their checks: "
                         "this is a bug in logicpo, please report it")
    return result
