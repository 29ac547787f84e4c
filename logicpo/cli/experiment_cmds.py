"""CLI commands of the experiments area: ``sweep`` (and ``search``).

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
