"""One run per loss, same seed, model and data: which losses train, and where the mass goes.

>>> run_name("0.8*sigmoid + 0.2*bco_pair")
'0.8_sigmoid_0.2_bco_pair'
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path

from logicpo.errors import UsageError
from logicpo.training import distributed, run_dir
from logicpo.training.config import TrainConfig
from logicpo.training.loop import Event, TrainResult, train

#: What a sweep writes into its directory besides one run directory per loss.
SWEEP_FILES = ("sweep.json", "sweep.png")

COLUMNS = ["loss", "task reward", "exact match", "pref. accuracy",
           "Δ logp winner", "Δ logp loser", "winner"]


def run_name(spec: str) -> str:
    """A directory name for a loss spec (files keep their stem and the objective's name)."""
    name = re.sub(r"[^A-Za-z0-9.]+", "_", spec.replace(".lpo:", "_")).strip("_.")
    return name or "loss"


def sweep(cfg: TrainConfig, losses: list[str], on_event: Event | None = None,
          labels: list[str] | None = None,
          finish: Callable[[list[TrainResult]], None] | None = None) -> list[TrainResult]:
    """Train ``cfg`` once per loss, into ``cfg.out/<run_name(label or loss)>``.

    A sweep directory that holds a previous sweep (or any of its runs) is refused before
    anything trains, unless ``cfg.overwrite``, and so is a loss that does not compile; the
    directory is locked while the sweep runs,
    and ``finish(results)`` (the CLI's table and picture) runs under that lock."""
    if cfg.resume:
        raise UsageError("sweep does not resume; resume one run with `logicpo train --resume`")
    if not losses:
        raise UsageError("--losses needs at least one loss")
    labels = list(labels) if labels else list(losses)
    names = [run_name(label) for label in labels]
    if len(set(names)) != len(names):
        raise UsageError("two losses of the sweep map to the same run directory",
                         hint="give them labels: --losses a=SPEC,b=SPEC")
    cfg.validate()
    run_cfgs = [cfg.replace(loss=spec, out=str(Path(cfg.out) / name))
                for spec, name in zip(losses, names, strict=True)]
    for out, extra in ((cfg.out, SWEEP_FILES), *((c.out, ()) for c in run_cfgs)):
        run_dir.check_out(out, resume=False, overwrite=cfg.overwrite, extra=extra,
                          resumable=False)
    for run_cfg in run_cfgs:  # a mistyped last loss stops the sweep before the first run
        run_dir.resolve_loss(run_cfg.loss, run_cfg.loss_params)
    results = []
    main = distributed.is_main_process()  # only rank 0 writes files, as in train()
    with run_dir.RunLock(cfg.out) if main else contextlib.nullcontext():
        if cfg.overwrite and main:
            run_dir.clear_run(cfg.out, extra=SWEEP_FILES)
        for run_cfg, label in zip(run_cfgs, labels, strict=True):
            if on_event:
                on_event("run", {"loss": label, "spec": run_cfg.loss, "out": run_cfg.out})
            result = train(run_cfg, on_event)
            result.extra["label"] = label
            results.append(result)
        if finish is not None and main:
            finish(results)
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
