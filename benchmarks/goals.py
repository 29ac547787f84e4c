"""The one format of a benchmark's goal line, shared by every ``bench_*.py``:
``<what>: <value>  goal <op> <target>  MET`` (or ``NOT MET``); ``make bench`` collects them.

>>> goal_line("numpy / logicpo", 3.5, ">=", 3)
'numpy / logicpo: 3.5x  goal >= 3x  MET'
"""

from __future__ import annotations

import operator

_OPS = {">=": operator.ge, "<=": operator.le, "<": operator.lt, ">": operator.gt}


def goal_line(what: str, value: float, op: str, target: float, unit: str = "x") -> str:
    met = _OPS[op](value, target)
    return (f"{what}: {value:.3g}{unit}  goal {op} {target:g}{unit}  "
            f"{'MET' if met else 'NOT MET'}")
