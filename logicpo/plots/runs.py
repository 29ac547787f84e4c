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
