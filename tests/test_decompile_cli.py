"""The ``decompile`` command: its output, ``--json``, ``--value``, and the internal-error exit.

Expected structures and numbers are derived by hand in each test's docstring.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from logicpo.cli import main
from logicpo.errors import INTERNAL_EXIT_CODE, InternalError, LogicpoError


@pytest.fixture()
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


# ---------------------------------------------------------------- a bug is not a user error


def test_round_trip_failure_is_an_internal_error_not_a_user_error():
    """A wrong decompilation must never be swallowed by ``except LogicpoError``."""
    from logicpo.decompiler import RoundTripError

    assert issubclass(RoundTripError, InternalError)
    assert not issubclass(RoundTripError, LogicpoError)
    with pytest.raises(RoundTripError):
        try:
            raise RoundTripError("round trip failed")
        except LogicpoError:  # what the fuzz tests catch: it must not catch this
            pytest.fail("RoundTripError was caught as a user error")


@pytest.fixture()
def broken_round_trip(monkeypatch):
    """Every decompilation fails its round trip, as a bug in logicpo would."""
    import logicpo.decompiler.pipeline as module
    from logicpo.decompiler import RoundTripError

    def fail(*args, **kwargs):
        raise RoundTripError("round trip failed for 'x': differs by 0.5")

    monkeypatch.setattr(module, "round_trip", fail)


def test_cli_reports_an_internal_error_with_its_own_exit_code(run, broken_round_trip):
    result = run("decompile", "-logsigmoid(pc - pr)")
    assert result.exit_code == INTERNAL_EXIT_CODE == 70
    assert "internal error" in result.output and "please report it" in result.output
    assert "round trip failed" in result.output


def test_cli_json_marks_an_internal_error(run, broken_round_trip):
    result = run("decompile", "--json", "-logsigmoid(pc - pr)")
    assert result.exit_code == INTERNAL_EXIT_CODE
    data = json.loads(result.output[:result.output.rindex("}") + 1])
    assert data["internal"] is True and data["error"] == "RoundTripError"
    assert "report" in data["report"]
