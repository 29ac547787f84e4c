"""The process entry's quick end (logicpo.cli.run): a one-shot command that kept what it built
(``lattice``) leaves without freeing it, and loses nothing doing so: the same output, all of
it, and the same exit code as the ordinary path (click's test runner, where nothing is kept)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from logicpo.cli import common, main

ROOT = Path(__file__).resolve().parents[1]
ATOMS = ("M(yw)", "M(yl)", "Ref(yw)", "Ref(yl)")


def _formula(rng: random.Random, depth: int = 2) -> str:
    if depth == 0 or rng.random() < 0.3:
        return ("~" if rng.random() < 0.3 else "") + rng.choice(ATOMS)
    op = rng.choice([" & ", " | ", " -> ", " xor "])
    return f"({_formula(rng, depth - 1)}{op}{_formula(rng, depth - 1)})"


def _structures_file(tmp_path: Path, n: int) -> Path:
    rng = random.Random(7)
    f = tmp_path / "many.lpo"
    f.write_text("".join(f"structure s{i} {{ ok: {_formula(rng)}  bad: {_formula(rng)} }}\n"
                         for i in range(n)))
    return f


def _process(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "logicpo", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_lattice_process_prints_all_of_what_the_runner_prints(tmp_path):
    # 600 structures: a JSON text of well over a pipe's 64 KiB, so that a missing flush
    # before the quick end would cut it
    f = _structures_file(tmp_path, 600)
    done = _process("lattice", "--file", str(f), "--json")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) > 65536
    ordinary = CliRunner().invoke(main, ["lattice", "--file", str(f), "--json"])
    assert ordinary.exit_code == 0, ordinary.output
    assert json.loads(done.stdout) == json.loads(ordinary.output)
    assert done.stdout == ordinary.output


def test_lattice_process_keeps_its_exit_code_on_an_error_after_the_build(tmp_path):
    # the lattice is built (and kept), then the picture cannot be written: exit 1, a message
    f = _structures_file(tmp_path, 5)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    done = _process("lattice", "--file", str(f), "--png", str(blocker / "x.png"))
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "x.png" in done.stderr and "Traceback" not in done.stderr


def test_usage_error_exit_code_is_unchanged():
    done = _process("lattice")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_nothing_is_kept_outside_the_process_entry(tmp_path):
    f = _structures_file(tmp_path, 5)
    result = CliRunner().invoke(main, ["lattice", "--file", str(f), "--json"])
    assert result.exit_code == 0, result.output
    assert not common.kept()
    import gc

    assert gc.isenabled()  # gc_paused resumed the collector: this process goes on
