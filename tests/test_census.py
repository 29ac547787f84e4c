"""The census by counting, against hand derivations, a SymPy brute force and the enumeration.

The brute force shares no code with ``logicpo.reasoning.census``: it builds every world set's
WMC as a SymPy polynomial, factors it with ``sympy.factor_list`` and tells losses apart by
their ratio in lowest terms (unique factorisation in Q[w]), pair by pair.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
import sympy
from click.testing import CliRunner

from logicpo.reasoning.census import coprime_pairs, count_census, irreducible
from logicpo.reasoning.landscape import census as enumerate_census


def _wmc(m: int, n: int, xs) -> sympy.Expr:
    total = sympy.Integer(0)
    for k in range(1 << n):
        if (m >> k) & 1:
            term = sympy.Integer(1)
            for i in range(n):
                term *= xs[i] if (k >> i) & 1 else 1 - xs[i]
            total += term
    return sympy.expand(total)


def _factorisation(expr, xs) -> tuple[sympy.Rational, Counter]:
    """Content and the multiset of monic irreducible factors of a non-zero polynomial."""
    content, parts = sympy.factor_list(expr, *xs)
    factors: Counter = Counter()
    for f, mult in parts:
        p = sympy.Poly(f, *xs, domain="QQ")
        content *= p.LC() ** mult
        factors[p.monic().as_expr()] += mult
    return sympy.Rational(content), factors


@pytest.fixture(scope="module", params=[1, 2, 3])
def brute(request):
    """(n, irreducible world sets by support size, degenerate pairs, distinct losses)."""
    n = request.param
    xs = sympy.symbols(f"x0:{n}")
    sets = 1 << (1 << n)
    fact = {m: _factorisation(_wmc(m, n, xs), xs) for m in range(1, sets)}
    by_support = [0] * (n + 1)
    for _, fs in fact.values():
        if sum(fs.values()) == 1:
            (f,) = fs
            by_support[len(f.free_symbols)] += 1
    degenerate, losses = 0, set()
    for t in range(sets):
        for b in range(sets):
            if t == 0 or b == 0 or t == b:
                degenerate += 1
                continue
            (ct, ft), (cb, fb) = fact[t], fact[b]
            # The ratio in lowest terms: equal keys iff equal rational functions.
            losses.add((ct / cb, frozenset((ft - fb).items()), frozenset((fb - ft).items())))
    return n, by_support, degenerate, len(losses)


def test_counting_agrees_with_sympy_brute_force(brute):
    n, by_support, degenerate, distinct = brute
    r = count_census(n)
    assert r.irreducible_over_atoms == by_support
    assert r.degenerate == degenerate
    assert r.distinct == distinct
    assert r.pairs == 4 ** (2 ** n)
    assert r.nondegenerate == r.pairs - degenerate
    assert r.distinct_with_degenerate == distinct + 4


def test_irreducible_by_hand():
    """One atom: w and 1 - w. Two atoms, both in the support: 10 world sets (16 minus the
    5 that ignore an atom and the empty one). The 4 single worlds are products of two
    literals; the 2 diagonals {FF, TT}, {TF, FT} and the 4 three-world sets (1 minus a
    product of two literals) are irreducible: 6."""
    assert [irreducible(k) for k in range(3)] == [0, 2, 6]


def test_one_atom_by_hand():
    """Coprime pairs of non-empty world sets over one atom: among {w, 1-w, 1}, the pairs not
    sharing w or 1 - w: 9 - 2 = 7 (only (w, w) and (1-w, 1-w) share). Minus (1, 1): 6."""
    assert coprime_pairs(1) == 7
    r = count_census(1)
    assert (r.pairs, r.degenerate, r.distinct, r.distinct_with_degenerate) == (16, 10, 6, 10)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_counting_agrees_with_enumeration(n):
    counted, listed = count_census(n), enumerate_census(n)
    for row in ("pairs", "degenerate", "nondegenerate", "distinct", "distinct_with_degenerate"):
        assert getattr(counted, row) == getattr(listed, row), row


def test_counting_agrees_with_the_recorded_four_atom_enumeration():
    """N = 4 enumeration takes about 14 s on 2 cores, too slow for the suite. These are the
    figures that `logicpo census --atoms 4 --method enumerate` produced (docs/landscape.md,
    "The figures"), and again by the same command on 2026-12-01 (same four numbers)."""
    r = count_census(4)
    assert r.pairs == 4_294_967_296
    assert r.degenerate == 196_606
    assert r.distinct == 4_294_246_506
    assert r.distinct_with_degenerate == 4_294_246_510


def test_cli_counts_eight_atoms_exactly():
    from logicpo.cli import main

    out = CliRunner().invoke(main, ["census", "--atoms", "8", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    # Closed forms by hand: 4^(2^8) pairs, 3 * 2^(2^8) - 2 degenerate.
    assert data["pairs"] == 4 ** 256 and data["degenerate"] == 3 * 2 ** 256 - 2
    assert isinstance(data["distinct"], int) and len(str(data["distinct"])) == 155
    assert data["distinct"] < data["nondegenerate"]
    assert 0 < data["one_minus_ratio"] < 1e-70
    assert data["irreducible_per_support"][:3] == [0, 2, 6]


def test_cli_refuses_what_it_cannot_do():
    from logicpo.cli import main

    runner = CliRunner()
    out = runner.invoke(main, ["census", "--atoms", "5", "--method", "enumerate"])
    assert out.exit_code == 2 and "enumerat" in out.output
    out = runner.invoke(main, ["census", "--atoms", "3", "--workers", "2"])
    assert out.exit_code == 2 and "--method enumerate" in out.output
