"""Training curves of one or more runs, overlaid: loss, margins, and the winner's and
loser's log-probs (the likelihood-displacement picture), plus the task reward.

>>> import json, tempfile, pathlib
>>> run = pathlib.Path(tempfile.mkdtemp())
>>> recs = [{"step": s, "loss": 0.7 - s / 10, "rewards/margins": s / 10,
...          "eval_loss": 0.7, "eval_logps/chosen": -5.0 - s, "eval_logps/rejected": -9.0 - 2 * s,
...          "eval_rewards/accuracies": 0.5} for s in range(3)]
>>> _ = (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\\n" for r in recs))
>>> plot_runs([run], run / "run.png").name
'run.png'
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

from logicpo.errors import UsageError
from logicpo.files import parse_json, read_text
from logicpo.plots import save_figure, subplots


def read_metrics(run: str | Path) -> list[dict]:
    """The records of ``run/metrics.jsonl`` (``run`` may also name the file itself)."""
    path = Path(run)
    path = path / "metrics.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise UsageError(f"no metrics at {path}", hint="pass the --out directory of a run")
    records = []
    for n, line in enumerate(read_text(path, "metrics file").splitlines(), start=1):
        if line.strip():
            try:
                records.append(parse_json(line))
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}:{n}: not a JSON line ({exc.msg})") from None
    return records


def _series(records: list[dict], key: str, smooth: float = 0.0):
    xs, ys, ema = [], [], None
    for r in records:
        if key in r and "step" in r and r[key] is not None:
            ema = r[key] if ema is None else smooth * ema + (1 - smooth) * r[key]
            xs.append(r["step"])
            ys.append(ema)
    return xs, ys


def plot_runs(runs: list[str | Path], out: str | Path, labels: list[str] | None = None,
              title: str | None = None) -> Path:
    """Draw the runs' curves into one PNG at ``out``; return its path."""
    if not runs:
        raise UsageError("plot-run needs at least one run directory")
    labels = list(labels) if labels else [_label(r) for r in runs]
    if len(labels) != len(runs):
        raise UsageError(f"{len(labels)} labels for {len(runs)} runs")
    data = [read_metrics(r) for r in runs]
    has_task = any("eval_task_reward" in rec for recs in data for rec in recs)
    fig, axes = subplots(2, 2, figsize=(9, 6.2), dpi=90)
    (ax_loss, ax_margin), (ax_logp, ax_reward) = axes
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (recs, label) in enumerate(zip(data, labels, strict=True)):
        c = colors[i % len(colors)]
        ax_loss.plot(*_series(recs, "loss", 0.8), color=c, label=label)
        ax_margin.plot(*_series(recs, "rewards/margins", 0.8), color=c)
        ax_logp.plot(*_series(recs, "eval_logps/chosen"), color=c, ls="-", marker=".")
        ax_logp.plot(*_series(recs, "eval_logps/rejected"), color=c, ls="--", marker=".")
        key = "eval_task_reward" if has_task else "eval_rewards/accuracies"
        ax_reward.plot(*_series(recs, key), color=c, marker=".")
    ax_loss.set_title("training loss (smoothed)")
    ax_margin.set_title("reward margin (chosen - rejected)")
    ax_logp.set_title("validation log-prob: winner (solid), loser (dashed)")
    ax_reward.set_title("task reward of greedy answers" if has_task
                        else "validation preference accuracy")
    for ax in axes.flat:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    ax_loss.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out, dpi=None, tight=False)


def _label(run: str | Path) -> str:
    path = Path(run)
    if not (path / "summary.json").is_file():
        return path.name
    try:
        summary = json.loads(read_text(path / "summary.json", "run summary"))
    except json.JSONDecodeError:
        return path.name  # an interrupted run's summary: label the curve by its directory
    loss = summary.get("loss") if isinstance(summary, dict) else None
    return str(loss or path.name)


def plot_sweep(losses: list[dict], out: str | Path, title: str | None = None) -> Path:
    """Draw :func:`sweep_figure` into a PNG at ``out``; return its path."""
    return save_figure(sweep_figure(losses, title), out, dpi=None, tight=False)


def sweep_figure(losses: list[dict], title: str | None = None):
    """A sweep's curves: per loss (one colour) a thin line per seed and a thick mean.

    ``losses``: ``{"label", "reward", "runs": [run directories, one per seed]}``. The task
    reward (or preference accuracy) and the winner's and loser's validation log-probs are
    comparable across losses and share a panel; reward margins are drawn in one panel per
    reward definition, since margins defined differently (with or without the reference,
    summed or per token, another beta) are different quantities.
    """
    if not losses:
        raise UsageError("a sweep plot needs at least one loss")
    data = {x["label"]: [read_metrics(r) for r in x["runs"]] for x in losses}
    has_task = any("eval_task_reward" in rec for runs in data.values() for recs in runs
                   for rec in recs)
    key = "eval_task_reward" if has_task else "eval_rewards/accuracies"
    definitions = list(dict.fromkeys(x["reward"] for x in losses))
    panels = [(key, "task reward of greedy answers" if has_task
               else "validation preference accuracy", None),
              ("eval_logps/chosen", "validation log-prob of the winner", None),
              ("eval_logps/rejected", "validation log-prob of the loser", None),
              *(("eval_rewards/margins", f"reward margin, reward = {d}", d)
                for d in definitions)]
    cols = 2
    rows = (len(panels) + cols - 1) // cols
    fig, axes = subplots(rows, cols, figsize=(9.5, 3.1 * rows + 0.4), dpi=90,
                         squeeze=False)
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (k, panel_title, definition) in zip(axes.flat, panels, strict=False):
        for i, x in enumerate(losses):
            if definition is not None and x["reward"] != definition:
                continue
            c = colors[i % len(colors)]
            curves = [_series(recs, k) for recs in data[x["label"]]]
            for xs, ys in curves:
                ax.plot(xs, ys, color=c, lw=0.7, alpha=0.45)
            mean_x, mean_y = _mean_curve(curves)
            ax.plot(mean_x, mean_y, color=c, lw=2.0, marker=".",
                    label=f"{x['label']} ({len(curves)} seed{'s' * (len(curves) != 1)})")
        ax.set_title(panel_title, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if definition is not None or k == key:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title + " (thin: one seed, thick: mean)")
    fig.tight_layout()
    return fig


def _mean_curve(curves: list[tuple[list, list]]) -> tuple[list, list]:
    """The mean over the curves at the steps all of them have."""
    common = set.intersection(*(set(xs) for xs, _ in curves)) if curves else set()
    steps = sorted(common)
    maps = [dict(zip(xs, ys, strict=True)) for xs, ys in curves]
    return steps, [sum(m[s] for m in maps) / len(maps) for s in steps]
