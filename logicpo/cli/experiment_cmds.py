"""CLI commands of the experiments area: ``sweep`` and ``search``.

torch is imported inside the commands, never at registration. Tables and pictures are
drawn here from the reports the library returns.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click
from rich.markup import escape

from logicpo.cli.common import console, emit_json, json_option, make_table
from logicpo.cli.train_cmds import (
    _build_config,
    _is_main_process,
    _labelled,
    _Progress,
    _setup_logging,
    _split_losses,
    train_options,
)
from logicpo.errors import UsageError

_PARALLEL_HELP = {
    "jobs": "Runs trained at the same time, each in its own process with one torch thread "
            "(local backend), or the most Ray tasks a local Ray runs at once.",
    "backend": "local: this machine (in order, or --jobs N processes). ray: every run is a "
               "Ray task (needs logicpo[ray]); see --address.",
    "address": "With --backend ray: the cluster to join (ray.init(address=...), e.g. auto or "
               "ray://HOST:10001); default: start a local Ray for this command.",
}


def parallel_options(f):
    """--jobs, --backend, --address: how the runs of a sweep or search are spread."""
    f = click.option("--address", default=None, metavar="ADDR", help=_PARALLEL_HELP["address"])(f)
    f = click.option("--backend", type=click.Choice(["local", "ray"]), default="local",
                     show_default=True, help=_PARALLEL_HELP["backend"])(f)
    f = click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
                     help=_PARALLEL_HELP["jobs"])(f)
    return f


def _num(v, digits: int = 3, signed: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _iv(d: dict | None, signed: bool = False) -> str:
    """``mean ± half-width`` of an interval's JSON (the mean alone for one seed)."""
    if not d:
        return "-"
    text = _num(d["mean"], signed=signed)
    if d.get("low") is None:
        return text
    return f"{text} ± {(d['high'] - d['low']) / 2:.3f}"


def loss_table(rows: list[dict], title: str):
    """What each row's loss is: the resolved objective, beta, normalisation, reward."""
    return make_table(title, ["loss", "resolved objective", "beta", "normalize",
                              "reward (rewards/* columns)"],
                      [[escape(r["label"]), escape(r["source"]), f"{r['beta']:g}",
                        r["normalize"], r["reward"]] for r in rows])


def result_table(report: dict, title: str):
    """Means ± t half-widths over seeds, and paired differences against the baseline."""
    base = report["baseline"]
    cols = ["loss", "seeds", "task reward", f"Δ vs {base}", "verdict", "pref. acc.",
            "Δ logp winner", "Δ logp loser", "winner falls"]
    body = []
    for r in report["runs"]:
        m, vs = r["metrics"], r["vs_baseline"].get("task_reward")
        body.append([escape(r["label"]), str(len(r["seeds"])), _iv(m.get("task_reward")),
                     "(baseline)" if r["label"] == base else _iv(vs, signed=True),
                     "" if r["label"] == base else (vs or {}).get("verdict", "-"),
                     _iv(m.get("accuracy")),
                     _iv(m.get("delta_logp_chosen"), signed=True),
                     _iv(m.get("delta_logp_rejected"), signed=True), r["winner_falls"]])
    return make_table(title, cols, body)


def write_sweep_outputs(report: dict) -> dict:
    """``sweep.json`` and ``sweep.png`` of a report, into its directory (atomically)."""
    from logicpo.files import write_atomic
    from logicpo.plots.runs import plot_sweep

    out = Path(report["out"])
    done = [r for r in report["runs"] if r["runs"]]
    if done:
        title = f"{report['task'] or report['data']}, {report['steps']} steps"
        report["plot"] = str(plot_sweep(done, out / "sweep.png", title=title))
    write_atomic(out / "sweep.json", json.dumps(report, indent=2) + "\n")
    return report


def print_sweep(report: dict) -> None:
    where = report["task"] or report["data"]
    seeds = report["seeds"]
    console.print(loss_table(report["runs"], "the losses, as trained"))
    console.print(result_table(report, f"sweep on {where} ({report['steps']} steps, seeds "
                                       f"{', '.join(map(str, seeds))}): mean ± 95% t interval"))
    if len(seeds) < 2:
        console.print("one seed: no interval, so no verdict; give --seeds 3 (or more) to "
                      "tell an effect from noise")
    if report["missing"]:
        console.print(f"not finished: {', '.join(report['missing'])} (rerun the command to "
                      "continue)")
    console.print(f"plot: {report.get('plot', '-')}  table: {Path(report['out']) / 'sweep.json'}")


def register(group: click.Group) -> None:
    """Add this area's commands to the main group."""

    @group.command("sweep")
    @click.option("--losses", default=None, metavar="[LABEL=]SPEC,...",
                  help="Comma-separated loss specs, each optionally labelled LABEL=SPEC "
                       "(commas and '=' inside parentheses belong to the spec).")
    @click.option("--seeds", default=None, metavar="K|S,S,...",
                  help="Train every loss with each of these seeds: a count K (seeds 0..K-1) "
                       "or a list. Default: the one --seed.")
    @click.option("--baseline", default=None, metavar="LABEL",
                  help="The loss the others are compared with, paired by seed (default: "
                       "the first of --losses).")
    @click.option("--report", "report_dir", default=None, metavar="DIR",
                  type=click.Path(file_okay=False, path_type=Path),
                  help="Rebuild the table, sweep.json and sweep.png of the sweep in DIR from "
                       "its finished runs; trains nothing.")
    @parallel_options
    @functools.partial(train_options, exclude=("resume",))
    @json_option
    @click.pass_context
    def sweep_cmd(ctx, losses, seeds, baseline, report_dir, jobs, backend, address, as_json,
                  no_progress, verbose, **kw):
        """Every loss with every seed, same model and data; intervals and a plot.

        \b
        logicpo sweep --task sort --losses sigmoid,CPO --seeds 3 --out runs/sweep
        logicpo sweep --task sort --losses "dpo=sigmoid,mine=my.lpo:mine" --seeds 5 --jobs 2 --out runs/s
        logicpo sweep --report runs/sweep
        Writes OUT/manifest.json, OUT/<label>/seed<S>/ per run, OUT/sweep.json and OUT/sweep.png.
        Rerunning the same command continues the sweep: finished runs are skipped,
        interrupted ones resumed. Every row shows its loss's mean over seeds with a 95%
        Student-t interval and, against --baseline, the difference paired by seed.
        """
        from logicpo.experiments.sweep import parse_seeds, report, sweep
        from logicpo.training import run_dir

        if report_dir is not None:
            if losses is not None:
                raise UsageError("--report rebuilds a finished sweep's table: give it alone "
                                 "(with --json if you like), not with --losses")
            with run_dir.RunLock(report_dir):
                out = write_sweep_outputs(report(report_dir))
            emit_json(out) if as_json else print_sweep(out)
            return
        if losses is None:
            raise UsageError("give --losses A,B,... (or --report DIR)")
        if seeds is not None and ctx.get_parameter_source("seed") == \
                click.core.ParameterSource.COMMANDLINE:
            raise UsageError("give --seed S (one run per loss) or --seeds (several), not both")
        cfg = _build_config(ctx, kw)
        pairs = [_labelled(part) for part in _split_losses(losses)]
        labels, specs = [label for label, _ in pairs], [spec for _, spec in pairs]
        seed_list = parse_seeds(seeds) if seeds is not None else [cfg.seed]
        _setup_logging(verbose)
        with _Progress(not (no_progress or as_json)) as progress:
            out = sweep(cfg, specs, labels=labels, seeds=seed_list, baseline=baseline,
                        workers=jobs, backend=backend, address=address, on_event=progress,
                        finish=write_sweep_outputs)
        if not _is_main_process():
            return
        emit_json(out) if as_json else print_sweep(out)

    _register_search(group)


def leaderboard_table(board: dict, limit: int = 20):
    """The candidates that were run, best first (rung 1 before rung 0)."""
    ran = [r for r in board["candidates"] if r["rung"] is not None]
    rows = [[str(i), escape(r["name"] + "".join(f" = {k}" for k in r.get("same_loss_as", ()))),
             r["relation"] or "-", str(r["rung"]),
             _num(r.get("task_reward")), _iv(r["difference"], signed=True), r["verdict"],
             _iv(r.get("confirmation"), signed=True) + (
                 f" {r['confirmation']['verdict']}" if r.get("confirmation") else "")]
            for i, r in enumerate(ran[:limit], 1)]
    not_run = len(board["candidates"]) - len(ran)
    return make_table(
        f"search from {board['start']} on {board['task'] or board['data']}: "
        f"{board['runs_used']} runs ({board['budget']} budget); {len(ran)} candidates run"
        + (f", {not_run} not run" if not_run else ""),
        ["#", "candidate (start_world_state)", "vs start", "rung", "task reward",
         "Δ vs start (95% t)", "verdict", "fresh seeds (--confirm)"], rows)


def print_search(board: dict) -> None:
    console.print(leaderboard_table(board))
    start = board["start_task_reward"]
    console.print(f"start {board['start']}: task reward {_num(start)} (rung 1, mean over "
                  f"seeds {', '.join(map(str, board['seeds']))})")
    for note in board["notes"]:
        console.print(f"note: {escape(note)}")
    console.print(f"[bold]{escape(board['conclusion'])}[/]")
    # plain lines, so that they can be pasted into a .lpo file as they are
    console.print("# The candidates in the DSL, best first (paste into a .lpo file):")
    for r in board["candidates"]:
        if r["rung"] is not None:
            console.print(escape(r["definition"]), soft_wrap=True)
    console.print(f"picture: {board.get('plot', '-')}  leaderboard: "
                  f"{Path(board['out']) / 'search.json'}")


def _draw_search(board: dict) -> None:
    from logicpo.files import write_atomic
    from logicpo.plots.search import draw_search

    out = Path(board["out"])
    board["plot"] = str(draw_search(board, out / "search.png"))
    write_atomic(out / "search.json", json.dumps(board, indent=2) + "\n")


def _register_search(group: click.Group) -> None:
    @group.command("search")
    @click.option("--start", default="DPO", show_default=True, metavar="SPEC",
                  help="The start loss: a structure (DPO, CPO, FILE.lpo:NAME; trained as "
                       "logistic(S, beta=0.1)) or an objective of one term (sigmoid, simpo).")
    @click.option("--beta", type=float, default=None,
                  help="The beta of every candidate (default: the start's; 0.1 for a "
                       "structure).")
    @click.option("--budget", default="40", show_default=True, metavar="N|Mm",
                  help="Training runs to spend (40), or wall-clock minutes (30m).")
    @click.option("--seeds", default="3", show_default=True, metavar="K|S,S,...",
                  help="Seeds of the rung-1 runs (the first also seeds rung 0).")
    @click.option("--short-steps", type=click.IntRange(min=1), default=None,
                  help="Steps of the rung-0 runs (default: --steps / 4).")
    @click.option("--eta", type=click.IntRange(min=2), default=3, show_default=True,
                  help="Successive halving keeps the best 1/eta of rung 0 for rung 1.")
    @click.option("--confirm", type=click.IntRange(min=0), default=0, show_default=True,
                  help="Train the N best rung-1 candidates and the start again on fresh "
                       "seeds (as many as --seeds, after them), beyond the budget: the only "
                       "verdict not biased by choosing on the same seeds.")
    @click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True,
                  help="Rounds: the start's neighbours, then the neighbours of each "
                       "round's best.")
    @parallel_options
    @functools.partial(train_options, exclude=("resume", "loss"))
    @json_option
    @click.pass_context
    def search_cmd(ctx, start, beta, budget, seeds, short_steps, eta, confirm, rounds, jobs,
                   backend,
                   address, as_json, no_progress, verbose, **kw):
        """Look for a loss one or a few world-edits from START that trains better.

        \b
        logicpo search --task sort --budget 40 --out runs/search-dpo
        logicpo search --task sort --start CPO --budget 30m --jobs 2 --out runs/search-cpo
        Every candidate is f(N, params) for a neighbour N of the start's structure, with
        the start's f and parameters. Rung 0 trains each once, short; the best 1/eta get
        every seed at full length, compared with the start paired by seed (95% Student-t
        interval of the differences). --seeds are the training seeds; --seed orders the
        candidates (a seeded shuffle decides which fit a small budget). Writes
        OUT/search.json (leaderboard, DSL of every candidate), OUT/search.png,
        OUT/losses/*.lpo and OUT/runs/. Rerunning the same command continues the search.
        """
        from logicpo.experiments.search import Budget, search
        from logicpo.experiments.sweep import parse_seeds

        cfg = _build_config(ctx, kw)
        _setup_logging(verbose)
        with _Progress(not (no_progress or as_json)) as progress:
            board = search(cfg, start=start, beta=beta, budget=Budget.parse(budget),
                           seeds=parse_seeds(seeds), short_steps=short_steps, eta=eta,
                           rounds=rounds, confirm=confirm, workers=jobs, backend=backend, address=address,
                           on_event=progress, on_progress=_draw_search)
        emit_json(board) if as_json else print_search(board)
