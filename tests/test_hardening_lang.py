"""Issue 10, the language part: each test failed on the code before the fix.

Expected numbers are the spec's test vectors (semantics.md section 5) or written out by hand
in the test's docstring; the limits are the ones documented in docs/dsl.md.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from logicpo.cli import main
from logicpo.cli.logic_cmds import check_file
from logicpo.errors import (
    DefinitionError,
    ImportFailure,
    LogicpoError,
    ParseError,
    UntrainableError,
)
from logicpo.files import InputError
from logicpo.logic.diagnostics import policy_slopes
from logicpo.program import load, load_text, zoo
from logicpo.syntax.limits import MAX_DEPTH
from logicpo.syntax.parser import parse_formula

POINT = ["--pc", "-1.2", "--pr", "-2.3", "--rc", "-1.5", "--rr", "-1.9"]


def cli(*args, code=0):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def write(tmp_path, name, text) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------- 1: lexical scope of the zoo

SHADOW = "structure CPO { core: M(yw) }\nobjective mine = logistic(CPO)\n"


def test_a_user_cpo_does_not_change_the_zoo_dpo_or_sigmoid(tmp_path):
    """Spec section 5: DPO at beta=0.1 at (-1.2, -2.3, -1.5, -1.9) is 0.658760; the old code
    built the zoo's DPO = ref(CPO) from the user's CPO and gave 0.7572."""
    path = write(tmp_path, "mine.lpo", SHADOW)
    out = json.loads(cli("eval", "sigmoid", *POINT, "-f", path, "--json").stdout)
    assert out["loss"] == pytest.approx(0.658760, abs=1e-6)
    imported = write(tmp_path, "main.lpo", 'import "mine.lpo"\n')
    out = json.loads(cli("eval", "sigmoid", *POINT, "-f", imported, "--json").stdout)
    assert out["loss"] == pytest.approx(0.658760, abs=1e-6)


def test_commands_that_compile_a_loss_print_the_shadow_warning(tmp_path):
    """Before: eval, compile and export used the user's file without saying that it shadows
    a zoo name; the warning goes to standard error, so --json output stays one document."""
    path = write(tmp_path, "mine.lpo", SHADOW)
    for args in (["eval", "sigmoid", *POINT, "-f", path, "--json"],
                 ["compile", "mine", "-f", path]):
        result = cli(*args)
        assert "'CPO' shadows the zoo's structure 'CPO'" in result.stderr
        assert "shadows" not in result.stdout
    assert json.loads(cli("eval", "sigmoid", *POINT, "-f", path, "--json").stdout)["loss"] \
        == pytest.approx(0.658760, abs=1e-6)


def test_the_users_own_references_mean_the_users_definition_with_a_warning(tmp_path):
    program = load([write(tmp_path, "mine.lpo", SHADOW)])
    # the user's CPO is CE (ok = M(yw)); the zoo's stays TT TF / TT FT
    assert program.structure("CPO").regions() == (["11", "10"], ["01", "00"])
    assert program.objective("mine").terms[0].structure.regions() == (["11", "10"],
                                                                      ["01", "00"])
    assert program.structure("CPO", zoo=True).regions() == (["11", "10"], ["11", "01"])
    (warning,) = program.diagnostics
    assert warning.severity == "warning" and warning.code == "shadow"
    assert "'CPO' shadows the zoo's structure 'CPO'" in warning.message
    assert "DPO" in warning.message and warning.span.line == 1


def test_show_and_lattice_keep_the_zoo_meaning(tmp_path):
    path = write(tmp_path, "mine.lpo", SHADOW)
    shown = json.loads(cli("show", "DPO", "-f", path, "--json").stdout)
    assert shown["ok"] == zoo().structure("DPO").regions()[0]
    assert shown["citation"] == "DPO (Rafailov et al. 2023)"
    assert [d["code"] for d in shown["diagnostics"]] == ["shadow"]
    lat = json.loads(cli("lattice", "--zoo", "--single-model", "-f", path, "--json").stdout)
    assert len(lat["nodes"]) == 12  # the old code merged the user's CPO with CE: 11


# ---------------------------------------------------------------- 5: losses that cannot train


def _codes(text: str, name: str) -> list[tuple[str, str]]:
    return [(d.severity, d.code) for d in load_text(text).diagnose(name)]


@pytest.mark.parametrize("text,name,expected", [
    ("structure refonly { core: Ref(yl) -> Ref(yw) }", "refonly", [("error", "no-gradient")]),
    # M atoms that cancel: ok = M(yw) & Ref(yl), bad = M(yw) & Ref(yw) gives rho = rr - rc
    ("structure cancel { ok: M(yw) & Ref(yl)  bad: M(yw) & Ref(yw) }", "cancel",
     [("error", "no-gradient")]),
    ("objective z = 0*sigmoid", "z", [("error", "no-gradient")]),
    ("objective n = 0.5*sigmoid - 2*CPO", "n", [("warning", "negative-weight")]),
    ("objective h = sigmoid + 0*CPO", "h", [("warning", "zero-weight")]),
    ("objective f = logistic(flip(DPO))", "f", [("warning", "prefers-loser")]),
    ("structure x { ok: M(yl)  bad: M(yw) }", "x", [("warning", "prefers-loser")]),
    ("objective r = robust(DPO)", "r", [("warning", "robust-default")]),
    ("objective r = robust(DPO, label_smoothing=0.1)", "r", []),
    ("structure refonly { core: Ref(yl) -> Ref(yw) }\nobjective m = sigmoid + refonly", "m",
     [("warning", "no-gradient-term")]),
])
def test_losses_that_cannot_train_or_look_wrong_are_diagnosed(text, name, expected):
    assert _codes(text, name) == expected


def test_check_fails_on_a_loss_that_cannot_train_and_reports_warnings(tmp_path):
    with pytest.raises(UntrainableError, match="does not depend on the policy"):
        check_file(write(tmp_path, "r.lpo", "structure refonly { core: Ref(yl) -> Ref(yw) }\n"))
    result = check_file(write(tmp_path, "w.lpo", "objective n = 0.5*sigmoid - 2*CPO\n"))
    assert [w["code"] for w in result["warnings"]] == ["negative-weight"]
    out = cli("check", tmp_path / "w.lpo").output
    assert "warning:" in out and "1 warning" in out


def test_the_zoo_is_clean_except_robust_at_its_default_and_the_loser_term():
    """L (ok M(yl), bad Ref(yl), rho = pr - rr) is a building block used as flip(L): alone,
    it does raise the loser."""
    program = zoo()
    found = {n: [d.code for d in program.diagnose(n)] for n in program.names}
    assert {n: c for n, c in found.items() if c} == {"robust": ["robust-default"],
                                                     "L": ["prefers-loser"]}


def test_policy_slopes_match_the_closed_forms():
    """CPO: rho = pc - pr, so d/dpc = +1 and d/dpr = -1 everywhere; W (ok M(yw), bad
    Ref(yw)): rho = pc - rc, no pr; fUnl: rho = log1mexp(pr) - pr, decreasing in pr."""
    for name, pc, pr in (("CPO", {1}, {-1}), ("W", {1}, {0}), ("fUnl", {0}, {-1})):
        s = zoo().structure(name)
        slopes = policy_slopes(s.atoms, s.ok_mask, s.bad_mask)
        assert (slopes["M(yw)"], slopes["M(yl)"]) == (pc, pr)


def test_train_refuses_a_loss_without_gradient_before_writing(tmp_path):
    from logicpo.training.config import TrainConfig
    from logicpo.training.loop import train

    lpo = write(tmp_path, "r.lpo", "structure refonly { core: Ref(yl) -> Ref(yw) }\n")
    cfg = TrainConfig(task="sort", task_train=8, task_val=4, model="nano", block_size=32,
                      loss=f"{lpo}:refonly", steps=2, batch_size=4, sft_steps=1,
                      eval_every=2, out=str(tmp_path / "run"), threads=1)
    with pytest.raises(UntrainableError):
        train(cfg)
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- 6: exo's label smoothing


def test_exo_without_label_smoothing_uses_its_valid_default(tmp_path):
    """TRL's exo_pair with eps = 1e-3 at beta = 0.1, Delta = (pc - rc) - (pr - rr) = 1.1:
    sigma(s)(log sigma(s) - log(1 - eps)) + sigma(-s)(log sigma(-s) - log eps), s = 0.11."""
    s, eps = 0.1 * ((-1.2 + 1.5) - (-2.3 + 1.9)), 1e-3
    sp, sn = 1 / (1 + math.exp(-s)), 1 / (1 + math.exp(s))
    expected = sp * (math.log(sp) - math.log(1 - eps)) + sn * (math.log(sn) - math.log(eps))
    path = write(tmp_path, "exo.lpo", "objective o = exo(DPO)\n")
    check_file(path)
    out = json.loads(cli("eval", "o", *POINT, "-f", path, "--json").stdout)
    assert out["loss"] == pytest.approx(expected, rel=1e-9)
    assert "label_smoothing=0.001" in out["source"]
    with pytest.raises(DefinitionError, match="exo needs label_smoothing > 0"):
        load_text("objective o = exo(DPO, label_smoothing=0)").objective("o")


# ---------------------------------------------------------------- 8: the language as documented


def test_fields_may_be_separated_by_commas():
    program = load_text("structure C { core: M(yl) -> M(yw), cond: Or(M(yl), M(yw)), "
                        "add: M(yw) & M(yl) }")
    assert program.structure("C").masks() == zoo().structure("CPO").masks()


@pytest.mark.parametrize("word", ["or", "and", "not", "xor", "true", "formula", "import"])
def test_keywords_cannot_name_a_definition(word):
    with pytest.raises(ParseError, match=f"'{word}' is a keyword") as info:
        load_text(f"formula {word} = M(yw)")
    assert (info.value.span.line, info.value.span.col) == (1, 9)


def test_a_fat_arrow_gets_a_hint():
    with pytest.raises(ParseError) as info:
        parse_formula("M(yw) => M(yl)")
    assert "'->'" in info.value.hint


def test_one_hasse_edge_is_singular():
    out = cli("lattice", "CPO", "cCPO").output
    assert "2 nodes, 1 Hasse edge " in out


# ---------------------------------------------------------------- 10: depth, size, files

COMMANDS = (("check",), ("show", "S"), ("neighbors", "S"), ("compile", "S"),
            ("eval", "S", *POINT), ("lattice", "S", "CPO"), ("compare", "S", "DPO"))


def _same_error_everywhere(path: Path, message: str) -> None:
    for command in COMMANDS:
        args = [command[0], path] if command == ("check",) else [*command, "-f", path]
        out = cli(*args, code=1).output
        assert message in out and "Traceback" not in out, (command, out)


@pytest.mark.parametrize("text", [
    "structure S { core: " + "~" * 600 + "M(yw) }",
    "structure S { core: " + " -> ".join(["M(yw)"] * 1000) + " }",
    "formula f0 = M(yw)\n" + "".join(f"formula f{i} = ~f{i - 1}\n" for i in range(1, 200))
    + "structure S { core: f199 | M(yl) }",
    "structure s0 { core: M(yw) }\n" + "".join(f"structure s{i} = flip(s{i - 1})\n"
                                               for i in range(1, 200)) + "structure S = s199",
    "structure S = " + "flip(" * 600 + "CPO" + ")" * 600,
], ids=["not600", "implies1000", "formula-chain", "flip-chain", "flip-nested"])
def test_deep_nesting_is_one_located_error_in_every_command(tmp_path, text):
    path = write(tmp_path, "deep.lpo", text + "\n")
    with pytest.raises(ParseError, match=f"nested more than {MAX_DEPTH} deep") as info:
        check_file(path)
    assert info.value.span is not None and info.value.span.file.endswith("deep.lpo")
    _same_error_everywhere(path, f"nested more than {MAX_DEPTH} deep")


@pytest.mark.parametrize("text", [
    "structure S { core: " + "~" * (MAX_DEPTH - 1) + "M(yw) }",
    "structure S { core: " + " & ".join(["M(yw)", "Ref(yl)"] * 500) + " }",
    "structure S { core: " + " -> ".join(["M(yl)", "Ref(yw)"] * 15 + ["M(yw)"]) + " }",
], ids=["not-at-the-limit", "and1000", "implies31"])
def test_what_check_accepts_every_command_runs(tmp_path, text):
    path = write(tmp_path, "ok.lpo", text + "\n")
    check_file(path)
    for command in COMMANDS[1:]:
        cli(*command, "-f", path)


def test_shared_subformulas_hit_a_clear_size_limit(tmp_path):
    lines = ["formula f0 = M(yw) | M(yl)"]
    lines += [f"formula f{i} = f{i - 1} & f{i - 1}" for i in range(1, 200)]
    path = write(tmp_path, "blow.lpo", "\n".join(lines) + "\nstructure S { core: f199 }\n")
    with pytest.raises(DefinitionError, match="is too large") as info:
        check_file(path)
    assert info.value.span.line == 12  # f11 is the first past 10,000 parts: 3 * 2**12 - 3
    objectives = ["objective o0 = sigmoid"]
    objectives += [f"objective o{i} = o{i - 1} + o{i - 1}" for i in range(1, 100)]
    with pytest.raises(DefinitionError, match="is too large"):
        check_file(write(tmp_path, "o.lpo", "\n".join(objectives) + "\n"))


def test_lpo_files_are_read_by_the_one_file_rule(tmp_path):
    bom = write(tmp_path, "bom.lpo", "\ufeffstructure S { core: M(yw) }\n")
    assert check_file(bom)["ok"]
    with pytest.raises(InputError, match="is a directory"):
        load([tmp_path])
    os.mkfifo(tmp_path / "fifo.lpo")
    with pytest.raises(InputError, match="named pipe"):
        load([tmp_path / "fifo.lpo"])
    with pytest.raises(InputError, match="device"):
        load(["/dev/zero"])
    (tmp_path / "loop.lpo").symlink_to(tmp_path / "loop.lpo")
    with pytest.raises(InputError, match="symbolic link loop"):
        load([tmp_path / "loop.lpo"])
    big = write(tmp_path, "big.lpo", "formula a = " + "M(yw) & " * 100_000 + "M(yw)\n")
    with pytest.raises(InputError, match="the limit is"):
        load([big])
    importer = write(tmp_path, "imp.lpo", 'import "loop.lpo"\n')
    with pytest.raises(ImportFailure, match="symbolic link loop") as info:
        load([importer])
    assert info.value.span.line == 1


def test_an_import_that_is_not_lpo_text_is_never_quoted(tmp_path):
    write(tmp_path, "secret", "hunter2:$6$saltsalt$hash\n")
    importer = write(tmp_path, "evil.lpo", 'import "secret"\n')
    with pytest.raises(ImportFailure) as info:
        load([importer])
    rendered = info.value.render()
    assert "hunter2" not in rendered and "saltsalt" not in rendered
    assert info.value.span.file.endswith("evil.lpo") and "not valid .lpo text" in rendered
    out = cli("check", importer, code=1).output
    assert "hunter2" not in out


def test_an_error_quotes_a_short_excerpt_of_a_long_line(tmp_path):
    path = write(tmp_path, "junk.lpo", "x" * 400_000 + "\n")
    with pytest.raises(LogicpoError) as info:
        check_file(path)
    assert len(info.value.render()) < 1000  # it was the whole line and a caret per character


def test_brackets_do_not_nest_the_formula_and_a_long_chain_is_one_node(tmp_path):
    """(((M(yw)))) is the atom itself: 10,000 brackets are fine, as before; a chain of 4,000
    '&' is one And with 4,000 operands (read in one pass, not rebuilt pair by pair)."""
    path = write(tmp_path, "p.lpo", "structure S { core: " + "(" * 10_000 + "M(yw)"
                 + ")" * 10_000 + " }\n")
    assert check_file(path)["ok"]
    chain = parse_formula(" & ".join(["M(yw)", "M(yl)"] * 2000))
    assert len(chain.args) == 4000
