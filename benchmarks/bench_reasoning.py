"""Reasoning speed at scale (issue 14, goal 1), each measured against a baseline in the same run.

1. Structures and lattice: ``n`` random 4-atom structures given by their regions are built
   (``Structure.from_masks``) and their lattice computed (``Lattice.build``: order and Hasse
   diagram). The baseline is what a good engineer writes by hand: numpy bit-masks for all
   pairs, then networkx's ``transitive_reduction``. Two families: ``sparse`` (every world in
   ``ok`` and in ``bad`` with probability 1/2, few entailments) and ``dense`` (``ok`` small,
   ``bad`` large, hundreds of thousands of entailments). Goals: logicpo at least 3x faster
   than the baseline, under 1 s, peak memory (tracemalloc, a separate run) under 200 MiB.
2. Growth: time and peak memory of logicpo's build + lattice for n up to 100,000.
3. The whole command ``logicpo lattice --file F --json`` on 2,000 structures (in files of
   200, as a .lpo file holds at most 64 KiB) against the same command on 10 (median of 3 runs each; goal: at most 3x).
4. Structure-level entailment (``order.entails_bitmask``, a Verdict with a witness world)
   against the raw mask test (``bitmask.structure_entails_masks`` on ints) on zoo pairs
   (goal: at most 3x); z3 on the same pairs for reference.
5. Formula-level queries, bitmask against z3 (as before).

Every goal line reads ``<what>: <value>  goal <op> <target>  MET`` (or ``NOT MET``). Times are
wall-clock on a shared machine: the load average is printed with them.
Run: ``python benchmarks/bench_reasoning.py`` (``--quick`` for a smaller run).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from goals import goal_line, peak_mib, timed  # benchmarks/goals.py: the one goal-line format

ROOT = Path(__file__).resolve().parents[1]
ATOMS = ("M(yw)", "M(yl)", "Ref(yw)", "Ref(yl)")



# ---------------------------------------------------------------- random structures

def random_regions(n: int, family: str, seed: int = 0) -> list[tuple[int, int]]:
    """``n`` pairs ``(ok, bad)`` of 16-bit masks over the four atoms."""
    rng = random.Random(seed)
    p_ok, p_bad = {"sparse": (0.5, 0.5), "dense": (0.15, 0.85)}[family]

    def region(p):
        return sum(1 << k for k in range(16) if rng.random() < p)

    return [(region(p_ok), region(p_bad)) for _ in range(n)]


def build_logicpo(regions):
    from logicpo.logic.structure import Structure
    from logicpo.reasoning.lattice import Lattice

    structures = [Structure.from_masks(f"s{i}", ATOMS, ok, bad)
                  for i, (ok, bad) in enumerate(regions)]
    return Lattice.build(structures)


def build_naive(regions):
    """numpy all-pairs entailment between the distinct region pairs, networkx's reduction."""
    import networkx as nx
    import numpy as np

    classes = list(dict.fromkeys(regions))
    ok = np.array([c[0] for c in classes], dtype=np.uint32)
    bad = np.array([c[1] for c in classes], dtype=np.uint32)
    order = nx.DiGraph()
    order.add_nodes_from(range(len(classes)))
    step = 1024
    for lo in range(0, len(classes), step):
        o, b = ok[lo:lo + step, None], bad[lo:lo + step, None]
        broken = (o & ~ok[None, :]) | (bad[None, :] & ~b)
        ii, jj = np.nonzero(broken == 0)
        ii += lo
        keep = ii != jj
        order.add_edges_from(zip(ii[keep].tolist(), jj[keep].tolist(), strict=True))
    return nx.transitive_reduction(order)



def bench_lattice(n: int, families, repeat: int) -> None:
    print(f"\n1. {n:,} random 4-atom structures from their regions: build + lattice "
          "(order and Hasse diagram)")
    for family in families:
        regions = random_regions(n, family)
        lat = build_logicpo(regions)
        naive = build_naive(regions)
        assert len(lat.nodes) == naive.number_of_nodes(), "the two lattices differ"
        assert len(lat.edges) == naive.number_of_edges(), "the two lattices differ"
        ours, naive = [], []
        for _ in range(repeat):  # interleaved, so that a change of load hits both alike
            ours.append(timed(lambda regions=regions: build_logicpo(regions), 1))
            naive.append(timed(lambda regions=regions: build_naive(regions), 1))
        t_ours, t_naive = statistics.median(ours), statistics.median(naive)
        ratio = statistics.median(n / o for n, o in zip(naive, ours, strict=True))
        mem = peak_mib(lambda regions=regions: build_logicpo(regions))
        print(f"  {family}: {len(lat.nodes):,} nodes, {len(lat.edges):,} Hasse edges; "
              f"logicpo {t_ours:.3f} s, numpy+networkx {t_naive:.3f} s (medians of {repeat} "
              "interleaved runs)")
        print("  " + goal_line(f"{family} numpy+networkx / logicpo (median of the run ratios)",
                               ratio, ">=", 3))
        print("  " + goal_line(f"{family} logicpo build + lattice time", t_ours, "<", 1, " s"))
        print("  " + goal_line(f"{family} logicpo peak memory", mem, "<", 200, " MiB"))


def bench_growth(sizes) -> None:
    print("\n2. growth of logicpo's build + lattice with n (sparse and dense), one run each")
    print(f"  {'n':>8} {'sparse s':>9} {'MiB':>7} {'dense s':>9} {'MiB':>7}")
    for n in sizes:
        row = [f"{n:>10,}"]
        for family in ("sparse", "dense"):
            regions = random_regions(n, family, seed=1)
            t = timed(lambda regions=regions: build_logicpo(regions), 1)
            mem = peak_mib(lambda regions=regions: build_logicpo(regions))
            row += [f"{t:9.3f}", f"{mem:7.1f}"]
        print(" ".join(row))


# ---------------------------------------------------------------- the whole command

def _formula_text(m: int) -> str:
    from logicpo.logic.formulas import to_dsl
    from logicpo.logic.truth import formula_of

    return to_dsl(formula_of(m, ATOMS))


def lattice_files(folder: Path, n: int, seed: int = 2, per_file: int = 200,
                  short: bool = False) -> list[Path]:
    """``n`` structures given by their regions, ``per_file`` to a file (a .lpo file holds at
    most 64 KiB). Each region is a uniformly random set of worlds written as its smallest
    formula (about 70 tokens), or with ``short`` a random formula of two or three
    connectives, as people write them (about 12 tokens)."""
    if short:
        rng = random.Random(seed)

        def small(depth: int = 2) -> str:
            if depth == 0 or rng.random() < 0.3:
                return ("~" if rng.random() < 0.3 else "") + rng.choice(ATOMS)
            op = rng.choice([" & ", " | ", " -> ", " xor "])
            return f"({small(depth - 1)}{op}{small(depth - 1)})"

        lines = [f"structure s{i} {{ ok: {small()}  bad: {small()} }}" for i in range(n)]
    else:
        regions = random_regions(n, "sparse", seed)
        cache: dict[int, str] = {}
        lines = []
        for i, (ok, bad) in enumerate(regions):
            for m in (ok, bad):
                if m not in cache:
                    cache[m] = _formula_text(m)
            lines.append(f"structure s{i} {{ ok: {cache[ok]}  bad: {cache[bad]} }}")
    paths = []
    for k in range(0, n, per_file):
        paths.append(folder / f"part{k // per_file}.lpo")
        paths[-1].write_text("\n".join(lines[k:k + per_file]) + "\n", encoding="utf-8")
    return paths


def _command_time(args, repeat: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "logicpo", *args], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _file_args(paths) -> list[str]:
    return [arg for p in paths for arg in ("--file", str(p))]


def bench_command(big: int, repeat: int) -> None:
    print(f"\n3. the whole command 'logicpo lattice --file F --json', {big:,} structures vs 10 "
          f"(median of {repeat} runs each)")
    for short in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "small").mkdir()
            (Path(tmp) / "big").mkdir()
            small = lattice_files(Path(tmp) / "small", 10, short=short)
            large = lattice_files(Path(tmp) / "big", big, short=short)
            t_small = _command_time(["lattice", *_file_args(small), "--json"], repeat)
            t_big = _command_time(["lattice", *_file_args(large), "--json"], repeat)
        what = ("short hand-written-size formulas (not the issue's workload)" if short else
                "uniformly random regions, smallest formulas")
        print(f"  {what}: 10 structures {t_small:.2f} s, {big:,} structures {t_big:.2f} s")
        if short:
            print(f"    ratio {t_big / t_small:.2f}x (for scale: the command grows with the text)")
        else:
            print("  " + goal_line(f"lattice --file --json, {big:,} / 10 random structures",
                                   t_big / t_small, "<=", 3))


# ---------------------------------------------------------------- single queries

def bench_entailment() -> None:
    from logicpo.program import zoo
    from logicpo.reasoning.bitmask import structure_entails_masks
    from logicpo.reasoning.order import common_atoms, entails_bitmask, entails_z3

    z = zoo()
    structures = [z.structure(n) for n in z.names_of("structure")]
    pairs = list(itertools.permutations(structures, 2))
    atoms = [common_atoms(a, b) for a, b in pairs]
    for (a, b), at in zip(pairs, atoms, strict=True):  # warm any cache: steady state is measured
        entails_bitmask(a, b, at)
    raw = [(*a.masks(at), *b.masks(at)) for (a, b), at in zip(pairs, atoms, strict=True)]

    def run_raw():
        for ok1, bad1, ok2, bad2 in raw:
            structure_entails_masks(ok1, bad1, ok2, bad2)

    def run_structure():
        for (a, b), at in zip(pairs, atoms, strict=True):
            entails_bitmask(a, b, at)

    t_raw, t_struct = timed(run_raw, 7), timed(run_structure, 7)
    sample = pairs[:: max(1, len(pairs) // 100)]
    t_z3 = timed(lambda: [entails_z3(a, b, common_atoms(a, b)) for a, b in sample], 1)
    print(f"\n4. entailment between zoo structures ({len(pairs):,} ordered pairs, "
          "single-model and reference mixed), per query")
    print(f"  raw mask test {t_raw / len(pairs) * 1e6:.2f} us, structure-level bitmask "
          f"{t_struct / len(pairs) * 1e6:.2f} us, z3 {t_z3 / len(sample) * 1e3:.2f} ms")
    print("  " + goal_line("structure-level bitmask / raw mask test", t_struct / t_raw, "<=", 3))


def bench_formulas() -> None:
    import sympy

    from logicpo.logic.formulas import SYMBOLS
    from logicpo.reasoning import bitmask, solver

    rng = random.Random(0)

    def random_formula(depth: int = 4):
        if depth == 0 or rng.random() < 0.25:
            return SYMBOLS[rng.choice(ATOMS)]
        op = rng.choice(["not", "and", "or", "xor", "implies"])
        if op == "not":
            return sympy.Not(random_formula(depth - 1))
        a, b = random_formula(depth - 1), random_formula(depth - 1)
        return {"and": sympy.And, "or": sympy.Or, "xor": sympy.Xor,
                "implies": sympy.Implies}[op](a, b)

    pairs = [(random_formula(), random_formula()) for _ in range(200)]
    tb = timed(lambda: [bitmask.entails(a, b) for a, b in pairs], 5)
    tz = timed(lambda: [solver.entails(a, b) for a, b in pairs], 3)
    print("\n5. formula entailment (200 random formula pairs, 4 atoms), per query: "
          f"bitmask {tb / len(pairs) * 1e6:.1f} us, z3 {tz / len(pairs) * 1e6:.1f} us "
          f"(z3 / bitmask = {tz / tb:.1f}x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="structures in part 1")
    parser.add_argument("--repeat", type=int, default=7, help="runs per timing in part 1")
    parser.add_argument("--growth", type=int, nargs="*",
                        default=[1000, 5000, 20000, 100000], help="sizes in part 2")
    parser.add_argument("--command-n", type=int, default=2000, help="structures in part 3")
    parser.add_argument("--quick", action="store_true", help="n = 1000, growth to 5,000")
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeat, args.growth, args.command_n = 1000, 1, [1000, 5000], 500
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} (1 min) on {os.cpu_count()} CPUs at the start; "
          "times are wall-clock medians and move with the load")
    bench_lattice(args.n, ("sparse", "dense"), args.repeat)
    if args.growth:
        bench_growth(args.growth)
    bench_command(args.command_n, 3)
    bench_entailment()
    bench_formulas()
    print(f"\nload average {os.getloadavg()[0]:.2f} (1 min) at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
