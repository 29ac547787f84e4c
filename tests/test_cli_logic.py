"""The check/show/compare/lattice commands: tables for people, the JSON contract for scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SINGLE

from logicpo.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(*args, ok=True):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_help_lists_every_command():
    out = run("--help").output
    for cmd in ("check", "show", "compare", "lattice"):
        assert cmd in out


def test_check_ok_and_error_exit_codes(tmp_path):
    good = tmp_path / "good.lpo"
    good.write_text("structure A { ok: M(yw)  bad: M(yl) }\n")
    assert "ok" in run("check", str(good)).output
    bad = tmp_path / "bad.lpo"
    bad.write_text("structure A { ok: M(yw)\n  bad: M(yl) & }\n")
    result = run("check", str(bad), ok=False)
    assert result.exit_code == 1
    assert "bad.lpo:2:16: unexpected '}', expected a formula" in result.output
    assert "\n    " + " " * 15 + "^\n" in result.output


def test_check_json(tmp_path):
    good = tmp_path / "good.lpo"
    good.write_text("formula f = M(yw)\nstructure A { core: f }\n")
    data = json.loads(run("check", str(good), "--json").output)
    assert data["ok"] is True
    assert [d["name"] for d in data["files"][0]["definitions"]] == ["f", "A"]


def test_check_missing_file_is_exit_1_without_traceback(tmp_path):
    result = run("check", str(tmp_path / "missing.lpo"), ok=False)
    assert result.exit_code == 1 and "not found" in result.output
    assert "Traceback" not in result.output


def test_show_dpo_closed_form_and_json_contract():
    out = run("show", "DPO").output
    assert "-log sigmoid((pc - rc) - (pr - rr))" in out
    data = json.loads(run("show", "DPO", "--json").output)
    assert data["name"] == "DPO"
    assert data["atoms"] == ["M(yw)", "M(yl)", "Ref(yw)", "Ref(yl)"]
    # ok = M(yw) & Ref(yl): bits 0 and 3 set; bad = M(yl) & Ref(yw): bits 1 and 2 set.
    assert sorted(data["ok"]) == sorted(b for b in _bits(4) if b[0] == "1" and b[3] == "1")
    assert sorted(data["bad"]) == sorted(b for b in _bits(4) if b[1] == "1" and b[2] == "1")
    for key in ("core", "cond", "add", "closed_form"):
        assert isinstance(data[key], str)


def _bits(n):
    return [format(k, f"0{n}b") for k in range(1 << n)]


@pytest.mark.parametrize("name", SINGLE)
def test_show_json_atoms_of_single_model_structures(name):
    data = json.loads(run("show", name, "--json").output)
    assert data["atoms"] == ["M(yw)", "M(yl)"]


def test_show_latex_and_file_syntax(tmp_path):
    f = tmp_path / "mine.lpo"
    f.write_text("structure mine { ok: M(yw)  bad: M(yl) & ~M(yw) }\n")
    out = run("show", f"{f}:mine", "--latex").output
    assert "LaTeX" in out and "\\sigma" in out
    out2 = run("show", "mine", "--file", str(f)).output
    assert "M(yl) -> M(yw)" in out2


def test_show_objective():
    data = json.loads(run("show", "nca_pair", "--json").output)
    assert data["kind"] == "objective"
    assert [t["weight"] for t in data["terms"]] == [1.0, 0.5, 0.5]


def test_show_unknown_name_suggests():
    result = run("show", "DPOO", ok=False)
    assert result.exit_code == 1 and "did you mean 'DPO'" in result.output


@pytest.mark.parametrize("a,b,relation", [
    ("CPO", "cCPO", "stronger"), ("cCPO", "CPO", "weaker"), ("CPO", "ORPO", "incomparable"),
    ("DPO", "DPO", "equivalent"),
])
def test_compare_json_relation(a, b, relation):
    data = json.loads(run("compare", a, b, "--json").output)
    assert data["relation"] == relation


def test_compare_explains_witness_in_words():
    out = run("compare", "CPO", "ORPO").output
    assert "incomparable" in out and "CPO counts it as both ok and bad" in out


def test_lattice_zoo_single_model_matches_the_paper(tmp_path):
    png = tmp_path / "lattice.png"
    data = json.loads(run("lattice", "--zoo", "--single-model", "--png", str(png),
                          "--json").output)
    assert len(data["nodes"]) == 12 and len(data["edges"]) == 18
    assert data["top"] == ["CEUnl"] and data["bottom"] == ["unCPO"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lattice_svg_and_names(tmp_path):
    svg = tmp_path / "l.svg"
    data = json.loads(run("lattice", "CPO", "cCPO", "ORPO", "--svg", str(svg), "--json").output)
    assert sorted(map(tuple, data["edges"])) == [("CPO", "cCPO"), ("ORPO", "cCPO")]
    assert svg.read_text().lstrip().startswith("<?xml")


def test_lattice_needs_names_exit_2():
    result = run("lattice", ok=False)
    assert result.exit_code == 2


def test_lattice_bad_picture_path_leaves_nothing(tmp_path):
    """A picture format we do not write is refused before any directory is created (a
    missing directory itself is created: see tests/test_hardening_files.py)."""
    result = run("lattice", "CPO", "cCPO", "--png", str(tmp_path / "no" / "x.txt"), ok=False)
    assert result.exit_code == 2
    assert not (tmp_path / "no").exists()


def test_check_does_not_import_torch(tmp_path):
    f = tmp_path / "a.lpo"
    f.write_text("structure A { core: M(yw) }\n")
    code = ("import sys\nfrom logicpo.cli import main\n"
            "try:\n    main(['check', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "logicpo", "--version"], capture_output=True,
                         text=True, cwd=ROOT, check=True).stdout
    assert "logicpo" in out


def test_errors_are_json_with_json_flag():
    result = run("show", "NOPE", "--json", ok=False)
    assert result.exit_code == 1
    first_json = result.output[: result.output.index("}") + 1]
    data = json.loads(first_json)
    assert data["error"] == "NameResolutionError" and "NOPE" in data["message"]
