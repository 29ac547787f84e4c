"""Decompiler and census timings, each against a baseline measured in the same run.

Decompile: for every non-degenerate zoo structure, its closed form ``-logsigmoid(rho)`` is
decompiled (parse, recognise f, world basis, regions, round trip at 5 points); the baseline
is compiling the same structure to its closed form (``closed_form``), the opposite direction.
The TRL spellings of DPO, IPO, SLiC, SimPO and ORPO are timed too. Times are CPU time of
this process (``time.process_time``), minimum over rounds; the first, cold call (zoo
loading, SymPy caches) is reported separately.

Census: N = 1, 2, 3 and 4 each run in a fresh process (so ``ru_maxrss`` is that run's peak
memory). The counting method (``logicpo.reasoning.census``) is timed in the same process
against the enumeration (best of 5, caches cleared), as the ratio enumerate / count. The baseline is the naive method: evaluate every pair's ratio exactly at random
rational points and count distinct values in a hash set, run in full for N <= 3; for
N = 4 its time and memory are extrapolated from N = 3 per pair (clearly labelled).

    python benchmarks/bench_landscape.py [--rounds 5] [--skip-n4] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from fractions import Fraction

TRL = {
    "sigmoid (DPO)": "-logsigmoid(beta*((pc - rc) - (pr - rr)))",
    "ipo": "(pc - rc - pr + rr - 1/(2*beta))**2",
    "hinge (SLiC)": "relu(1 - beta*((pc - rc) - (pr - rr)))",
    "simpo": "-logsigmoid(beta*(pc - pr) - gamma)",
    "orpo odds ratio": "-logsigmoid((pc - log1mexp(pc)) - (pr - log1mexp(pr)))",
    "sft (CE)": "-pc",
}


def cpu_min(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def bench_decompile(rounds: int) -> dict:
    from logicpo.decompiler import decompile
    from logicpo.logic.closed_form import closed_form
    from logicpo.program import zoo

    t = time.process_time()
    decompile("-logsigmoid(pc - pr)")
    cold = time.process_time() - t
    program = zoo()
    rows = []
    for name in program.names_of("structure"):
        s = program.structure(name)
        if s.degeneracy is not None:
            continue
        expr = f"-logsigmoid({closed_form(s).rho_text})"
        d = cpu_min(lambda e=expr: decompile(e), rounds)
        c = cpu_min(lambda s=s: closed_form(s), rounds)
        rows.append({"loss": name, "expr": expr, "decompile_s": d, "compile_s": c,
                     "ratio": d / c if c else None})
    for name, expr in TRL.items():
        rows.append({"loss": name, "expr": expr, "decompile_s": cpu_min(
            lambda e=expr: decompile(e), rounds), "compile_s": None, "ratio": None})
    return {"cold_first_call_s": cold, "rows": rows}


_CENSUS = """
import json, resource, sys, time
from logicpo.reasoning import census as counting
from logicpo.reasoning.landscape import census
n, workers = int(sys.argv[1]), int(sys.argv[2])
r = census(n, workers=workers)
best = float("inf")
for _ in range(5):  # the counting, from cold caches each round: best wall clock of 5
    for f in (counting.regions_with_support, counting.irreducible, counting.signed_divisors):
        f.cache_clear()
    t = time.perf_counter()
    c = counting.count_census(n)
    best = min(best, time.perf_counter() - t)
print(json.dumps({"n": n, "seconds": r.seconds, "peak_rss_mib": r.peak_rss_mib,
                  "pairs": r.pairs, "degenerate": r.degenerate, "distinct": r.distinct,
                  "violations": r.reduction_violations, "workers": r.workers,
                  "count_seconds": best, "count_agrees": c.distinct == r.distinct}))
"""

_BASELINE = """
import json, random, resource, sys, time
from fractions import Fraction
n = int(sys.argv[1])
t0 = time.perf_counter()
rng = random.Random(3)
pts = [[Fraction(rng.randrange(1, 10**9), 10**9 + 7) for _ in range(n)] for _ in range(2)]
size = 1 << (1 << n)
def wmc(m, x):
    s = Fraction(0)
    for k in range(1 << n):
        if (m >> k) & 1:
            w = Fraction(1)
            for i in range(n):
                w *= x[i] if (k >> i) & 1 else 1 - x[i]
            s += w
    return s
vals = [[wmc(m, x) for x in pts] for m in range(size)]
seen = set()
for t in range(1, size):
    for b in range(1, size):
        if t != b:
            seen.add(tuple(vals[t][j] / vals[b][j] for j in range(2)))
print(json.dumps({"n": n, "seconds": time.perf_counter() - t0, "distinct": len(seen),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code: str, *args) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def bench_census(skip_n4: bool) -> list[dict]:
    workers = os.cpu_count() or 1
    rows = []
    for n in (1, 2, 3, 4):
        if n == 4 and skip_n4:
            continue
        mine = run(_CENSUS, n, workers if n == 4 else 1)
        row = {"n": n, "census": mine, "baseline": None, "baseline_kind": None}
        if n <= 3:
            row["baseline"] = run(_BASELINE, n)
            row["baseline_kind"] = "measured"
        else:
            b3 = rows[-1]["baseline"]
            per_pair = b3["seconds"] / (256 * 256)
            row["baseline"] = {"seconds": per_pair * 4 ** 16, "distinct": None,
                               # two Fractions per stored key, ~200 bytes each at least
                               "peak_rss_mib": mine["distinct"] * 400 / 2 ** 20}
            row["baseline_kind"] = "extrapolated from N=3 (per pair time; >=400 B per key)"
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--skip-n4", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    random.seed(0)
    Fraction(1)  # (imported for the baseline's spelling)
    result = {"decompile": bench_decompile(args.rounds), "census": bench_census(args.skip_n4)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    d = result["decompile"]
    print(f"decompile: first (cold) call {d['cold_first_call_s'] * 1e3:.0f} ms CPU")
    print(f"{'loss':18} {'decompile ms':>13} {'compile ms':>11} {'ratio':>7}")
    for r in d["rows"]:
        c = f"{r['compile_s'] * 1e3:11.1f}" if r["compile_s"] is not None else f"{'-':>11}"
        ratio = f"{r['ratio']:7.1f}" if r["ratio"] else f"{'-':>7}"
        print(f"{r['loss']:18} {r['decompile_s'] * 1e3:13.1f} {c} {ratio}")
    print()
    print(f"{'N':>2} {'pairs':>14} {'distinct':>14} {'census s':>9} {'MiB':>6} "
          f"{'baseline s':>12} {'MiB':>9}  baseline")
    for r in result["census"]:
        c, b = r["census"], r["baseline"]
        print(f"{r['n']:>2} {c['pairs']:>14,} {c['distinct']:>14,} {c['seconds']:9.2f} "
              f"{c['peak_rss_mib']:6.0f} {b['seconds']:12.2f} {b['peak_rss_mib']:9.0f}  "
              f"{r['baseline_kind']} ({c['workers']} worker(s) for the census)")
    print()
    print(f"{'N':>2} {'enumerate s':>12} {'count ms':>9} {'enumerate / count':>18}  same answer")
    for r in result["census"]:
        c = r["census"]
        if r["n"] >= 3:
            print(f"{r['n']:>2} {c['seconds']:12.2f} {c['count_seconds'] * 1e3:9.3f} "
                  f"{c['seconds'] / c['count_seconds']:18,.0f}  {c['count_agrees']}")


if __name__ == "__main__":
    main()
