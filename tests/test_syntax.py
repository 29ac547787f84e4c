"""The DSL: every construct parses to the right logic; every bad file gets a located error.

The corpus in tests/corpus holds one valid and one invalid example per construct; each
invalid file names its expected error on its first line (``# expect: LINE:COL message``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sympy

from logicpo.cli.logic_cmds import check_file
from logicpo.errors import LogicpoError, ParseError
from logicpo.logic.formulas import ATOMS_REF, SYMBOLS, from_ast
from logicpo.logic.truth import mask
from logicpo.program import load, load_text
from logicpo.syntax.parser import parse_formula, parse_objective, parse_program
from logicpo.syntax.printer import format_formula

CORPUS = Path(__file__).parent / "corpus"
VALID = sorted((CORPUS / "valid").glob("*.lpo"))
INVALID = sorted((CORPUS / "invalid").glob("*.lpo"))

yw, yl, rw, rl = (SYMBOLS[a] for a in ATOMS_REF)


def _same(text: str, expected) -> bool:
    got = from_ast(parse_formula(text))
    return mask(got, ATOMS_REF) == mask(expected, ATOMS_REF)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_corpus_checks(path):
    result = check_file(path)
    assert result["ok"] and result["definitions"]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_corpus_gives_the_expected_located_error(path):
    first = path.read_text().splitlines()[0]
    m = re.match(r"# expect: (\d+):(\d+) (.*)", first)
    assert m, f"{path.name} lacks an expect line"
    line, col, message = int(m[1]), int(m[2]), m[3]
    with pytest.raises(LogicpoError) as info:
        check_file(path)
    err = info.value
    assert message in err.message
    assert err.span is not None and (err.span.line, err.span.col) == (line, col)
    assert err.span.file.endswith(path.name)
    rendered = err.render()
    assert rendered.startswith(f"{err.span.file}:{line}:{col}: ")
    assert "^" in rendered  # the caret under the source line


@pytest.mark.parametrize("text,expected", [
    ("~M(yw) & M(yl)", sympy.And(sympy.Not(yw), yl)),
    ("M(yw) | M(yl) & Ref(yw)", sympy.Or(yw, sympy.And(yl, rw))),
    ("M(yw) xor M(yl) | Ref(yw)", sympy.Or(sympy.Xor(yw, yl), rw)),
    ("M(yw) & M(yl) xor Ref(yw)", sympy.Xor(sympy.And(yw, yl), rw)),
    ("M(yw) -> M(yl) -> Ref(yw)", sympy.Implies(yw, sympy.Implies(yl, rw))),
    ("M(yw) | M(yl) -> Ref(yw)", sympy.Implies(sympy.Or(yw, yl), rw)),
    ("M(yw) -> M(yl) <-> Ref(yw)", sympy.Equivalent(sympy.Implies(yw, yl), rw)),
    ("not M(yw) and M(yl) or Ref(yl)", sympy.Or(sympy.And(sympy.Not(yw), yl), rl)),
    ("!M(yw)", sympy.Not(yw)),
    ("Implies(M(x, yl), M(x, yw))", sympy.Implies(yl, yw)),
    ("And(M(yw), M(yl), Ref(yw))", sympy.And(yw, yl, rw)),
    ("Or(M(yw), Not(M(yl)))", sympy.Or(yw, sympy.Not(yl))),
    ("XOR(M(yw), M(yl))", sympy.Xor(yw, yl)),
    ("true & M(yw)", yw),
    ("false | M(yw)", yw),
    ("(M(yw) | M(yl)) & Ref(yw)  # a comment", sympy.And(sympy.Or(yw, yl), rw)),
])
def test_precedence_and_spellings(text, expected):
    assert _same(text, expected)


@pytest.mark.parametrize("text", [
    "M(yl) -> M(yw)",
    "(M(yl) & Ref(yw)) -> (M(yw) & Ref(yl))",
    "~(M(yw) & M(yl))",
    "(M(yw) | M(yl)) & ~Ref(yw)",
    "M(yw) xor M(yl)",
    "M(yw) -> (M(yl) -> Ref(yw))",
])
def test_printer_round_trips(text):
    printed = format_formula(parse_formula(text))
    assert _same(printed, from_ast(parse_formula(text)))


def test_objective_parse_weights_and_signs():
    s = parse_objective("logistic(W) + 0.5*logistic(flip(W), beta=0.1) - 0.25*CPO")
    assert [t.weight for t in s.terms] == [1.0, 0.5, -0.25]


def test_inline_objective_expands_bare_names(zoo):
    obj = zoo.inline_objective("0.8*sigmoid + 0.2*bco_pair + 1.0*sft")
    assert [(t.weight, t.family, t.structure.name) for t in obj.terms] == [
        (0.8, "logistic", "DPO"), (0.2, "logistic", "W"), (0.2, "logistic", "flip(L)"),
        (1.0, "logistic", "CE")]


def test_bare_structure_in_objective_is_the_papers_loss(zoo):
    (t,) = zoo.objective("CPO").terms
    assert (t.family, t.param("beta")) == ("logistic", 1.0)


def test_user_definition_shadows_zoo():
    program = load_text("structure CPO { core: M(yw) }")
    assert program.structure("CPO").regions() == (["11", "10"], ["01", "00"])


def test_import_relative_to_importing_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.lpo").write_text('import "b.lpo"\nstructure A = ref(B)\n')
    (tmp_path / "sub" / "b.lpo").write_text("structure B { core: M(yw) }\n")
    program = load([tmp_path / "sub" / "a.lpo"])
    assert program.structure("A").uses_reference


def test_diamond_import_loads_once(tmp_path):
    (tmp_path / "base.lpo").write_text("structure B { core: M(yw) }\n")
    (tmp_path / "l.lpo").write_text('import "base.lpo"\n')
    (tmp_path / "r.lpo").write_text('import "base.lpo"\n')
    (tmp_path / "top.lpo").write_text('import "l.lpo"\nimport "r.lpo"\n')
    assert load([tmp_path / "top.lpo"]).structure("B").single_model


def test_did_you_mean_for_unknown_structure():
    with pytest.raises(LogicpoError) as info:
        load_text("structure X = ref(CPOO)").structure("X")
    assert info.value.hint == "did you mean 'CPO' or 'cCPO'?"


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(LogicpoError, match="file not found"):
        load([tmp_path / "nope.lpo"])


def test_parse_program_records_spans():
    program = parse_program("\n\nstructure CE2 { core: M(yw) }", "f.lpo")
    (d,) = program.definitions
    assert (d.span.file, d.span.line, d.span.col) == ("f.lpo", 3, 1)


def test_unexpected_token_names_expected_items():
    with pytest.raises(ParseError) as info:
        parse_program("structure X { core M(yw) }", "f.lpo")
    assert "expected" in info.value.message and info.value.hint
