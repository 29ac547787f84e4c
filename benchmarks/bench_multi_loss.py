"""Compiled losses over more than two responses against hand-written torch forms, same run.

Two measurements, forward plus backward on CPU, each a ratio compiled / hand-written
(goal: at most 1.1x):

1. **Three-response losses** (issue 13): TPO (a gold response), SELM (a response sampled
   from the reference) and the listwise CPO3 (a ranked list of three), built from their
   terms, called with ``logps={atom: tensor}`` as the trainer calls them. The baseline is the
   stable closed form a good engineer writes by hand in plain torch (``F.logsigmoid``,
   ``torch.log(-torch.expm1(x))`` for ``log(1 - e^x)``, ``torch.logaddexp``), with the same
   detached rewards; no logicpo code. Batch 64 and 65,536.
2. **Growth with the number of atoms**: the listwise CPOk (``ok = M(yw)``, ``bad = some loser
   is valid``) for k = 2..8 responses, against the hand-written chain (the first valid
   loser, ``logaddexp(x1, log1mexp(x1) + logaddexp(x2, ...))``, O(k)) and, for scale, against
   summing the ``2^(k-1) - 1`` worlds of ``bad`` with one ``logsumexp`` (what a loss without
   a factorised form costs).

Timing as in ``bench_losses.py`` (its ``paired``: interleaved ABAB rounds, the median of the
per-round ratios; one thread in CPU time of this process).

    python benchmarks/bench_multi_loss.py [--rounds 15] [--batches 64 65536] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time

import torch
import torch.nn.functional as F  # noqa: N812
from bench_losses import paired  # benchmarks/bench_losses.py: the one ABAB timer
from goals import goal_line  # benchmarks/goals.py: the one goal-line format

from logicpo.logic.atoms import ATOMS_REF, ranked_response
from logicpo.logic.objective import Objective, Term
from logicpo.logic.structure import Structure
from logicpo.numbers.api import compile_objective, instantiate

GOAL = 1.1
BETA, TPO_ALPHA, SELM_ALPHA = 0.1, 1.0, 0.001


# ---------------------------------------------------------------- the losses, from their terms
def _structure(name, atoms, ok, bad) -> Structure:
    """Regions from predicates on {atom: bool}; bit i of a world index is atom i."""
    masks = [0, 0]
    for bits in itertools.product((0, 1), repeat=len(atoms)):
        world = dict(zip(atoms, map(bool, bits), strict=True))
        k = sum(b << i for i, b in enumerate(bits))
        for j, region in enumerate((ok, bad)):
            if region(world):
                masks[j] |= 1 << k
    return Structure.from_masks(name, tuple(atoms), *masks)


def cpok(k: int) -> Structure:
    ranked = tuple(f"M({ranked_response(r)})" for r in range(1, k + 1))
    return _structure(f"CPO{k}", ranked, lambda w: w[ranked[0]],
                      lambda w: any(w[a] for a in ranked[1:]))


CPO = cpok(2)
CE_YG = _structure("CE(yg)", ("M(yg)",), lambda w: w["M(yg)"], lambda w: not w["M(yg)"])
DPO = _structure("DPO", ATOMS_REF, lambda w: w["M(yw)"] and w["Ref(yl)"],
                 lambda w: w["M(yl)"] and w["Ref(yw)"])
FLIP_W_YS = _structure("flip(W(ys))", ("M(ys)", "Ref(ys)"), lambda w: w["Ref(ys)"],
                       lambda w: w["M(ys)"])
OBJECTIVES = {
    "TPO": [Term(1.0, "logistic", CPO, (("beta", BETA),)),
            Term(TPO_ALPHA, "logistic", CE_YG, (("beta", 1.0), ("normalize", "length")))],
    "SELM": [Term(1.0, "logistic", DPO, (("beta", BETA),)),
             Term(SELM_ALPHA, "linear", FLIP_W_YS, (("beta", BETA),))],
    "CPO3": [Term(1.0, "logistic", cpok(3), (("beta", BETA),))],
}


def compiled(terms):
    return instantiate(compile_objective("bench", Objective("bench", tuple(terms)), {}))


# ---------------------------------------------------------------- best hand-written forms
# Plain torch: (losses, chosen_rewards, rejected_rewards), inputs in the loss's atom order,
# then the token counts in its response order.


def l1m(x):
    return torch.log(-torch.expm1(x))


def h_tpo(pc, pr, pg, nc, nr, ng):
    losses = -F.logsigmoid(BETA * (pc - pr)) - TPO_ALPHA * pg / ng
    return losses, BETA * pc.detach(), BETA * pr.detach()


def h_selm(pc, pr, rc, rr, ps, rs, nc, nr, ns):
    c, r = BETA * (pc - rc), BETA * (pr - rr)
    losses = -F.logsigmoid(c - r) + SELM_ALPHA * BETA * (ps - rs)
    return losses, c.detach(), r.detach()


def h_cpo3(pc, pr, p2, nc, nr, n2):
    # log P(M(yl) or M(yl2)) = log(e^pr + (1 - e^pr) e^p2): a sum of world weights, finite
    # at sequence log-probs (log1mexp(log1mexp(pr) + log1mexp(p2)) is -inf below about -37)
    bad = torch.logaddexp(pr, l1m(pr) + p2)
    return -F.logsigmoid(BETA * (pc - bad)), BETA * pc.detach(), BETA * pr.detach()


HAND = {"TPO": h_tpo, "SELM": h_selm, "CPO3": h_cpo3}


def h_chain(k: int):
    """CPOk by hand: the first valid loser, one logaddexp per loser after the last."""
    def loss(*args):
        pc, losers = args[0], args[1:k]
        bad = losers[-1]
        for x in reversed(losers[:-1]):
            bad = torch.logaddexp(x, l1m(x) + bad)
        return -F.logsigmoid(BETA * (pc - bad)), BETA * pc.detach(), BETA * losers[0].detach()
    return loss


def h_worlds(k: int):
    """CPOk by enumerating the worlds of bad (some loser valid): one logsumexp over them."""
    worlds = [bits for bits in itertools.product((0, 1), repeat=k - 1) if any(bits)]

    def loss(*args):
        pc, losers = args[0], torch.stack(args[1:k], -1)  # (B, k-1)
        lits = torch.stack((losers, l1m(losers)), -1)  # (B, k-1, 2): true, false
        pick = torch.tensor([[1 - b for b in bits] for bits in worlds])  # (W, k-1)
        weights = lits[:, torch.arange(k - 1), pick].sum(-1)  # (B, W)
        bad = torch.logsumexp(weights, -1)
        return -F.logsigmoid(BETA * (pc - bad)), BETA * pc.detach(), BETA * args[1].detach()
    return loss


# ---------------------------------------------------------------- timing
def named(module):
    """The module as a positional function of its atoms' tensors then its token counts, so
    that ``paired`` can time it: it is called with ``logps=`` and ``lengths=`` by name."""
    atoms, responses = module.atoms, module.responses

    def call(*args):
        out = module(logps=dict(zip(atoms, args, strict=False)),
                     lengths=dict(zip(responses, args[len(atoms):], strict=True)))
        return out.losses, out.chosen_rewards, out.rejected_rewards
    return call


def inputs(module, batch: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    xs = [(-torch.rand(batch, generator=g) * 3 - 0.05).requires_grad_() for _ in module.atoms]
    lengths = [torch.randint(1, 31, (batch,), generator=g).float() for _ in module.responses]
    return xs, lengths


def check_same(name, a, b, xs, lengths) -> None:
    for got, want in zip(a(*xs, *lengths), b(*xs, *lengths), strict=True):
        torch.testing.assert_close(got, want, rtol=2e-5, atol=2e-6, msg=name)


def bench_three(batches, rounds) -> list[dict]:
    rows = []
    for batch in batches:
        for name, terms in OBJECTIVES.items():
            module = compiled(terms)
            xs, lengths = inputs(module, batch)
            fn, hand = named(module), HAND[name]
            check_same(name, fn, hand, xs, lengths)
            ratio, t_comp, t_hand = paired(fn, hand, xs, lengths, rounds, time.process_time)
            rows.append({"loss": name, "batch": batch, "atoms": len(module.atoms),
                         "hand_us": t_hand * 1e6, "compiled_us": t_comp * 1e6,
                         "ratio": ratio})
    return rows


def bench_growth(ks, batch, rounds) -> list[dict]:
    rows = []
    for k in ks:
        start = time.perf_counter()
        module = compiled([Term(1.0, "logistic", cpok(k), (("beta", BETA),))])
        compile_s = time.perf_counter() - start
        xs, lengths = inputs(module, batch, seed=k)
        fn, chain, worlds = named(module), h_chain(k), h_worlds(k)
        check_same(f"CPO{k}", fn, chain, xs, lengths)
        check_same(f"CPO{k} worlds", worlds, chain, xs, lengths)
        ratio, t_comp, t_chain = paired(fn, chain, xs, lengths, rounds, time.process_time)
        w_ratio, t_worlds, _ = paired(worlds, chain, xs, lengths, rounds, time.process_time)
        rows.append({"k": k, "batch": batch, "factorised": module.factorised,
                     "compiled_us": t_comp * 1e6, "chain_us": t_chain * 1e6,
                     "worlds_us": t_worlds * 1e6, "ratio": ratio, "worlds_ratio": w_ratio,
                     "compile_s": compile_s})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 65536])
    parser.add_argument("--growth-batch", type=int, default=65536)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    three = bench_three(args.batches, args.rounds)
    growth = bench_growth(range(2, 9), args.growth_batch, args.rounds)
    load = {"before": load_before, "after": os.getloadavg(), "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps({"three": three, "growth": growth, "load": load}, indent=2))
        return
    print(f"load average {load_before[0]:.2f} before, {load['after'][0]:.2f} after, "
          f"on {load['cpus']} CPUs; median of {args.rounds} interleaved rounds, 1 thread")
    print("\n1. three-response losses, compiled (logps=) vs the best stable hand-written "
          "form, fwd+bwd")
    print(f"{'loss':<6} {'atoms':>5} {'batch':>6} {'hand-written':>13} {'compiled':>12} "
          f"{'ratio':>6}  goal")
    for r in three:
        mark = "ok" if r["ratio"] <= GOAL else "MISSED"
        print(f"{r['loss']:<6} {r['atoms']:>5} {r['batch']:>6} {r['hand_us']:>10.1f} us "
              f"{r['compiled_us']:>9.1f} us {r['ratio']:>6.3f}  <= {GOAL:.2f} {mark}")
    worst = max(three, key=lambda r: r["ratio"])
    missed = [r for r in three if r["ratio"] > GOAL]
    print(goal_line(f"worst compiled / hand-written ({worst['loss']}, batch {worst['batch']}; "
                    f"{len(three) - len(missed)}/{len(three)} within the goal)",
                    worst["ratio"], "<=", GOAL))
    print(f"\n2. listwise CPOk, k responses, batch {args.growth_batch}: compiled vs the "
          "hand-written O(k) chain, and summing the worlds of bad (O(2^k)) for scale")
    print(f"{'k':>2} {'factorised':>10} {'chain':>11} {'compiled':>11} {'ratio':>6}  "
          f"{'goal':<12} {'worlds':>11} {'worlds/chain':>12} {'compile':>8}")
    for r in growth:
        mark = "ok" if r["ratio"] <= GOAL else "MISSED"
        print(f"{r['k']:>2} {str(r['factorised']):>10} {r['chain_us']:>8.1f} us "
              f"{r['compiled_us']:>8.1f} us {r['ratio']:>6.3f}  <= {GOAL:.2f} {mark:<6} "
              f"{r['worlds_us']:>8.1f} us {r['worlds_ratio']:>12.2f} {r['compile_s']:>7.2f}s")
    first, last = growth[0], growth[-1]
    print(f"   compiled time CPO{last['k']} / CPO{first['k']}: "
          f"{last['compiled_us'] / first['compiled_us']:.2f}x for "
          f"{last['k'] - 1}x the losers")
    worst = max(growth, key=lambda r: r["ratio"])
    missed = [r for r in growth if r["ratio"] > GOAL]
    print(goal_line(f"worst compiled CPOk / hand-written chain (k = {worst['k']}; "
                    f"{len(growth) - len(missed)}/{len(growth)} within the goal)",
                    worst["ratio"], "<=", GOAL))


if __name__ == "__main__":
    main()
