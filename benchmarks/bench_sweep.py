"""Benchmark of sweep throughput: runs per minute in order, with --jobs 2, and on local Ray.

Reports, all measured in this run with the same runs (tiny model, sort task, short runs):
- runs/minute of a sequential sweep (the baseline), of ``--jobs 2`` (two spawned processes,
  one torch thread each) and of ``--backend ray`` with a local Ray of 2 CPUs, and the
  ratios of the last two to the first;
- Ray's overhead per run: the same sweep of 1-step runs (no SFT: almost nothing but
  bookkeeping) on the warm local Ray and in this process, the difference in wall time
  divided by the number of runs; ``ray.init``, ``ray.shutdown`` and the first Ray sweep
  (whose workers start and import torch) are timed separately, and the timed Ray sweep runs
  on warm workers.

Every backend writes a fresh directory; the per-run metrics are the same in all three (the
tests check that), so only time differs. On a shared machine the numbers are noisy: the
benchmark interleaves nothing (the backends compete for the same cores), run it twice.

    .venv/bin/python benchmarks/bench_sweep.py [--runs 8] [--steps 40] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import torch

from logicpo.experiments.sweep import sweep
from logicpo.training.config import TrainConfig

LOSSES = ["sigmoid", "CPO"]


def _cfg(out: str, steps: int) -> TrainConfig:
    return TrainConfig(task="sort", task_train=128, task_val=16, model="nano", block_size=32,
                       batch_size=8, sft_steps=10, warmup_steps=2, eval_every=steps,
                       eval_generate=8, ckpt_every=steps, threads=1, steps=steps, out=out)


def _timed(**kw) -> float:
    t = time.perf_counter()
    sweep(**kw)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=8, help="runs per sweep (losses x seeds)")
    ap.add_argument("--steps", type=int, default=40, help="steps of each run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    seeds = list(range(max(1, args.runs // len(LOSSES))))
    n = len(seeds) * len(LOSSES)
    root = tempfile.mkdtemp(prefix="bench-sweep-")
    common = dict(specs=LOSSES, seeds=seeds)
    seq = _timed(cfg=_cfg(f"{root}/seq", args.steps), **common)
    jobs2 = _timed(cfg=_cfg(f"{root}/jobs2", args.steps), workers=2, **common)
    import ray

    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}})
    ray_start = time.perf_counter() - t
    short = dict(sft_steps=0, steps=1, eval_generate=1, task_train=8, task_val=2)
    tiny = dict(specs=LOSSES, seeds=seeds)
    try:
        # the first Ray sweep pays for starting its worker processes (each imports torch)
        ray_cold = _timed(cfg=_cfg(f"{root}/short-cold", 1).replace(**short), backend="ray",
                          **tiny)
        ray_time = _timed(cfg=_cfg(f"{root}/ray", args.steps), backend="ray", **common)
        # overhead per run on warm workers: 1-step runs without SFT, on Ray and in process
        ray_short = _timed(cfg=_cfg(f"{root}/short-ray", 1).replace(**short), backend="ray",
                           **tiny)
        local_short = _timed(cfg=_cfg(f"{root}/short-local", 1).replace(**short), **tiny)
    finally:
        t = time.perf_counter()
        ray.shutdown()
        ray_stop = time.perf_counter() - t
    rate = {k: 60 * n / v for k, v in (("sequential", seq), ("jobs2", jobs2), ("ray", ray_time))}
    out = {"runs": n, "steps": args.steps, "cpus": os.cpu_count(),
           "load_average_1min": os.getloadavg()[0],
           "runs_per_minute": {k: round(v, 2) for k, v in rate.items()},
           "ratio_jobs2_to_sequential": round(rate["jobs2"] / rate["sequential"], 3),
           "ratio_ray_to_sequential": round(rate["ray"] / rate["sequential"], 3),
           "ray_overhead_per_run_s": round((ray_short - local_short) / n, 3),
           "ray_first_sweep_of_1_step_runs_s": round(ray_cold, 2),
           "ray_init_s": round(ray_start, 2), "ray_shutdown_s": round(ray_stop, 2)}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"sweep of {n} runs x {args.steps} steps (nano model, sort), {os.cpu_count()} CPUs, "
          f"load {out['load_average_1min']:.2f}:")
    for k, v in out["runs_per_minute"].items():
        print(f"  {k:<11} {v:7.2f} runs/min")
    print(f"  --jobs 2 / sequential: {out['ratio_jobs2_to_sequential']:.2f}x   "
          f"ray / sequential: {out['ratio_ray_to_sequential']:.2f}x")
    print(f"  Ray overhead per run on warm workers (1-step runs, Ray minus in-process): "
          f"{out['ray_overhead_per_run_s']:.3f} s; ray.init {out['ray_init_s']:.1f} s, "
          f"shutdown {out['ray_shutdown_s']:.1f} s; the first Ray sweep ({n} 1-step runs, "
          f"workers starting) {out['ray_first_sweep_of_1_step_runs_s']:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
