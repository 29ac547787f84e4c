"""The fast reader (logicpo/syntax/fast.py) gives exactly the AST of the lark path, every node
and every span, on the text it reads, and reads nothing else: on any other text it returns
None and lark reads it (so every error message still comes from lark).

The oracles are the lark path itself (``parser._parse``, today's grammar and transformer)
and, for random programs, the parser as it was before the speed-ups (frozen in
``tests/reference/``, see tests/test_parse_equivalence.py).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import random
from pathlib import Path

import pytest
from conftest import spelled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logicpo.errors import LogicpoError, Span
from logicpo.syntax import ast, fast, parser
from logicpo.syntax.limits import MAX_DEPTH, MAX_SOURCE_CHARS

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).parent / "reference"
FAST = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
ATOMS = ("M(yw)", "M(yl)", "Ref(yw)", "Ref(yl)")



def _lark(text, file="t.lpo"):
    """What the lark path gives: (imports, definitions), or the error a reader sees."""
    try:
        return "ok", spelled(parser._parse(text, file, "program")[:2])  # without declarations
    except LogicpoError as exc:
        return "error", str(exc), exc.span, exc.hint, exc.source_line


def _agrees(text, file="t.lpo"):
    """The fast reader agrees with lark on ``text``; True if it read it, False if it left it."""
    read = fast.read_program(text, file)
    lark = _lark(text, file)
    if read is None:
        return False
    assert lark == ("ok", spelled(read)), text
    return True


@pytest.fixture(scope="module")
def previous():
    path = str(REFERENCE / "parser_before_speedups.py.txt")
    spec = importlib.util.spec_from_loader(
        "parser_before_speedups",
        importlib.machinery.SourceFileLoader("parser_before_speedups", path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    grammar = (REFERENCE / "lpo-before-speedups.lark").read_text(encoding="utf-8")
    module.grammar_text = lambda: grammar
    return module


# ---------------------------------------------------------------- files of the project

def _project_files():
    paths = [ROOT / "logicpo" / "zoo.lpo", ROOT / "logicpo" / "losses.lpo",
             *sorted((ROOT / "examples").glob("*.lpo")),
             *sorted((ROOT / "tests" / "corpus" / "valid").glob("*.lpo"))]
    return [pytest.param(p.read_text(encoding="utf-8"), id=p.name) for p in paths]


def _doc_blocks():
    import re
    block = re.compile(r"```lpo\n(.*?)```", re.S)
    for doc in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]:
        for k, m in enumerate(block.finditer(doc.read_text(encoding="utf-8"))):
            yield pytest.param(m[1], id=f"{doc.name}-{k}")


@pytest.mark.parametrize("text", _project_files() + list(_doc_blocks()))
def test_the_project_files_read_as_lark_reads_them(text):
    _agrees(text)


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "corpus" / "invalid").glob("*.lpo")),
                         ids=lambda p: p.name)
def test_an_invalid_corpus_file_is_left_to_lark_or_read_alike(path):
    # the syntax errors are left to lark; a file whose mistake is found later (a cycle, an
    # unknown name) parses, and then to the same AST
    text = path.read_text(encoding="utf-8")
    if _lark(text)[0] == "error":
        assert fast.read_program(text, "t.lpo") is None
    else:
        _agrees(text)


def test_a_span_by_hand():
    # a span is (line, first column, end line, column after the last character)
    #       0        1         2         3         4         5
    #       12345678901234567890123456789012345678901234567890
    text = "structure S { ok: ~(M(yw) & M(yl))  bad: Ref(yl) }\n"
    (), (d,) = fast.read_program(text, "f.lpo")
    ok, bad = d.body.fields
    assert d.span == Span("f.lpo", 1, 1, 1, 51)
    assert d.body.span == Span("f.lpo", 1, 13, 1, 51)
    assert ok.span == Span("f.lpo", 1, 15, 1, 35)  # the field runs to the closing bracket
    assert ok.formula.span == Span("f.lpo", 1, 19, 1, 35)  # ~ and its bracketed operand
    assert ok.formula.arg.span == Span("f.lpo", 1, 21, 1, 34)  # inside the brackets
    assert ok.formula.arg.args[1].span == Span("f.lpo", 1, 29, 1, 34)
    assert bad.formula == ast.Atom("Ref", "yl")
    assert bad.formula.span == Span("f.lpo", 1, 42, 1, 49)


def test_lines_and_columns_after_new_lines_tabs_and_comments():
    text = "# head\r\n\tformula f = # here\n  M(yw)\n\n  -> (true)\n"
    (), (d,) = fast.read_program(text, "f.lpo")
    assert d.span == Span("f.lpo", 2, 2, 5, 12)
    assert d.formula.premise.span == Span("f.lpo", 3, 3, 3, 8)
    assert d.formula.conclusion.span == Span("f.lpo", 5, 7, 5, 11)
    assert _agrees(text)


def test_the_hook_reads_the_subset_without_lark(monkeypatch):
    text = "formula f = M(yw) | ~M(yl)\nstructure S { core: f }\n"
    expected = _lark(text, "x.lpo")

    def no_lark(*args):
        raise AssertionError("lark was asked")

    monkeypatch.setattr(parser, "_parse", no_lark)
    program = parser.parse_program(text, "x.lpo")
    assert ("ok", spelled((program.imports, program.definitions))) == expected
    with pytest.raises(AssertionError, match="lark was asked"):
        parser.parse_program("responses yw, yl, yg\n" + text, "x.lpo")


# ---------------------------------------------------------------- random programs

def _smallest_formula(m: int) -> str:
    from logicpo.logic.formulas import to_dsl
    from logicpo.logic.truth import formula_of

    return to_dsl(formula_of(m, ATOMS))


def test_random_structures_given_by_their_regions(previous):
    # what the lattice benchmark writes: each region as its smallest formula
    rng = random.Random(7)
    lines = [f"structure s{i} {{ ok: {_smallest_formula(rng.getrandbits(16))}  "
             f"bad: {_smallest_formula(rng.getrandbits(16))} }}" for i in range(40)]
    text = "\n".join(lines) + "\n"
    assert _agrees(text)
    before = previous.parse_program(text, "t.lpo")
    assert spelled(fast.read_program(text, "t.lpo")) == spelled(
        (before.imports, before.definitions))


_SPACE = st.sampled_from([" ", "  ", "\t", "\n", " # note\n", "\r\n", "\f", "\n\n  "])


def _formula(depth: int):
    leaf = st.sampled_from([*ATOMS, "true", "false", "f0", "f1", "f0_x"])
    if depth == 0:
        return leaf
    sub = _formula(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(st.sampled_from(["~", "!", "not "]), sub).map("".join),
        st.tuples(sub, _SPACE, st.sampled_from(["&", "and", "|", "or", "xor", "->", "<->"]),
                  _SPACE, sub).map(lambda t: "".join(t)),
        st.tuples(st.sampled_from(["(", "( "]), sub, st.sampled_from([")", " )"]))
        .map("".join),
    )


def _structure(i: int):
    body = st.one_of(
        st.tuples(_formula(3), _formula(3)).map(lambda t: [("ok", t[0]), ("bad", t[1])]),
        st.tuples(_formula(3), st.none() | _formula(2), st.none() | _formula(2)).map(
            lambda t: [(k, f) for k, f in zip(("core", "cond", "add"), t, strict=True) if f]),
    )
    sep = st.sampled_from([" ", "\n  ", ";", ", ", " ;\n"])
    doc = st.sampled_from(["", ' "a doc # not a comment"'])
    # no comment between a field's word and its colon: lark's FIELD needs (?=\s*:)
    before_colon = st.sampled_from(["", " ", "\n\t"])
    return st.tuples(doc, body, sep, _SPACE, before_colon).map(lambda t: (
        f"structure s{i}{t[0]} {{{t[3]}"
        + t[2].join(f"{k}{t[4]}:{t[3]}{f}" for k, f in t[1]) + f"{t[3]}}}"))


_SEXPR = st.sampled_from(["s0", "ref(s0)", "flip(s1)", "ref(flip( s0 ))", "DPO", "flip(W)"])
_KWARG = st.sampled_from(["beta=0.5", "beta = 2", "gamma=-0.3", "gamma=+1e-2", "beta=.5",
                          "normalize=length", 'tag="x y"', "label_smoothing=1.e3"])
_TERM = st.one_of(
    st.sampled_from(["sigmoid", "s0", "o_1"]),
    st.tuples(st.sampled_from(["0.8*", "2 * ", "1e-3*", "10*"]),
              st.sampled_from(["sigmoid", "hinge(s0)"])).map("".join),
    st.tuples(st.sampled_from(["logistic", "hinge", "square"]), _SEXPR,
              st.lists(_KWARG, max_size=3))
    .map(lambda t: f"{t[0]}({', '.join([t[1], *t[2]])})"),
)
_OBJECTIVE = st.lists(st.tuples(st.sampled_from([" + ", " - ", "+", "\n  - "]), _TERM),
                      min_size=1, max_size=4).map(
    lambda ts: ts[0][1] + "".join(sign + term for sign, term in ts[1:]))


@st.composite
def _programs(draw):
    parts = ['import "other.lpo"'] if draw(st.booleans()) else []
    parts += [f"formula f0 = {draw(_formula(3))}", "formula f1 \"doc\" = M(yw) xor f0"]
    n = draw(st.integers(1, 4))
    parts += [draw(_structure(i)) for i in range(n)]
    parts += [f"structure r{i} = {draw(_SEXPR)}" for i in range(draw(st.integers(0, 2)))]
    parts += [f"objective o{i} = {draw(_OBJECTIVE)}" for i in range(draw(st.integers(0, 2)))]
    order = draw(st.permutations(parts))
    return draw(_SPACE).join(order) + draw(st.sampled_from(["", "\n", "  # end"]))


@FAST
@given(_programs())
def test_random_programs_are_read_and_read_as_lark_reads_them(previous, text):
    assert _agrees(text), text  # all of it is in the subset
    before = previous.parse_program(text, "t.lpo")
    assert spelled(fast.read_program(text, "t.lpo")) == spelled(
        (before.imports, before.definitions))


_NOISE = st.lists(st.sampled_from(
    [*ATOMS, "M( yw)", "M(x, yw)", "M(yg)", "And(", "W(ys)", "(", ")", "~", " & ", "and",
     " | ", "|", " xor ", "->", "<->", "=>", "<=", "=", ",", ";", ":", "{", "}", "ok", "ok:",
     "bad :", "core", " ", "\n", "#c\n", "#", '"', '"s"', "structure", "formula", "objective",
     "import", "responses", "models", "true", "false", "not", "1", "0.5", "-", "+", "*", "e",
     "$", "é", "\v", "ref(", "flip", "s0", "x"]), max_size=30).map("".join)


@FAST
@given(_programs(), _NOISE, st.integers(0, 10_000))
def test_broken_programs_are_left_to_lark_or_read_alike(text, noise, where):
    cut = where % (len(text) + 1)
    for variant in (noise, text[:cut] + noise + text[cut:], text[:cut]):
        if _lark(variant)[0] == "error":
            assert fast.read_program(variant, "t.lpo") is None, variant
        else:
            _agrees(variant)


# ---------------------------------------------------------------- near misses: lark reads them

@pytest.mark.parametrize("text", [
    "responses yw, yl, yg\nstructure S { core: M(yw) }",  # declarations (issue 13)
    "models M, Ref, Src\nstructure S { core: M(yw) }",
    "structure S { core: M(yg) }",  # an atom other than the classic four
    "structure S { core: Src(yw) }",
    "structure S { core: M( yw ) }",  # atoms not written plainly: calls
    "structure S { core: M(x, yw) }",
    "structure S { core: M (yw) }",
    "structure S { core: And(M(yw), M(yl)) }",  # function-style connectives
    "structure S { core: Not(M(yw)) }",
    "structure S = W(ys)",  # a per-response structure, and unknown operators
    "structure S = ref(W(ys))",
    "objective o = logistic(CE(yg), beta=1)",
    "formula and = M(yw)",  # keywords and field words as names
    "formula true = M(yw)",
    "structure ok { core: M(yw) }",
    "structure models { core: M(yw) }",
    "structure S { ok: xor  bad: M(yw) }",
    "objective o = logistic(S, normalize=true)",
    "formula f = M(yw) => M(yl)",  # syntax errors
    "formula f = M(yw) &",
    "formula f = (M(yw)",
    "structure S { ok: M(yw) bad M(yl) }",
    "structure S { ok: M(yw) ;; bad: M(yl) }",
    "structure S { ; ok: M(yw) bad: M(yl) }",
    "structure S { ok #c\n : M(yw) bad: M(yl) }",  # FIELD's look-ahead fails after a comment
    "structure S { ok: M(yw)\v bad: M(yl) }",  # whitespace lark does not ignore
    "formula f = M(yw) $",
    'formula f "unterminated = M(yw)',
    "formula f = M(yw)M(yl)",
    "formula f = notM(yw)",
    "formula f = M(yw) andM(yl)",
    "objective o = hinge(S, gamma=- 0.3)",  # a sign apart from its number
    "objective o = 1e*S",
    "objective o = 1.2.3*S",
    "formula f = 1",
    "formula café = M(yw)",  # names are ASCII
    "formula f = " + "~" * (MAX_DEPTH + 1) + "M(yw)",  # too deep: lark says so
    "formula f = " + " -> ".join(["M(yw)"] * (MAX_DEPTH + 2)),
    "formula f = " + "(" * 400 + "M(yw)" + ")" * 400,  # deep brackets: lark reads them
    "structure S = " + "ref(" * (MAX_DEPTH + 1) + "X" + ")" * (MAX_DEPTH + 1),
    "formula f = M(yw)" + " " * 60_000 + "$",  # read in linear time, then left to lark
    "# " + "x" * MAX_SOURCE_CHARS,  # too long
])
def test_near_misses_are_left_to_lark(text):
    assert fast.read_program(text, "t.lpo") is None
    # and the whole parse is lark's: the same tree or the same message
    try:
        program = parser.parse_program(text, "t.lpo")
        got = "ok", spelled((program.imports, program.definitions))
    except LogicpoError as exc:
        got = "error", str(exc), exc.span, exc.hint, exc.source_line
    assert got == _lark(text)


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH])
def test_nesting_up_to_the_limit_is_read(depth):
    nots = "formula f = " + "~" * (depth - 1) + "M(yw)"
    chain = "formula f = " + " -> ".join(["M(yw)"] * depth)
    ops = "structure S = " + "ref(" * (depth - 1) + "X" + ")" * (depth - 1)
    brackets = "formula f = " + "(" * 60 + "M(yw) & M(yl)" + ")" * 60
    for text in (nots, chain, ops, brackets):
        assert _agrees(text), text


@pytest.mark.parametrize("text", [
    "", "   \n# only a comment", "#", "\n\n", "\f\t\r\n",
    "formula AND = And",  # words that are only operators or connectives in lower case or calls
    "formula f = Not | Or",
    "formula f = M(yw)&M(yl)|~Ref(yw)xor!Ref(yl)",  # no spaces
    "formula f = a <-> b <-> c -> d -> e",
    "formula f = ((a & b) & c) & (d & e)",  # a bracketed first operand joins the chain
    "formula f = (a | b) | c xor (d xor e) xor f",
    'structure S "d" = X\nobjective o "x" = 0.5*S - hinge(flip(S), beta=-1, tag="t")',
    "objective o = 2*S+3*T-U",
    "structure S{ok:true,bad:false}",
    "structure S {\n  ok: M(yw) ;\n  bad: M(yl) ,\n}",
    'import "a # b.lpo"\nimport "c.lpo"',
    'formula f "café" = M(yw)  # naïve',  # any character in a string or a comment
])
def test_edge_cases_are_read_alike(text):
    assert _agrees(text), text
