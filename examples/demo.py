"""The logicpo demo: what a loss says, how it relates to DPO, where it sits, whether it trains.

Run with ``make demo`` (or ``python examples/demo.py``). Everything runs on CPU, offline.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from logicpo.cli import main

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "out" / "demo"
EXAMPLE = HERE / "my_losses.lpo"
console = Console()


def step(title: str, *args: str, note: str | None = None) -> None:
    """Run one logicpo command, showing it as a user would type it."""
    console.print(Rule(f"[bold]{title}"))
    if note:
        console.print(f"[dim]{note}[/]")
    console.print(f"[dim]$ logicpo {' '.join(shlex.quote(a) for a in args)}[/]")
    try:
        main(list(args), prog_name="logicpo", standalone_mode=False)
    except SystemExit as exc:  # a command that reports failure stops the demo
        if exc.code:
            raise


def demo() -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    rel = EXAMPLE.relative_to(Path.cwd()) if EXAMPLE.is_relative_to(Path.cwd()) else EXAMPLE
    step("1. Check a .lpo file", "check", str(rel))
    step("2. What does my loss say?", "show", f"{rel}:mine")
    step("3. How does its reference version relate to DPO?", "compare", f"{rel}:mine_ref", "DPO")
    lattice_png = OUT / "lattice.png"
    step("4. Where does it sit among the paper's losses?", "lattice", "--zoo", "--single-model",
         "--file", str(rel), "--png", str(lattice_png),
         note="your file's structures are drawn with a dashed frame, among the zoo's")
    return [lattice_png]


def train_briefly() -> list[Path]:
    """5. Train the file's objective on the built-in sort task, on CPU, in about a minute.

    The demo's run directory is its own: a second ``make demo`` replaces the first one's run
    there, explicitly (``--overwrite``; without it, logicpo refuses to replace a run)."""
    rel = EXAMPLE.relative_to(Path.cwd()) if EXAMPLE.is_relative_to(Path.cwd()) else EXAMPLE
    run, picture = OUT / "train", OUT / "train.png"
    shown = run.relative_to(Path.cwd()) if run.is_relative_to(Path.cwd()) else run
    note = (f"{shown} holds the previous demo's run: this one replaces it (--overwrite)"
            if run.exists() else None)
    step("5. Does it train? (tiny model, sort task, CPU)", "train", "--task", "sort",
         "--loss", f"{rel}:trained", "--steps", "80", "--sft-steps", "250", "--lr", "5e-4",
         "--eval-every", "20", "--threads", "1", "--out", str(shown), "--overwrite",
         "--plot", str(picture), note=note)
    return [picture]


if __name__ == "__main__":
    pictures = demo()
    pictures += train_briefly()
    console.print(Rule("[bold]Pictures"))
    for p in pictures:
        console.print(f"written: {p}")
