"""Two-level minimisation on bit-masks (logicpo.logic.minimise) against brute force over
every cube and world, and formula_of beyond six atoms (where it replaces SymPy's
Quine-McCluskey, which took minutes on one 10-atom region) against world-by-world
evaluation of the SymPy formula it returns."""

from __future__ import annotations

import itertools
import random

import pytest
import sympy

from logicpo.logic.formulas import SYMBOLS, to_dsl
from logicpo.logic.minimise import cube_mask, prime_implicants, sum_of_products
from logicpo.logic.truth import formula_of


def _worlds(value: int, free: int, n: int) -> set[int]:
    return {k for k in range(1 << n) if (k & ~free) == value}


def _brute_primes(allowed: int, n: int) -> set[tuple[int, int]]:
    """Every cube (value, free) inside ``allowed`` that no other cube inside contains."""
    inside = []
    for free in range(1 << n):
        for value in range(1 << n):
            if value & free:
                continue
            worlds = _worlds(value, free, n)
            if all((allowed >> k) & 1 for k in worlds):
                inside.append(((value, free), worlds))
    return {c for c, w in inside if not any(w < other for _, other in inside)}


def _random_case(rng: random.Random, n: int) -> tuple[int, int]:
    full = (1 << (1 << n)) - 1
    on = rng.getrandbits(1 << n)
    care = full if rng.random() < 0.5 else rng.getrandbits(1 << n) | on
    return on & care, care


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_prime_implicants_are_brute_forces(n):
    rng = random.Random(n)
    for _ in range(25):
        allowed = rng.getrandbits(1 << n)
        assert set(prime_implicants(allowed, n)) == _brute_primes(allowed, n)


def test_cube_mask_is_its_worlds():
    n = 4
    for value, free in itertools.product(range(16), range(16)):
        if value & free:
            continue
        assert cube_mask((value, free), n) == sum(1 << k for k in _worlds(value, free, n))


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7, 8])
def test_the_cover_is_equal_on_the_cared_worlds_and_made_of_primes(n):
    rng = random.Random(100 + n)
    full = (1 << (1 << n)) - 1
    for _ in range(20):
        on, care = _random_case(rng, n)
        if on in (0, care):
            continue
        cubes = sum_of_products(on, full & ~care, n)
        union = 0
        for cube in cubes:
            m = cube_mask(cube, n)
            assert m & ~(on | (full & ~care)) == 0  # an implicant: true only where allowed
            union |= m
        assert union & care == on
        primes = set(prime_implicants(on | (full & ~care), n))
        assert set(cubes) <= primes
        # irredundant: no cube can go
        for cube in cubes:
            rest = 0
            for other in cubes:
                if other != cube:
                    rest |= cube_mask(other, n)
            assert (cube_mask(cube, n) & on) & ~rest


def _evaluate(expr, atoms) -> int:
    """The worlds where a SymPy formula is true, by substituting each world."""
    symbols = [SYMBOLS[a] for a in atoms]
    out = 0
    for k in range(1 << len(atoms)):
        values = {s: sympy.true if (k >> i) & 1 else sympy.false
                  for i, s in enumerate(symbols)}
        if expr.xreplace(values) == sympy.true:
            out |= 1 << k
    return out


@pytest.mark.parametrize("n", [7, 8])
def test_formula_of_beyond_six_atoms_is_the_region(n):
    rng = random.Random(7 * n)
    atoms = tuple(f"M(y{i})" for i in range(n))
    for _ in range(4):
        on, care = _random_case(rng, n)
        formula = formula_of(on, atoms, care)
        assert _evaluate(formula, atoms) & care == on & care
    # a region that is one cube reads as that cube: M(y0) & ~M(y3), whatever else
    free = ((1 << n) - 1) & ~0b1001
    region = cube_mask((0b0001, free), n)
    assert to_dsl(formula_of(region, atoms)) == "M(y0) & ~M(y3)"


def test_formula_of_a_ten_atom_structure_region_is_quick_and_right():
    """The region that took SymPy's SOPform 41 s and POSform 137 s in `show` (cond of a
    10-atom structure): now a cover on bit-masks, checked world by world (1,024 worlds)."""
    atoms = ("M(yw)", "M(yl)") + tuple(f"M(y{i})" for i in range(3, 11))
    n = len(atoms)
    region = 0
    for k in range(1 << n):
        w = [(k >> i) & 1 for i in range(n)]
        ok = w[0] and not any(w[1:])
        bad = w[1] and (w[2] ^ w[3]) and not w[0]
        region |= (ok or bad) << k
    formula = formula_of(region, atoms)
    assert _evaluate(formula, atoms) == region
