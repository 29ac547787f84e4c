"""Compiled losses against hand-written closed forms of the same losses, in the same run.

For DPO, CPO, ORPO, cCPO and unCPO (issue 3's speed target: within 1.1x), time
forward plus backward on CPU at batch 4096 and 65536, and print the ratio
compiled / hand-written. The hand-written versions are TRL-style functions
written from the closed forms of spec section 5; they use the same stable
``log1mexp`` primitive as the generated code, so the ratio measures what the
code generator adds (or saves), not the choice of primitive.

Timing: each round times a block of iterations of both implementations back to back
(in alternating order), in CPU time of this process (``time.process_time``, so other
work on a shared machine counts less). The ratio reported is the median over rounds
of the per-round ratios: a round's two blocks share the machine's conditions, so load
from other processes mostly cancels. The times shown are the per-implementation minima.

    python benchmarks/bench_losses.py [--rounds 15] [--threads 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F  # noqa: N812

import logicpo
from logicpo.numbers.module import log1mexp


# ---------------------------------------------------------------- hand-written baselines
def dpo(pc, pr, rc, rr, beta=0.1):
    losses = -F.logsigmoid(beta * ((pc - rc) - (pr - rr)))
    return losses, beta * (pc - rc).detach(), beta * (pr - rr).detach()


def cpo(pc, pr, rc, rr, beta=0.1):
    losses = -F.logsigmoid(beta * (pc - pr))
    return losses, beta * pc.detach(), beta * pr.detach()


def orpo(pc, pr, rc, rr, beta=1.0):
    log_odds = (pc - log1mexp(pc)) - (pr - log1mexp(pr))
    return -F.logsigmoid(log_odds), beta * pc.detach(), beta * pr.detach()


def ccpo(pc, pr, rc, rr, beta=1.0):
    losses = -F.logsigmoid(pc - pr - log1mexp(pc))
    return losses, beta * pc.detach(), beta * pr.detach()


def uncpo(pc, pr, rc, rr, beta=1.0):
    losses = -log1mexp(pr + log1mexp(pc))  # -log(1 - e^pr + e^(pr+pc))
    return losses, beta * pc.detach(), beta * pr.detach()


CASES = [
    ("DPO", dpo, {"beta": 0.1}),
    ("CPO", cpo, {"beta": 0.1}),
    ("ORPO", orpo, {}),
    ("cCPO", ccpo, {}),
    ("unCPO", uncpo, {}),
]


def _inputs(batch: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [(-torch.rand(batch, generator=g) * 3 - 0.05).requires_grad_() for _ in range(4)]


def _step(fn, xs) -> None:
    losses = fn(*xs)[0]
    losses.mean().backward()
    for x in xs:
        x.grad = None


def _time(fn, xs, iters: int) -> float:
    start = time.process_time()
    for _ in range(iters):
        _step(fn, xs)
    return (time.process_time() - start) / iters


def bench(rounds: int, batches=(4096, 65536)) -> list[dict]:
    rows = []
    for batch in batches:
        xs = _inputs(batch)
        iters = max(3, 200_000 // batch)
        for name, hand, params in CASES:
            compiled = logicpo.loss(name, **params)
            ref = compiled(*xs).losses
            assert torch.allclose(ref, hand(*xs)[0], rtol=1e-5, atol=1e-6), name
            for fn in (hand, compiled):  # warm up
                _time(fn, xs, 3)
            t_hand, t_comp = [], []
            for r in range(rounds):
                if r % 2:
                    t_comp.append(_time(compiled, xs, iters))
                    t_hand.append(_time(hand, xs, iters))
                else:
                    t_hand.append(_time(hand, xs, iters))
                    t_comp.append(_time(compiled, xs, iters))
            ratio = statistics.median(c / h for c, h in zip(t_comp, t_hand, strict=True))
            rows.append({"loss": name, "batch": batch, "hand_us": min(t_hand) * 1e6,
                         "compiled_us": min(t_comp) * 1e6, "ratio": ratio})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = bench(args.rounds)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"forward+backward on CPU, {args.threads} thread(s), median ratio of {args.rounds} paired rounds")
    print(f"{'loss':<7} {'batch':>6} {'hand-written':>13} {'compiled':>10} {'ratio':>6}")
    for r in rows:
        print(f"{r['loss']:<7} {r['batch']:>6} {r['hand_us']:>10.1f} us {r['compiled_us']:>7.1f} us"
              f" {r['ratio']:>6.3f}")
    worst = max(r["ratio"] for r in rows)
    print(f"worst ratio {worst:.3f} (target: within 1.1)")


if __name__ == "__main__":
    main()
