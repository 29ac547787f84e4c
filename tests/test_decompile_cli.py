"""The ``decompile`` command: its output, ``--json``, ``--value``, and the internal-error exit.

Expected structures and numbers are derived by hand in each test's docstring.
"""

from __future__ import annotations

import json

import pytest

from logicpo.errors import INTERNAL_EXIT_CODE, InternalError, LogicpoError

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


# ---------------------------------------------------------------- objectives and --value


def said(result) -> str:
    return " ".join(result.output.split())


def test_cli_prints_the_dsl_line_terms_parameters_and_assumptions(run):
    """CPO with its NLL term: logistic(CPO) + logistic(CE, beta=1) (the NLL is -pc)."""
    result = run("decompile", "-logsigmoid(beta*(pc - pr)) - pc")
    assert result.exit_code == 0, result.output
    text = said(result)
    assert "is logistic(CPO) + logistic(CE, beta=1, normalize=none)" in text
    assert "parameter beta: temperature of term 1" in text
    assert "assumes beta > 0" in text
    assert "--beta" in text  # how to give the beta left open
    assert "terms" in text and "-logsigmoid(beta*(pc - pr))" in text


def test_cli_value_binds_a_parameter_by_the_users_name(run):
    result = run("decompile", "--value", "lambda=0.5", "-logsigmoid(beta*(pc - pr)) - lambda*pc")
    assert result.exit_code == 0, result.output
    assert "is logistic(CPO) + 0.5*logistic(CE, beta=1, normalize=none)" in said(result)
    assert "bound lambda = 0.5" in said(result)
    unbound = run("decompile", "-logsigmoid(beta*(pc - pr)) - lambda*pc")
    assert unbound.exit_code == 0
    assert "dsl none: the weight lambda of term 2 is not a number" in said(unbound)
    assert "--value lambda=NUMBER" in said(unbound)


@pytest.mark.parametrize("value, words", [
    ("lambda", "is not NAME=NUMBER"), ("lambda=x", "is not a number"),
    ("lambda=inf", "not a finite number"), ("1x=2", "is not NAME=NUMBER"),
])
def test_cli_value_must_be_name_equals_number(run, value, words):
    result = run("decompile", "--value", value, "-logsigmoid(pc - pr) - lambda*pc")
    assert result.exit_code == 2 and words in said(result)


def test_cli_value_for_a_name_the_loss_lacks_is_a_usage_error(run):
    result = run("decompile", "--value", "lamda=1", "-logsigmoid(pc - pr) - lambda*pc")
    assert result.exit_code == 2
    assert "no parameter 'lamda'" in said(result) and "lambda" in said(result)
    twice = run("decompile", "--value", "lambda=1", "--value", "lambda=2", "-lambda*pc")
    assert twice.exit_code == 2 and "given twice" in said(twice)


def test_cli_json_keys_of_an_objective(run):
    result = run("decompile", "--json", "--value", "lam=0.5",
                 "max(0, 1 - beta*(pc - pr)) - lam*pc")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["dsl"] == "hinge(CPO) + 0.5*logistic(CE, beta=1, normalize=none)"
    assert data["source"] == f"objective decompiled_loss = {data['dsl']}\n"
    assert [(t["f"], t["name"], t["weight"]) for t in data["terms"]] == [
        ("hinge", "CPO", 1.0), ("logistic", "CE", 0.5)]
    assert data["terms"][1]["text"] == "-lam*pc"
    assert data["parameters"] == [{"name": "beta", "roles": ["temperature of term 1"],
                                   "assumption": "beta > 0"}]
    assert data["values"] == {"lam": 0.5} and data["assumptions"] == ["beta > 0"]
    assert data["open_params"] == {"beta": "beta"} and data["dsl_problem"] is None
    assert data["round_trip"]["points"] == 5 and data["round_trip"]["max_rel_error"] < 1e-9
    assert "name" not in data  # several terms: no one structure at the top


def test_cli_warns_when_a_term_prefers_the_loser(run):
    result = run("decompile", "--json", "-logsigmoid((pr - rr) - (pc - rc))")
    data = json.loads(result.output)
    assert data["dsl"] == "logistic(flip(DPO), beta=1)"
    assert data["terms"][0]["matches"][0] == "flip(DPO)"
    assert any("prefers the loser" in w for w in data["warnings"])
    text = run("decompile", "-logsigmoid((pr - rr) - (pc - rc))")
    assert "warning:" in text.output and "prefers the loser" in said(text)
