"""The parser's speed-ups change nothing a reader can see: every tree, span and message is the
one the previous parser gives, on random programs (valid and not).

The previous parser is the code as it was before them, frozen in ``tests/reference/`` (the
grammar and the parser module of commit 6ee2be7; only this test reads them; the grammar is
``grammar/lpo.lark``).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
from pathlib import Path

import pytest
from conftest import spelled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logicpo.errors import LogicpoError
from logicpo.syntax import parser

FAST = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def previous():
    # kept as .py.txt so that pytest's doctest collection does not run it on today's grammar
    path = str(REFERENCE / "parser_before_speedups.py.txt")
    spec = importlib.util.spec_from_loader(
        "parser_before_speedups", importlib.machinery.SourceFileLoader("parser_before_speedups", path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    grammar = (REFERENCE / "lpo-before-speedups.lark").read_text(encoding="utf-8")
    module.grammar_text = lambda: grammar
    return module


def _outcome(parse, text):
    """What a reader sees: the tree with every node's span, or the error, its place and hint."""
    try:
        return "ok", spelled(parse(text, "t.lpo"))
    except LogicpoError as exc:
        return "error", str(exc), exc.span, exc.hint, exc.source_line



def _same(previous, parse, text):
    now = _outcome(parse, text)
    before = _outcome(getattr(previous, parse.__name__), text)
    assert now == before, text


_ATOMS = ["M(yw)", "M(yl)", "Ref(yw)", "Ref(yl)", "M( yw)", "Ref(yl )", "M(x, yw)", "M(foo)",
          "Ref (yw)", "M(yw", "M(\n yl)", "M(#c\nyw)", "MRef(yw)", "M(ywl)", "M(yw)(yl)"]
_PIECES = _ATOMS + ["true", "false", "f0", "(", ")", "~", "!", "not ", " & ", " and ", " | ",
                    " or ", " xor ", " -> ", " <-> ", " => ", ",", " ", "\n", "# note\n",
                    "And(", "Or(", "Not(", "Implies(", "XOR(", ":", "}", "{"]


def _formula(depth: int):
    leaf = st.sampled_from(_ATOMS[:4] + ["true", "f0"])
    if depth == 0:
        return leaf
    sub = _formula(depth - 1)
    return st.one_of(
        leaf,
        sub.map(lambda a: f"~{a}"),
        st.tuples(sub, st.sampled_from([" & ", " | ", " xor ", " -> ", " <-> ", "&"]), sub)
        .map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
        st.tuples(st.sampled_from(["And", "Or", "Implies"]), sub, sub)
        .map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
    )


_NOISE = st.lists(st.sampled_from(_PIECES), max_size=25).map("".join)


@FAST
@given(_formula(3), _NOISE)
def test_a_formula_reads_as_before(previous, formula, noise):
    _same(previous, parser.parse_formula, formula)
    _same(previous, parser.parse_formula, formula + noise)
    _same(previous, parser.parse_formula, noise)


@FAST
@given(st.lists(st.tuples(_formula(2), _formula(2)), min_size=1, max_size=4), _NOISE,
       st.integers(0, 10_000))
def test_a_program_reads_as_before(previous, regions, noise, where):
    text = "formula f0 = M(yw)\n" + "\n".join(
        f"structure s{i} {{ ok: {ok}  bad: {bad} }}" for i, (ok, bad) in enumerate(regions))
    _same(previous, parser.parse_program, text)
    cut = where % (len(text) + 1)
    _same(previous, parser.parse_program, text[:cut] + noise + text[cut:])


_OBJECTIVE_PIECES = ["sigmoid", "hinge(CPO", "hinge(ref(CPO)", ", beta=0.5", ", normalize=length",
                     ', tag="x"', ")", "0.8*", "2*", " + ", " - ", "(", "ref(", "flip(", ",",
                     "=", "-0.3", "1e-2", "#c\n", " "]


@FAST
@given(st.lists(st.sampled_from(_OBJECTIVE_PIECES), max_size=20).map("".join))
def test_an_objective_reads_as_before(previous, text):
    _same(previous, parser.parse_objective, text)
    _same(previous, parser.parse_program, "objective o = " + text)


@pytest.mark.parametrize("text", [
    "structure s { M(yw) }", "structure s { ok: M(yw) M(yl) }", "structure S = M(yw)",
    "objective o = M(yw)", "formula f = M(yw) =>", "formula M(yw) = true",
    "structure s { ok: M(yw) & $ }", "formula f = Ref(yl)", "formula f = ~M(yw)(yl)",
])
def test_atoms_where_a_formula_is_not_expected_read_as_before(previous, text):
    _same(previous, parser.parse_program, text)


def test_the_atom_token_is_the_four_atoms():
    pattern = re.search(r"^ATOM\.\d+: /(.*)/$", parser.grammar_text(), re.M).group(1)
    spelled = {f"{m}({r})" for m in parser.MODELS for r in parser.RESPONSES}
    assert {s for s in spelled if re.fullmatch(pattern, s)} == spelled
    assert not re.fullmatch(pattern, "M(x)") and not re.fullmatch(pattern, "Ref(yw )")
