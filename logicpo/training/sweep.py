"""One run per loss, same seed, model and data: which losses train, and where the mass goes.

>>> run_name("0.8*sigmoid + 0.2*bco_pair")
'0.8_sigmoid_0.2_bco_pair'
"""

from __future__ import annotations

import re
from pathlib import Path

from logicpo.errors import UsageError
from logicpo.training.config import TrainConfig
from logicpo.training.loop import Event, TrainResult, train

COLUMNS = ["loss", "task reward", "exact match", "pref. accuracy",
           "Δ logp winner", "Δ logp loser", "winner"]


def run_name(spec: str) -> str:
    """A directory name for a loss spec (files keep their stem and the objective's name)."""
    name = re.sub(r"[^A-Za-z0-9.]+", "_", spec.replace(".lpo:", "_")).strip("_.")
    return name or "loss"


def sweep(cfg: TrainConfig, losses: list[str], on_event: Event | None = None,
          labels: list[str] | None = None) -> list[TrainResult]:
    """Train ``cfg`` once per loss, into ``cfg.out/<run_name(label or loss)>``."""
    if not losses:
        raise UsageError("--losses needs at least one loss")
    labels = list(labels) if labels else list(losses)
    names = [run_name(label) for label in labels]
    if len(set(names)) != len(names):
        raise UsageError("two losses of the sweep map to the same run directory",
                         hint="give them labels: --losses a=SPEC,b=SPEC")
    results = []
    for spec, label, name in zip(losses, labels, names, strict=True):
        run_cfg = cfg.replace(loss=spec, out=str(Path(cfg.out) / name))
        if on_event:
            on_event("run", {"loss": label, "spec": spec, "out": run_cfg.out})
        result = train(run_cfg, on_event)
        result.extra["label"] = label
        results.append(result)
    return results


def comparison(results: list[TrainResult]) -> list[dict]:
    """One row per run: final task reward and accuracy, change of winner and loser log-probs."""
    rows = []
    for r in results:
        first, final = r.first_eval, r.final_eval
        d_win = final["eval_logps/chosen"] - first["eval_logps/chosen"]
        d_lose = final["eval_logps/rejected"] - first["eval_logps/rejected"]
        rows.append({
            "loss": r.extra.get("label", r.extra.get("loss")), "spec": r.extra.get("loss"),
            "out": r.out,
            "task_reward": final.get("eval_task_reward"),
            "exact_match": final.get("eval_exact_match"),
            "accuracy": final["eval_rewards/accuracies"],
            "delta_logp_chosen": d_win, "delta_logp_rejected": d_lose,
            "winner": "falls" if d_win < 0 else "rises",
        })
    return rows
