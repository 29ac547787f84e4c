"""Commands about the logic: check, show, compare, lattice."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from logicpo.cli.common import (
    console,
    emit_json,
    err_console,
    file_option,
    gc_paused,
    json_option,
    keep_until_exit,
)
from logicpo.errors import LogicpoError, UsageError
from logicpo.logic.truth import world_list


def register(group: click.Group) -> None:
    for command in (check, show, compare, lattice):
        group.add_command(command)


# ---------------------------------------------------------------- check


def check_file(path: Path) -> dict:
    """Load one file on top of the zoo, resolve every definition in it and diagnose it:
    an error raises, warnings are listed under ``"warnings"``."""
    return _check_file(path)[0]


def _check_file(path: Path):
    from logicpo.logic.diagnostics import as_error
    from logicpo.program import load

    program = load([path])
    program.check_all()
    definitions, warnings = [], list(program.diagnostics)
    for name in program.user_names:
        kind = program.kind(name)
        entry = program.entry(name)
        span = entry.definition.span
        item = {"name": name, "kind": kind, "file": entry.file,
                "line": span.line if span else None}
        found = program.diagnose(name)
        for d in found:
            if d.severity == "error":
                raise as_error(d)
        warnings += found
        if kind == "structure":
            item["atoms"] = list(program.structure(name).atoms)
        definitions.append(item)
    result = {"file": str(path), "ok": True, "definitions": definitions,
              "warnings": [w.to_json() for w in warnings]}
    return result, warnings


def print_diagnostics(found) -> None:
    """Diagnostics go to standard error, so that ``--json`` output stays one JSON document."""
    for d in found:
        label = "[bold red]error:[/]" if d.severity == "error" else "[bold yellow]warning:[/]"
        err_console.print(f"{label} {escape(d.render())}", soft_wrap=True)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
def check(files: tuple[Path, ...], as_json: bool) -> None:
    """Parse and check .lpo FILES: syntax, names, imports, and losses that cannot train.

    Errors (exit code 1): syntax, unknown names, import problems, degenerate structures,
    losses that do not depend on the policy. Warnings: a loss that prefers the loser,
    weights of 0 or below, robust at label smoothing 0, a name that shadows the zoo's.
    Both are printed as file:line:col with the source line and a caret.
    """
    results, failed = [], False
    for path in files:
        try:
            result, warnings = _check_file(path)
            results.append(result)
            if not as_json:
                print_diagnostics(warnings)
        except LogicpoError as exc:
            failed = True
            results.append({"file": str(path), "ok": False, "error": exc.to_json()})
            if not as_json:
                console.print(f"[bold red]error:[/] {escape(exc.render())}", soft_wrap=True)
    if as_json:
        emit_json({"ok": not failed, "files": results})
    else:
        for r in results:
            if r["ok"]:
                kinds: dict[str, int] = {}
                for d in r["definitions"]:
                    kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
                parts = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in kinds.items())
                n_warn = len(r["warnings"])
                warned = f" ({n_warn} warning{'s' if n_warn != 1 else ''})" if n_warn else ""
                console.print(f"[green]ok[/] {escape(r['file'])}: "
                              f"{parts or 'no definitions'}{warned}")
    if failed:
        raise SystemExit(1)


# ---------------------------------------------------------------- show


#: the most rows of a truth table `show` prints (beyond, the counted worlds come first)
TRUTH_TABLE_ROWS = 64


def _truth_table(s) -> Table:
    """The truth table; over more than 64 worlds, its first 64 counted worlds (ok, bad or
    both) and a caption saying so, as a 1,024-row table helps no reader (--json and --html
    keep every world)."""
    rows = s.truth_table()
    caption = None
    if len(rows) > TRUTH_TABLE_ROWS:
        counted = [r for r in rows if r["counts"] != "neither"]
        total = len(rows)
        rows = counted[:TRUTH_TABLE_ROWS]
        caption = (f"{len(rows)} of {total:,} worlds: "
                   + ("the first counted ones" if len(counted) > len(rows)
                      else "every counted one") + f" ({len(counted):,} counted); "
                   "--json and --html give the whole table")
    table = Table(title="Truth table (T = true; counted as: ✓ ok, ✗ bad)", title_justify="left",
                  caption=caption, caption_justify="left")
    for a in s.atoms:
        table.add_column(a, justify="center")
    for c in ("core", "cond", "add", "counts as"):
        table.add_column(c, justify="center")
    mark = {"ok": "✓", "bad": "✗", "both": "✓ ✗", "neither": "·"}
    for row in rows:
        cells = ["T" if row[a] else "F" for a in s.atoms]
        cells += ["T" if row[c] else "F" for c in ("core", "cond", "add")]
        cells.append(mark[row["counts"]])
        table.add_row(*cells)
    return table


@click.command()
@click.argument("name")
@file_option
@click.option("--latex", is_flag=True, help="Also print the closed form as LaTeX.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write one self-contained HTML page about NAME (no network needed): "
                   "definition, regions, truth table, closed form, standing, lattice.")
@json_option
def show(name: str, files: tuple[Path, ...], latex: bool, html_path: Path | None,
         as_json: bool) -> None:
    """Show what a structure says: core, cond, add, regions, truth table, closed form,
    where it stands among the zoo's structures, and a reading in plain words.

    NAME is a zoo name (DPO, CPO, ...), a name from --file, or path/to/file.lpo:NAME.
    For an objective, each of its terms is listed with its structure.
    """
    from logicpo.api import program_for
    from logicpo.logic.closed_form import closed_form

    program, (short,) = program_for([name], files)
    found = [*program.diagnostics, *program.diagnose(short)]
    print_diagnostics(found)  # an error too: show still shows what the definition says
    page = None
    if html_path is not None:
        from logicpo.display.card import write_card

        page = str(write_card(program, short, html_path))
        err_console.print(f"page written to {escape(page)}")
    if program.kind(short) == "objective":
        from logicpo.display.html import zoo_place

        obj = program.objective(short)
        places = {t.structure.name: zoo_place(t.structure) for t in obj.terms}
        if as_json:
            emit_json({"name": obj.name, "kind": "objective", "text": obj.text(),
                       "citation": obj.doc,
                       "terms": [{"weight": t.weight, "family": t.family,
                                  "params": dict(t.params),
                                  "structure": t.structure.to_json(),
                                  "standing": places[t.structure.name].to_json()}
                                 for t in obj.terms],
                       "page": page, "diagnostics": [d.to_json() for d in found]})
            return
        console.print(f"[bold]{escape(obj.name)}[/] (objective)"
                      + (f" — {escape(obj.doc)}" if obj.doc else ""))
        console.print(f"  = {escape(obj.text())}")
        table = Table(title="Terms", title_justify="left")
        for c in ("weight", "f", "structure", "params", "structure's loss (beta=1)"):
            table.add_column(c)
        for t in obj.terms:
            table.add_row(f"{t.weight:g}", t.family, t.structure.name,
                          ", ".join(f"{k}={v}" for k, v in t.params) or "-",
                          escape(closed_form(t.structure).text))
        console.print(table)
        for name, place in places.items():
            console.print(f"[bold cyan]standing of {escape(name)}[/] (among the zoo's "
                          f"structures): {escape(' '.join(place.sentences()))}", soft_wrap=True)
        return
    from logicpo.display.reading import reading
    from logicpo.display.standing import zoo_standing

    s = program.structure(short)
    place = zoo_standing(program, short)
    if as_json:
        emit_json({**s.to_json(), "standing": place.to_json(), "reading": reading(s),
                   "page": page, "diagnostics": [d.to_json() for d in found]})
        return
    cf = closed_form(s)
    ok, bad = s.regions()
    kind = "single-model" if s.single_model else "reference"
    console.print(f"[bold]{escape(s.name)}[/] ({kind} structure over {', '.join(s.atoms)})"
                  + (f" — {escape(s.doc)}" if s.doc else ""))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan")
    grid.add_column()
    grid.add_row("core P", escape(s.core_text))
    grid.add_row("cond P_C", escape(s.cond_text))
    grid.add_row("add P_A", escape(s.add_text))
    grid.add_row("ok ✓", world_list(ok))
    grid.add_row("bad ✗", world_list(bad))
    if cf.rho_text:
        grid.add_row("rho", escape(cf.rho_text))
    grid.add_row("loss", escape(cf.text))
    if latex:
        grid.add_row("LaTeX", escape(cf.latex))
    console.print(grid)
    if s.degeneracy:
        console.print(f"[bold yellow]degenerate:[/] {s.degeneracy.value}")
    console.print(_truth_table(s))
    _relation_hint(program, s)
    console.print("[bold cyan]standing[/] (among the zoo's structures)")
    for sentence in place.sentences():
        console.print(f"  {escape(sentence)}", soft_wrap=True)
    console.print(f"[bold cyan]reading[/]\n  {escape(reading(s))}", soft_wrap=True)


def _relation_hint(program, s) -> None:
    """One line relating the structure to the landmark loss of its kind."""
    from logicpo.reasoning.order import compare as compare_structures

    landmark = "CPO" if s.single_model else "DPO"
    if s.name == landmark or program.kind(landmark, zoo=True) != "structure":
        return
    c = compare_structures(s, program.structure(landmark, zoo=True), engine="bitmask")
    console.print(f"vs {landmark}: {escape(c.summary())}")


# ---------------------------------------------------------------- objectives by their structures


def loss_structures(program, short: str) -> tuple[list, str | None]:
    """The structures behind NAME, for the commands that relate structures (compare,
    lattice, neighbors), and a note saying what was used when NAME is an objective (a zoo
    loss such as TRL's ``sigmoid`` or ``simpo``, or the user's): its terms' distinct
    structures, in term order. The order between structures ignores f, beta, margins and
    length normalisation (spec section 3), and the note says so."""
    if program.kind(short) != "objective":
        return [program.structure(short)], None
    obj = program.objective(short)
    found: dict[str, object] = {}
    for term in obj.terms:
        found.setdefault(term.structure.name, term.structure)
    structures = list(found.values())
    names = ", ".join(found)
    if len(structures) == 1:
        note = (f"{short} is an objective, {obj.text()}: using its structure {names} "
                "(the order is between structures; its family and parameters are not "
                "compared)")
    else:
        note = (f"{short} is an objective, {obj.text()}: using the structures of its "
                f"{len(structures)} terms, {names}")
    return structures, note


def print_notes(notes) -> None:
    for note in notes:
        if note:
            err_console.print(f"[bold cyan]note:[/] {escape(note)}", soft_wrap=True)


# ---------------------------------------------------------------- compare


@click.command()
@click.argument("a")
@click.argument("b")
@file_option
@click.option("--engine", type=click.Choice(["z3", "bitmask"]), default="z3", show_default=True,
              help="Decide entailment with z3 or with truth tables.")
@click.option("--timeout", "timeout_ms", type=click.IntRange(min=1), default=5000,
              show_default=True, help="z3 time limit per query, in milliseconds.")
@json_option
def compare(a: str, b: str, files: tuple[Path, ...], engine: str, timeout_ms: int,
            as_json: bool) -> None:
    """How loss A relates to loss B: equivalent, stronger, weaker or incomparable.

    "stronger" means A entails B: A is more constrained and its loss is at least
    B's on every input. Each direction that fails is explained by a witness world.
    A or B may be an objective (a zoo loss such as sigmoid or simpo, or your own):
    its structure is used, and for an objective with several structures each of its
    terms' structures is related to the other side's, term by term.
    """
    from logicpo.api import program_for
    from logicpo.reasoning.order import compare as compare_structures

    program, (sa, sb) = program_for([a, b], files)
    (left, note_a), (right, note_b) = loss_structures(program, sa), loss_structures(program, sb)
    notes = [n for n in (note_a, note_b) if n]
    results = [compare_structures(x, y, engine=engine, timeout_ms=timeout_ms)
               for x in left for y in right]
    summaries = [structure_summary(r) if notes else r.summary() for r in results]
    if as_json:
        out = [{**r.to_json(), "summary": s} for r, s in zip(results, summaries, strict=True)]
        if len(results) == 1:
            emit_json({**out[0], "notes": notes})
        else:
            emit_json({"a": sa, "b": sb, "notes": notes, "term_by_term": out})
        return
    print_notes(notes)
    if len(results) > 1:
        console.print(f"[bold]{escape(sa)}[/] against [bold]{escape(sb)}[/], term by term "
                      f"({_count(len(results), 'pair')} of structures):")
    for result, summary in zip(results, summaries, strict=True):
        _print_comparison(result, summary)


#: The families whose loss decreases as rho grows, so that the order between structures
#: orders their losses too (square, exo and discopop have a minimum; label smoothing above
#: 0 makes logistic rise again for large rho).
MONOTONE = "logistic without label smoothing, hinge, robust, sigmoid"


def structure_summary(result) -> str:
    """The relation of two structures taken from objectives, in words that claim no more
    than the order gives: the losses of the objectives also depend on their families and
    parameters, so the inequality is stated for one family and settings on both sides.

    >>> from logicpo.program import zoo
    >>> from logicpo.reasoning.order import compare
    >>> z = zoo()
    >>> print(structure_summary(compare(z.structure("DPO"), z.structure("DPO"))))
    the structures DPO and DPO are equivalent: any one family with the same parameters computes the same loss from both.
    """
    from logicpo.reasoning.order import Relation

    a, b = result.a.name, result.b.name
    alike = (f"under any one family that decreases as rho grows ({MONOTONE}) with the same "
             "parameters on both sides")
    return {
        Relation.EQUIVALENT: f"the structures {a} and {b} are equivalent: any one family with "
                             "the same parameters computes the same loss from both.",
        Relation.STRONGER: f"the structure {a} is stronger than {b}: {a} |= {b}, so {alike}, "
                           f"the loss from {a} is at least the loss from {b} on every input.",
        Relation.WEAKER: f"the structure {a} is weaker than {b}: {b} |= {a}, so {alike}, "
                         f"the loss from {a} is at most the loss from {b} on every input.",
        Relation.INCOMPARABLE: f"the structures {a} and {b} are incomparable: neither entails "
                               "the other.",
        Relation.UNKNOWN: result.summary(),
    }[result.relation]


def _print_comparison(result, summary: str) -> None:
    sa, sb = result.a.name, result.b.name
    colour = {"equivalent": "green", "stronger": "cyan", "weaker": "cyan",
              "incomparable": "yellow", "unknown": "red"}[result.relation.value]
    console.print(f"[bold {colour}]{result.relation.value}[/]: {escape(summary)}")
    if result.atoms_note():
        console.print(f"  [dim]{escape(result.atoms_note())}[/]", soft_wrap=True)
    for v, x, y in ((result.forward, sa, sb), (result.backward, sb, sa)):
        if v.is_unknown:
            console.print(f"  {x} |= {y}: unknown ({escape(v.reason or '')})")
    if result.witnesses:
        table = Table(title="Witness worlds", title_justify="left")
        for c in ("fails", "world", *result.witnesses[0].world.atoms, f"{sa} counts",
                  f"{sb} counts"):
            table.add_column(c)
        for w in result.witnesses:
            values = ["T" if v else "F" for v in w.world.values.values()]
            by_a = w.first_counts if w.first.name == sa else w.second_counts
            by_b = w.second_counts if w.first.name == sa else w.first_counts
            table.add_row(f"{w.first.name} |= {w.second.name}", w.world.short, *values,
                          by_a, by_b)
        console.print(table)
        for w in result.witnesses:
            console.print("  " + escape(w.explain()), soft_wrap=True)


# ---------------------------------------------------------------- lattice


@click.command()
@click.argument("names", nargs=-1)
@file_option
@click.option("--zoo", "use_zoo", is_flag=True, help="Use the structures of the built-in zoo.")
@click.option("--beyond-pairs", is_flag=True,
              help="With --zoo, also the zoo's structures beyond the classic four atoms "
                   "(listwise CPO3, ...), compared over the union of their atoms.")
@click.option("--single-model", is_flag=True,
              help="Keep only single-model structures (the paper's lattice with --zoo).")
@click.option("--reference", "reference_only", is_flag=True,
              help="Keep only structures that use the reference model.")
@click.option("--png", "png", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the lattice to this PNG file.")
@click.option("--svg", "svg", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the lattice to this SVG file.")
@json_option
@gc_paused
def lattice(names: tuple[str, ...], files: tuple[Path, ...], use_zoo: bool, single_model: bool,
            reference_only: bool, png: Path | None, svg: Path | None, as_json: bool,
            beyond_pairs: bool = False) -> None:
    """The loss lattice of NAMES: which losses entail which (Hasse diagram).

    With --zoo, all structures of the built-in zoo; with only --file, all structures
    defined in those files; with both, the file's structures among the zoo's, marked as
    yours. A NAME may be an objective (sigmoid, simpo, your own): its terms' structures
    are used. Equivalent structures share a node named A=B.
    An edge A -> B means A |= B: A is more constrained, loss(A) >= loss(B).
    """
    from logicpo.api import program_for
    from logicpo.reasoning.lattice import Lattice

    program, shorts = program_for(names, files)
    print_diagnostics(program.diagnostics)
    shorts = list(dict.fromkeys(shorts))  # a name given twice is one node
    if use_zoo and files:  # the user's own structures sit among the zoo's
        shorts += [n for n in program.names_of("structure", user_only=True) if n not in shorts]
    if not shorts and files:
        shorts = program.names_of("structure", user_only=True)
    structures, yours, notes = [], set(), []
    listed = set()  # the names in structures: a set, as 2,000 structures made this quadratic
    zoo_names = program.names_of("structure", zoo_only=True)
    for n in shorts:
        found, note = loss_structures(program, n)
        notes += [note] if note else []
        for s in found:
            # The user's: a structure of the user's files, or one an objective of theirs
            # derives (ref(mine)); a zoo structure used by their objective stays the zoo's.
            named = program.kind(s.name) == "structure"
            if (not program.is_zoo(s.name)) if named else not program.is_zoo(n):
                if s.name in zoo_names:  # a shadowing name must not replace the zoo's node
                    s = s.renamed(f"{Path(program.entry(s.name).file).name}:{s.name}")
                yours.add(s.name)
            if s.name not in listed:
                structures.append(s)
                listed.add(s.name)
    if use_zoo:  # the zoo's own definitions, even where a --file shadows a name; first, so
        given = {s.name for s in structures}  # that a merged node reads cCPO=mine
        # the paper's lattice, over the classic atoms, unless --beyond-pairs
        listed = program.names_of("structure", zoo_only=True, beyond_pairs=beyond_pairs)
        structures = [program.structure(n, zoo=True) for n in listed
                      if n not in given] + structures
    if single_model:
        structures = [s for s in structures if s.single_model]
    if reference_only:
        structures = [s for s in structures if s.uses_reference]
    if not structures:
        raise UsageError("no structures left after --single-model/--reference")
    yours = {s.name for s in structures if s.name in yours}  # those left after the filters
    print_notes(notes)
    lat = Lattice.build(structures)
    keep_until_exit(program, structures, lat)  # freed by the process's exit, not one by one
    written = []
    for path in (png, svg):
        if path is not None:
            from logicpo.plots import save_figure
            from logicpo.plots.lattice import draw_lattice

            written.append(str(save_figure(draw_lattice(lat, yours=yours), path)))
    user_nodes = [n for n in lat.nodes if any(s.name in yours for s in lat.members[n])]
    atoms_note = lat.atoms_note()
    if as_json:
        out = lat.to_json()
        out.update(top=lat.top, bottom=lat.bottom, yours=sorted(yours), user_nodes=user_nodes,
                   notes=notes, pictures=written)
        if atoms_note:
            out.update(atoms=list(lat.atoms), atoms_note=atoms_note)
        emit_json(out)
        return
    levels = lat.levels()
    table = Table(title=f"Loss lattice: {_count(len(lat.nodes), 'node')}, "
                        f"{_count(len(lat.edges), 'Hasse edge')} (A -> B: A |= B)",
                  title_justify="left")
    for c in ("level", "node", "core", "entails (directly)"):
        table.add_column(c)
    for node in sorted(lat.nodes, key=lambda n: (levels[n], n)):
        rep = lat.representative(node)
        succ = ", ".join(sorted(lat.graph.successors(node))) or "-"
        mark = " *" if any(s.doc for s in lat.members[node]) else ""
        mark += " (yours)" if node in user_nodes else ""
        table.add_row(str(levels[node]), escape(node + mark), escape(rep.core_text), escape(succ))
    console.print(table)
    console.print("most constrained: " + ", ".join(lat.top)
                  + "; least constrained: " + ", ".join(lat.bottom)
                  + "   (* = from the literature"
                  + ("; (yours) = a structure of your --file" if user_nodes else "") + ")")
    if atoms_note:
        console.print(escape(atoms_note), soft_wrap=True)
    for w in written:
        console.print(f"picture written to {escape(w)}")


def _count(n: int, noun: str) -> str:
    """``1 node``, ``2 nodes``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
