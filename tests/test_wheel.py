"""The wheel carries the grammar and the zoo: install it non-editable, offline, and run it.

The fresh environment sees the already-installed dependencies through a .pth line,
so nothing is downloaded; logicpo itself must come from the wheel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(out), str(ROOT)], check=True,
                   capture_output=True)
    (whl,) = out.glob("logicpo-*.whl")
    return whl


def test_wheel_contains_grammar_and_zoo(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "logicpo/grammar/lpo.lark" in names
    assert "logicpo/zoo.lpo" in names and "logicpo/losses.lpo" in names
    grammar = zipfile.ZipFile(wheel).read("logicpo/grammar/lpo.lark").decode()
    assert grammar == (ROOT / "grammar" / "lpo.lark").read_text()


def test_installed_wheel_runs_check_and_lattice(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-index", "--no-deps", str(wheel)], check=True, capture_output=True)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.lpo").write_text('import "more.lpo"\nstructure mine = ref(cCPO)\n')
    (work / "more.lpo").write_text("structure extra { ok: M(yw)  bad: M(yl) }\n")
    logicpo = shutil.which("logicpo", path=str(env_dir / "bin"))
    assert logicpo is not None

    where = subprocess.run([str(python), "-c", "import logicpo; print(logicpo.__file__)"],
                           cwd=work, check=True, capture_output=True, text=True).stdout
    assert str(env_dir) in where  # imported from the wheel, not the checkout

    check = subprocess.run([logicpo, "check", "mine.lpo"], cwd=work, capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stderr
    lattice = subprocess.run([logicpo, "lattice", "--zoo", "--json"], cwd=work,
                             capture_output=True, text=True)
    assert lattice.returncode == 0, lattice.stderr
    data = json.loads(lattice.stdout)
    assert "DPO" in " ".join(data["nodes"]) and data["edges"]
