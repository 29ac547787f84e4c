"""Start-up (issue 14, goal 3): whole-process wall time of the commands people run first.

Each command runs in a fresh interpreter (``python -m logicpo ...``), 5 times; the median is
printed next to its goal (``check`` under 0.3 s, ``show DPO`` and ``decompile`` of DPO under
0.6 s; ``--help`` for reference). The parser's cache file lives in a temporary
``LOGICPO_CACHE_DIR``: the very first run, which builds it, is reported on its own line, and
the timed runs use it, as every run after a user's first does. The baseline is the
interpreter itself (``python -c pass``), printed for scale. Goals are on wall time, as the
issue states them; each process's CPU time (user + system) is printed beside it, as it moves
less with the machine's load (printed too).
Run: ``python benchmarks/bench_startup.py``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from goals import goal_line  # benchmarks/goals.py: the one goal-line format

ROOT = Path(__file__).resolve().parents[1]
DPO = "-logsigmoid(beta*((pc - rc) - (pr - rr)))"


def run_once(args: list[str], env: dict) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_run(args: list[str], env: dict, repeat: int) -> tuple[float, float]:
    runs = [run_once(args, env) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one_line = Path(tmp) / "one.lpo"
        one_line.write_text("structure mine { core: M(yw) }\n", encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LOGICPO_CACHE_DIR": str(Path(tmp) / "c")}
        commands = [
            ("--help", ["--help"], None),
            ("check (one-line file)", ["check", str(one_line)], 0.3),
            ("show DPO", ["show", "DPO"], 0.6),
            ("decompile (DPO)", ["decompile", DPO], 0.6),
        ]
        load = os.getloadavg()[0]
        print(f"load average {load:.2f} (1 min) on {os.cpu_count()} CPUs; median of "
              f"{args.repeat} whole-process runs")
        first, first_cpu = run_once(["-m", "logicpo", "check", str(one_line)], env)
        print(f"  first check ever (builds the parser's cache file): {first:.3f} s "
              f"(cpu {first_cpu:.3f} s)")
        python, python_cpu = median_run(["-c", "pass"], env, args.repeat)
        print(f"  python -c pass (the interpreter alone): {python:.3f} s (cpu {python_cpu:.3f} s)")
        for label, argv, goal in commands:
            t, cpu = median_run(["-m", "logicpo", *argv], env, args.repeat)
            cpu_text = f"   (cpu {cpu:.3f} s)"
            if goal is None:
                print(f"  {label}: {t:.3f} s{cpu_text}")
            else:
                print("  " + goal_line(label, t, "<", goal, " s") + cpu_text)
        print(f"load average {os.getloadavg()[0]:.2f} (1 min) at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
