"""Reasoning speed: the bitmask engine against z3, measured in the same run.

1. One entailment query between random formulas over the four atoms.
2. All-pairs comparison of the zoo's structures (both directions per pair).
3. Building the zoo lattice.

Prints median times and the z3 / bitmask ratio. Run: ``python benchmarks/bench_reasoning.py``.
"""

from __future__ import annotations

import itertools
import random
import statistics
import time

import sympy

from logicpo.logic.formulas import ATOMS_REF, SYMBOLS
from logicpo.program import zoo
from logicpo.reasoning import bitmask, solver
from logicpo.reasoning.lattice import Lattice
from logicpo.reasoning.order import compare


def random_formula(rng: random.Random, depth: int = 4):
    if depth == 0 or rng.random() < 0.25:
        return SYMBOLS[rng.choice(ATOMS_REF)]
    op = rng.choice(["not", "and", "or", "xor", "implies"])
    if op == "not":
        return sympy.Not(random_formula(rng, depth - 1))
    a, b = random_formula(rng, depth - 1), random_formula(rng, depth - 1)
    return {"and": sympy.And, "or": sympy.Or, "xor": sympy.Xor,
            "implies": sympy.Implies}[op](a, b)


def timed(fn, repeat: int = 5) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    rng = random.Random(0)
    pairs = [(random_formula(rng), random_formula(rng)) for _ in range(200)]

    def run_bitmask():
        for a, b in pairs:
            bitmask.entails(a, b)

    def run_z3():
        for a, b in pairs:
            solver.entails(a, b)

    tb, tz = timed(run_bitmask), timed(run_z3)
    print("entailment query (200 random formula pairs, 4 atoms), per query:")
    print(f"  bitmask {tb / len(pairs) * 1e6:9.1f} us   z3 {tz / len(pairs) * 1e6:9.1f} us"
          f"   z3/bitmask = {tz / tb:.1f}x")

    z = zoo()
    structures = [z.structure(n) for n in z.names_of("structure")]
    all_pairs = list(itertools.combinations(structures, 2))

    def pairs_bitmask():
        for a, b in all_pairs:
            _ = compare(a, b, engine="bitmask").relation

    def pairs_z3():
        for a, b in all_pairs:
            _ = compare(a, b, engine="z3").relation

    pb, pz = timed(pairs_bitmask, 3), timed(pairs_z3, 3)
    print(f"all-pairs comparison of the zoo ({len(structures)} structures, "
          f"{len(all_pairs)} pairs):")
    print(f"  bitmask {pb * 1e3:9.1f} ms   z3 {pz * 1e3:9.1f} ms   z3/bitmask = {pz / pb:.1f}x")

    tl = timed(lambda: Lattice.build(structures), 5)
    print(f"zoo lattice (bitmask order + networkx transitive reduction): {tl * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
