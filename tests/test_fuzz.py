"""Random text and mutated valid files: nothing but a logicpo error (or success) comes out."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logicpo.errors import LogicpoError
from logicpo.program import load_text

CORPUS = Path(__file__).parent / "corpus" / "valid"
SEEDS = [p.read_text() for p in sorted(CORPUS.glob("*.lpo")) if "import" not in p.read_text()]
SEEDS.append((Path(__file__).parents[1] / "logicpo" / "zoo.lpo").read_text().replace(
    'import "losses.lpo"', "").replace('import "beyond.lpo"', ""))
ALPHABET = st.sampled_from(list("MRef()ywl~&|!-><=*+,.;:{}#\"\n 01xortuandfls_") +
                           ["M(yw)", "M(yl)", "Ref(yw)", "->", "<->", "structure", "formula",
                            "objective", "core:", "ok:", "bad:", "ref(", "flip(", "import "])

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def _check(text: str) -> None:
    try:
        program = load_text(text, "fuzz.lpo")
        program.check_all()
        for name in program.names_of("structure", user_only=True):
            program.structure(name).truth_table()
    except LogicpoError as exc:
        exc.render()  # rendering an error never fails either


@FUZZ
@given(st.text(max_size=200))
def test_random_text(text):
    _check(text)


@FUZZ
@given(st.lists(ALPHABET, max_size=60).map("".join))
def test_random_tokens(text):
    _check(text)


@FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_valid_files(seed, data):
    text = seed
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["delete", "insert", "swap"]))
        i = data.draw(st.integers(0, max(0, len(text) - 1)))
        j = data.draw(st.integers(i, min(len(text), i + 12)))
        if kind == "delete":
            text = text[:i] + text[j:]
        elif kind == "insert":
            text = text[:i] + data.draw(ALPHABET) + text[i:]
        else:
            text = text[:i] + text[j:j + (j - i)] + text[i:j] + text[j + (j - i):]
    _check(text)


# ------------------------------------------------------------ what check accepts, runs

_ATOMS = ["M(yw)", "M(yl)", "Ref(yw)", "Ref(yl)", "true", "false"]
_FAMILY_PARAMS = {
    "logistic": ["beta=0.5", "gamma=0.2", "label_smoothing=0.1", "normalize=length"],
    "hinge": ["beta=2", "gamma=1"], "square": ["beta=0.3"],
    "robust": ["label_smoothing=0.2"], "exo": ["label_smoothing=0.01", "beta=0.1"],
    "sigmoid": ["gamma=0.5"], "discopop": ["tau=0.1"],
}


def _formula(depth: int):
    leaf = st.sampled_from(_ATOMS + ["f0", "f1"])
    if depth == 0:
        return leaf
    sub = _formula(depth - 1)
    return st.one_of(
        leaf,
        sub.map(lambda a: f"~{a}"),
        st.tuples(sub, st.sampled_from([" & ", " | ", " xor ", " -> ", " <-> "]), sub)
        .map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
    )


@st.composite
def _programs(draw):
    lines = [f"formula f0 = {draw(_formula(2)).replace('f0', 'M(yw)').replace('f1', 'M(yl)')}",
             f"formula f1 = {draw(_formula(2)).replace('f1', 'f0')}"]
    structures = ["CPO", "DPO", "W"]
    for i in range(draw(st.integers(1, 3))):
        shape = draw(st.sampled_from(["core", "core", "core_cond", "regions"]))
        if shape == "core":  # ok = P, bad = ~P: a loss unless P is constant
            lines.append(f"structure s{i} {{ core: {draw(_formula(3))} }}")
        elif shape == "core_cond":
            lines.append(f"structure s{i} {{ core: {draw(_formula(3))}, "
                         f"cond: {draw(_formula(2))} }}")
        else:
            lines.append(f"structure s{i} {{ ok: {draw(_formula(3))}; bad: {draw(_formula(3))} }}")
        structures.append(f"s{i}")
    target = draw(st.sampled_from(structures))
    target = draw(st.sampled_from([target, target, f"flip({target})", f"ref({target})"]))
    family = draw(st.sampled_from(sorted(_FAMILY_PARAMS)))
    params = draw(st.lists(st.sampled_from(_FAMILY_PARAMS[family]), max_size=2, unique=True))
    weight = draw(st.sampled_from(["", "0.5*", "2*", "0*"]))
    extra = draw(st.sampled_from(["", " + sigmoid", " - 0.5*CPO", " + sft"]))
    lines.append(f"objective o = {weight}{family}({', '.join([target, *params])}){extra}")
    return "\n".join(lines) + "\n"


# Refusals documented for a program check accepted: none. A LogicpoError from compile or
# eval after check said the file is fine is a failure, as is any other exception.
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(_programs())
def test_what_check_accepts_compiles_and_evaluates(text):
    import torch

    from logicpo.logic.diagnostics import diagnose
    from logicpo.numbers.api import compile_objective, instantiate

    try:
        program = load_text(text, "fuzz.lpo")
        program.check_all()
        items = [program.structure(n) if program.kind(n) == "structure" else
                 program.objective(n) for n in program.user_names if program.kind(n) != "formula"]
        if any(d.severity == "error" for item in items for d in diagnose(item)):
            return  # check refuses this file
    except LogicpoError:
        return
    point = [torch.tensor([v], dtype=torch.float64) for v in (-1.2, -2.3, -1.5, -1.9)]
    lengths = [torch.tensor([3.0], dtype=torch.float64), torch.tensor([5.0], dtype=torch.float64)]
    for item in items:
        objective = program.objective(item.name)
        module = instantiate(compile_objective(item.name, objective, {},
                                               paper=program.kind(item.name) == "structure"))
        out = module(*point, *lengths)
        assert out.losses.shape == (1,)
