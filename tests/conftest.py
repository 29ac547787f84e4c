"""Shared test fixtures: the spec's tables, written out by hand from semantics.md."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

# Spec section 5: worlds over (M(yw), M(yl)) as ok / bad.
SPEC_REGIONS = {
    "CE": ("TT TF", "FT FF"),
    "CEUnl": ("TF", "TT FT FF"),
    "CPO": ("TT TF", "TT FT"),
    "ORPO": ("TF", "FT"),
    "cCPO": ("TT TF", "FT"),
    "unCPO": ("TT TF FF", "FT"),
    "cfUnl": ("TF FF", "FT"),
    "qfUnl": ("TF FF", "FT FF"),
    "fUnl": ("TF FF", "TT FT"),
    "cUNL": ("TF", "TT FT"),
    "l20": ("TF FF", "TT FT FF"),
    "sCE": ("TT TF", "TT FT FF"),
}

# Spec section 5: the (P, P_C, P_A) column, in DSL spelling.
SPEC_PCA = {
    "CE": ("M(yw)", "true", "false"),
    "CEUnl": ("M(yw) & ~M(yl)", "true", "false"),
    "CPO": ("M(yl) -> M(yw)", "M(yl) | M(yw)", "M(yw) & M(yl)"),
    "ORPO": ("M(yl) -> M(yw)", "M(yl) xor M(yw)", "false"),
    "cCPO": ("M(yl) -> M(yw)", "M(yl) | M(yw)", "false"),
    "unCPO": ("M(yl) -> M(yw)", "true", "false"),
    "cfUnl": ("M(yl) -> M(yw)", "~(M(yw) & M(yl))", "false"),
    "qfUnl": ("M(yl) -> M(yw)", "~(M(yw) & M(yl))", "~M(yw) & ~M(yl)"),
    "fUnl": ("~M(yl)", "true", "false"),
    "cUNL": ("~M(yl)", "M(yl) | M(yw)", "false"),
    "l20": ("~M(yl)", "true", "~M(yw) & ~M(yl)"),
    "sCE": ("M(yw)", "true", "M(yw) & M(yl)"),
}

SINGLE = tuple(SPEC_REGIONS)


def tf_to_bits(worlds: str) -> list[str]:
    """'TT TF' -> ['11', '10'] (character i is atom i: M(yw), M(yl))."""
    return [w.replace("T", "1").replace("F", "0") for w in worlds.split()]


@pytest.fixture(scope="session")
def zoo():
    from logicpo.program import zoo as load_zoo

    return load_zoo()


@pytest.fixture()
def run():
    """``run(*args)``: the CLI on ``args`` (any values, given as strings), its exceptions not
    caught, so a traceback fails the test instead of passing as an exit code."""
    from logicpo.cli import main

    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


def spelled(node):
    """Every field of every AST node, spans included (spans do not take part in ==): what a
    reader of a parse sees, for the tests that compare two parsers."""
    import dataclasses

    if isinstance(node, tuple | list):
        return tuple(spelled(n) for n in node)
    if dataclasses.is_dataclass(node):
        return (type(node).__name__, *(
            (f.name, spelled(getattr(node, f.name))) for f in dataclasses.fields(node)))
    return node


def ctrl_c_at(kind: str, key: str | None = None, value=None):
    """A training event callback that interrupts (as Ctrl-C does) at the first event
    ``kind`` whose record has ``key == value`` (any event ``kind`` when no key is given)."""
    def on_event(k, rec):
        if k == kind and (key is None or rec.get(key) == value):
            raise KeyboardInterrupt
    return on_event
