"""Benchmark of the built-in trainer on CPU (or CUDA with --device cuda).

Reports, all measured in this run:
- steps/s and tokens/s of ``logicpo.train`` (tiny model, sort task, no SFT, no evaluation)
  with 1 and 2 torch threads and with the default (``--threads 0``:
  :func:`logicpo.training.config.default_threads`), the default's ratio to the fastest
  of the three (goal: at most 1.05, i.e. the default is the fastest setting up to noise);
- the cost of the compiled loss against a hand-written DPO, as ratios: alone on log-probs
  (forward + backward) and inside a full training step (model forward/backward included);
- peak memory (resident set size on CPU, allocated memory on CUDA).

    .venv/bin/python benchmarks/bench_training.py [--steps 60] [--threads 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from goals import goal_line  # benchmarks/goals.py: the one goal-line format

import logicpo
from logicpo.training.config import TrainConfig, default_threads
from logicpo.training.logprobs import collate, encode_pairs, sequence_logprobs
from logicpo.training.loop import train
from logicpo.training.model import ByteTokenizer, build_model
from logicpo.training.tasks import get_task


class HandDPO(torch.nn.Module):
    """The baseline: DPO written by hand, as in TRL (beta = 0.1), with TRL's rewards."""

    def __init__(self, beta: float = 0.1) -> None:
        super().__init__()
        self.beta = beta

    def forward(self, pc, pr, rc, rr, chosen_lengths=None, rejected_lengths=None):
        chosen, rejected = pc - rc, pr - rr  # (B,) each
        losses = -F.logsigmoid(self.beta * (chosen - rejected))  # (B,)
        return losses, self.beta * chosen.detach(), self.beta * rejected.detach()


def _paired(step_a, step_b, repeats: int) -> tuple[float, float, float]:
    """Median times of two steps run alternately (ABAB, so load changes hit both) and the
    median of the per-pair ratios a / b."""
    step_a(), step_b()  # warm-up
    ta, tb = [], []
    for i in range(repeats):
        for step, out in ((step_a, ta), (step_b, tb)) if i % 2 == 0 else ((step_b, tb),
                                                                           (step_a, ta)):
            t = time.perf_counter()
            step()
            out.append(time.perf_counter() - t)
    ratio = statistics.median(a / b for a, b in zip(ta, tb, strict=True))
    return statistics.median(ta), statistics.median(tb), ratio


def loss_alone(loss, batch: int):
    g = torch.Generator().manual_seed(0)
    pc, pr = (-(torch.rand(batch, generator=g) * 30 + 1)).requires_grad_(), -(torch.rand(batch, generator=g) * 30 + 1)
    rc, rr = pc.detach() + 0.1, pr - 0.1

    def step():
        loss(pc, pr, rc, rr)[0].mean().backward()

    return step


def training_step(loss, device: str, batch: int):
    torch.manual_seed(0)
    tok = ByteTokenizer()
    model = build_model("tiny", tok.vocab_size, 64).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    pairs = encode_pairs(get_task("sort").examples("train", batch, seed=0), tok, 64)
    ids, mask = collate(pairs, list(range(batch)), tok.pad_id)
    ids, mask = ids.to(device), mask.to(device)
    with torch.no_grad():
        ref, _ = sequence_logprobs(model, ids, mask)
    rc, rr = ref[:batch], ref[batch:]

    def step():
        logps, _ = sequence_logprobs(model, ids, mask)
        loss(logps[:batch], logps[batch:], rc, rr)[0].mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--thread-rounds", type=int, default=5,
                    help="interleaved runs per thread setting (median reported)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    def run(threads: int):
        with tempfile.TemporaryDirectory() as out:
            cfg = TrainConfig(task="sort", loss="sigmoid", model="tiny", steps=args.steps,
                              batch_size=16, sft_steps=0, eval_every=10**6, eval_generate=0,
                              ckpt_every=10**6, out=out, threads=threads, device=args.device)
            return train(cfg)

    chosen = default_threads()
    settings = {"1": 1, "2": 2, f"default ({chosen})": 0}
    speeds: dict[str, list[float]] = {k: [] for k in settings}
    order = list(settings.items())
    for r in range(args.thread_rounds):  # interleaved, so load changes hit every setting,
        for key, threads in order[r % 3:] + order[:r % 3]:  # and each goes first in turn
            speeds[key].append(run(threads).steps_per_second)
    threads_report = {k: round(statistics.median(v), 2) for k, v in speeds.items()}
    default_key = f"default ({chosen})"
    best = max(threads_report.values())
    default_ratio = round(best / threads_report[default_key], 3)
    torch.set_num_threads(args.threads)
    result = run(args.threads)
    compiled = logicpo.loss("sigmoid")
    hand = HandDPO(0.1)
    alone_c, alone_h, alone_ratio = _paired(loss_alone(compiled, 64), loss_alone(hand, 64), 401)
    step_c, step_h, step_ratio = _paired(training_step(compiled, args.device, 16),
                                         training_step(hand, args.device, 16), 31)
    if args.device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**20
        peak_kind = "CUDA allocated"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        peak_kind = "CPU resident"
    report = {
        "device": args.device, "threads": args.threads, "model": "tiny", "batch_size": 16,
        "steps_per_second": round(result.steps_per_second, 2),
        "tokens_per_second": round(result.tokens_per_second),
        "loss_alone_us": {"compiled": round(alone_c * 1e6, 1), "hand_dpo": round(alone_h * 1e6, 1),
                          "ratio": round(alone_ratio, 3)},
        "train_step_ms": {"compiled": round(step_c * 1e3, 2), "hand_dpo": round(step_h * 1e3, 2),
                          "ratio": round(step_ratio, 3)},
        "peak_memory_mib": round(peak, 1), "peak_memory_kind": peak_kind,
        "steps_per_second_by_threads": threads_report,
        "default_threads": chosen, "fastest_over_default": default_ratio,
        "load_average": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"trainer ({report['device']}, {args.threads} thread(s), tiny model, batch 16): "
          f"{report['steps_per_second']} steps/s, {report['tokens_per_second']} tokens/s")
    print(f"loss alone (fwd+bwd, B=64): compiled sigmoid {report['loss_alone_us']['compiled']} us, "
          f"hand-written DPO {report['loss_alone_us']['hand_dpo']} us, "
          f"ratio {report['loss_alone_us']['ratio']}")
    print(f"training step: compiled {report['train_step_ms']['compiled']} ms, hand-written "
          f"{report['train_step_ms']['hand_dpo']} ms, ratio {report['train_step_ms']['ratio']}")
    print(f"peak memory ({peak_kind}): {report['peak_memory_mib']} MiB")
    print(f"threads (median of {args.thread_rounds} interleaved runs of {args.steps} steps, "
          f"load average {report['load_average']:.2f}): "
          + ", ".join(f"{k}: {v} steps/s" for k, v in threads_report.items()))
    print(goal_line("fastest / default steps/s (the default is the fastest)", default_ratio,
                    "<=", 1.05))
    return 0


if __name__ == "__main__":
    sys.exit(main())
