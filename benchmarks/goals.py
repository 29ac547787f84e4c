"""What every ``bench_*.py`` shares: the one format of a goal line,
``<what>: <value>  goal <op> <target>  MET`` (or ``NOT MET``); ``make bench`` collects them.

>>> goal_line("numpy / logicpo", 3.5, ">=", 3)
'numpy / logicpo: 3.5x  goal >= 3x  MET'
"""

from __future__ import annotations

import gc
import operator
import statistics
import time
import tracemalloc

_OPS = {">=": operator.ge, "<=": operator.le, "<": operator.lt, ">": operator.gt}


def goal_line(what: str, value: float, op: str, target: float, unit: str = "x") -> str:
    met = _OPS[op](value, target)
    return (f"{what}: {value:.3g}{unit}  goal {op} {target:g}{unit}  "
            f"{'MET' if met else 'NOT MET'}")


def peak_mib(fn) -> float:
    """The peak memory Python allocates while ``fn()`` runs, in MiB (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def timed(fn, repeat: int) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, in seconds (a collection first)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
