"""Issue 10, files and command lines: what a command reads, what it writes, how it parses.

Each test here failed on the code before the fix it names.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from logicpo.cli import main


@pytest.fixture()
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


# ---------------------------------------------------------------- decompile's command line


@pytest.fixture()
def received(monkeypatch):
    """The expressions the decompiler is handed (it stops there with a usage error)."""
    import logicpo.logic.decompile as module
    from logicpo.errors import UsageError

    seen: list[tuple[str, int]] = []

    def spy(expr, file="<expr>", check_points=5):
        seen.append((expr, check_points))
        raise UsageError("stopped by the test")

    monkeypatch.setattr(module, "decompile", spy)
    return seen


@pytest.mark.parametrize("words", [
    ["-logsigmoid(policy_chosen_logps - policy_rejected_logps)"],  # TRL's names: an 'h'
    ["-logsigmoid(alpha*(pc - pr))"],
    ["-h*pc"],
    ["--pc"],
    ["-logsigmoid(pc", "-", "pr)"],
    ["--", "-h"],
    ["--", "--json"],
])
def test_decompile_reads_every_word_as_the_expression(run, received, words):
    """Before: click read '-logsigmoid(...policy...)' as short options; its 'h' was -h, so
    the help was printed with exit 0 and nothing was decompiled."""
    result = run("decompile", *words)
    expected = " ".join(w for w in words if w != "--")
    assert received == [(expected, 5)], result.output
    assert result.exit_code == 2 and "stopped by the test" in result.output


def test_decompile_options_still_work_around_the_expression(run, received):
    assert run("decompile", "--json", "-pc", "--points", "3").exit_code == 2
    assert run("decompile", "--points=7", "-logsigmoid(pc - pr)", "--json").exit_code == 2
    assert received == [("-pc", 3), ("-logsigmoid(pc - pr)", 7)]
    assert run("decompile", "--help").output.startswith("Usage: main decompile")
    assert run("decompile", "-h").output.startswith("Usage: main decompile")
    assert received == [("-pc", 3), ("-logsigmoid(pc - pr)", 7)]


def test_decompile_end_to_end_with_trl_names(run):
    """-logsigmoid(pc - pr) is CPO's loss at beta = 1 (spec section 5, single-model)."""
    result = run("decompile", "--json", "-logsigmoid(policy_chosen_logps - "
                 "policy_rejected_logps)")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["name"], data["f"]) == ("CPO", "logistic")


@pytest.mark.parametrize("points", ["-3", "0", "x"])
def test_decompile_points_must_be_a_positive_integer(run, received, points):
    """Before: --points -3 was accepted (and checked the round trip at no point)."""
    result = run("decompile", "--points", points, "-logsigmoid(pc - pr)")
    assert result.exit_code == 2 and "--points" in result.output
    assert received == []


def test_decompile_option_without_its_value(run, received):
    result = run("decompile", "-logsigmoid(pc - pr)", "--points")
    assert result.exit_code == 2 and "requires an argument" in result.output
    assert received == []


OPTION_WORDS = {"--", "-h", "--help", "--json", "--points"}  # the only words that are not text
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-()*+/ .0123456789", min_size=1,
               max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(first=WORD, rest=st.lists(WORD, max_size=3), as_json=st.booleans())
def test_fuzz_decompile_command_line_reads_expressions(first, rest, as_json):
    """Random words, the first starting with '-': all of them reach the decompiler, in order."""
    import logicpo.logic.decompile as module
    from logicpo.errors import UsageError

    seen = []

    def spy(expr, file="<expr>", check_points=5):
        seen.append(expr)
        raise UsageError("stopped by the test")

    words = ["-" + first, *rest]
    assume(not OPTION_WORDS.intersection(words))
    original = module.decompile
    module.decompile = spy
    try:
        result = CliRunner().invoke(main, ["decompile", *(["--json"] if as_json else []),
                                           *words], catch_exceptions=False)
    finally:
        module.decompile = original
    assert seen == [" ".join(words)], result.output
    assert result.exit_code == 2
