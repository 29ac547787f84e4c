"""The loss commands through click's CliRunner, and the generated docs/zoo.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logicpo.numbers.zoo_doc import render

ROOT = Path(__file__).resolve().parents[1]




def test_compile_prints_the_generated_code(run):
    result = run("compile", "sigmoid", "--beta", "0.2")
    assert result.exit_code == 0
    assert "class SigmoidLoss(CompiledLoss):" in result.output
    assert "lr_c = 0.2 * (pc - rc)" in result.output  # beta, shared with the rewards
    assert "return F.softplus(lr_r - lr_c), lr_c, lr_r" in result.output


def test_compile_json(run):
    result = run("compile", "simpo", "--json")
    data = json.loads(result.output)
    assert data["source"] == "logistic(CPO, beta=0.1, gamma=0.5, normalize=length)"
    assert data["uses_reference"] is False and data["needs_lengths"] is True
    assert "def compute(self, pc, pr, rc, rr, nc, nr):" in data["code"]


def test_compile_and_export_json_say_what_logps_the_loss_reads(run, tmp_path):
    """One shape for both commands: TPO reads a gold response's policy log-prob besides the
    pair (so the positional TRL call cannot carry it); odd parity of five atoms has no
    factorised form (see tests/test_multi_numbers.py), DPO reads the classic four."""
    tpo = json.loads(run("compile", "tpo", "--json").output)
    assert tpo["classic"] is False and tpo["factorised"] is True
    assert sorted(tpo["atoms"]) == ["M(yg)", "M(yl)", "M(yw)"]
    assert sorted(tpo["responses"]) == ["yg", "yl", "yw"]
    program = tmp_path / "parity.lpo"
    program.write_text("responses yw, yl, yl2, yl3, yg\n"
                       "structure Parity { ok: M(yw) xor M(yl) xor M(yl2) xor M(yl3) xor M(yg)"
                       "  bad: M(yw) }\n", encoding="utf-8")
    parity = json.loads(run("compile", f"{program}:Parity", "--json").output)
    assert parity["factorised"] is False and len(parity["atoms"]) == 5
    out = tmp_path / "dpo_loss.py"
    exported = json.loads(run("export", "DPO", "-o", str(out), "--json").output)
    assert exported["classic"] is True and exported["factorised"] is True
    assert exported["atoms"] == ["M(yw)", "M(yl)", "Ref(yw)", "Ref(yl)"]
    compiled = json.loads(run("compile", "DPO", "--json").output)
    shared = ("source", "class", "uses_reference", "needs_lengths", "classic", "atoms",
              "responses", "factorised")
    assert {k: exported[k] for k in shared} == {k: compiled[k] for k in shared}


def test_eval_spec_test_vector_and_gradient(run):
    """DPO at (-1.2, -2.3, -1.5, -1.9), beta = 1: D = 0.7, loss = log(1 + e^-0.7) = 0.403186,
    d/dpc = -sigmoid(-0.7) = -0.331812."""
    result = run("eval", "DPO", "--pc", "-1.2", "--pr", "-2.3", "--rc", "-1.5", "--rr", "-1.9",
                 "--json")
    data = json.loads(result.output)
    assert data["loss"] == pytest.approx(0.403186, abs=5e-7)
    assert data["brute_force"] == pytest.approx(data["loss"], rel=1e-12)
    assert data["gradient"]["pc"] == pytest.approx(-0.331812, abs=5e-7)
    assert data["gradient"]["rr"] == pytest.approx(-0.331812, abs=5e-7)
    assert data["chosen_reward"] == pytest.approx(0.3)


def test_eval_table_and_length_normalised_loss(run):
    result = run("eval", "simpo", "--pc", "-6", "--pr", "-9", "--nc", "3", "--nr", "3")
    assert result.exit_code == 0
    assert "d loss / d input" in result.output and "brute force" in result.output


def test_eval_errors(run):
    result = run("eval", "sigmoid", "--pc", "-1", "--pr", "-2")
    assert result.exit_code == 2
    assert "'sigmoid' uses the reference model: pass --rc and --rr" in result.output
    result = run("eval", "sigmod", "--pc", "-1", "--pr", "-2")
    assert result.exit_code == 1 and "unknown loss 'sigmod'" in result.output
    result = run("eval", "sigmoid", "--pc", "-1", "--pr", "-2", "--rc", "-1", "--rr", "-1",
                 "--tau", "2")
    assert result.exit_code == 1 and "'tau' does not apply" in result.output


def test_plot_writes_an_image(run, tmp_path):
    out = tmp_path / "l.png"
    result = run("plot", "sigmoid", "unCPO", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["output"] == str(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_writes_a_standalone_file(run, tmp_path):
    out = tmp_path / "my_loss.py"
    result = run("export", "hinge(CPO)", "-o", str(out), "--beta", "0.5", "--json")
    data = json.loads(result.output)
    assert data["function"] == "my_loss" and data["source"] == "hinge(CPO, beta=0.5)"
    text = out.read_text(encoding="utf-8")
    assert "def my_loss(" in text and "import logicpo" not in text


def test_export_bad_function_name(run, tmp_path):
    result = run("export", "sigmoid", "-o", str(tmp_path / "my-loss.py"))
    assert result.exit_code == 2 and "not a Python identifier" in result.output


def test_file_spec(run, tmp_path):
    path = tmp_path / "m.lpo"
    path.write_text("structure S { ok: M(yw) & ~M(yl)  bad: M(yl) }\n", encoding="utf-8")
    result = run("eval", f"{path}:S", "--pc", "-1", "--pr", "-2", "--json")
    assert result.exit_code == 0, result.output
    result = run("compile", "S", "--file", str(path), "--family", "hinge", "--json")
    assert json.loads(result.output)["source"] == "hinge(S, beta=1)"


def test_docs_zoo_md_is_current():
    """docs/zoo.md is generated by `logicpo docs --write`; regenerate it when this fails."""
    assert (ROOT / "docs" / "zoo.md").read_text(encoding="utf-8") == render()


def test_docs_check_command(run, tmp_path):
    assert run("docs", "--check", "--docs-dir", str(tmp_path)).exit_code == 1
    assert run("docs", "--write", "--docs-dir", str(tmp_path)).exit_code == 0
    assert run("docs", "--check", "--docs-dir", str(tmp_path)).exit_code == 0
