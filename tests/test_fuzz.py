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
    'import "losses.lpo"', ""))
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
