"""The census of the ``4^(2^N)`` pairs ``(ok, bad)`` over ``N`` atoms, by counting.

No pair is visited: the number of distinct loss functions follows from how world sets
factor (``docs/landscape.md``, "Counting without enumerating", has the proof).

* Every non-empty world set is, in exactly one way, a conjunction of *irreducible* world sets
  on disjoint blocks of atoms (its factor cylinders). So the world sets whose support is a
  given ``k``-set are the set partitions of it with an irreducible world set on each block,
  and ``irreducible(k)`` follows from ``regions_with_support(k)`` by splitting off the block
  that holds the first atom.
* A distinct non-degenerate loss is a coprime pair other than ``(every, every)``. Coprime
  pairs are counted by Möbius inversion over the common square-free divisors ``g`` (every
  world-set polynomial is square-free): ``sum_g mu(g) * (number of world sets divisible by
  g)^2``, and the world sets divisible by ``g`` are ``g`` times any non-empty world set over
  the ``N - |support(g)|`` other atoms.

Everything is exact Python integer arithmetic, a few dozen operations per ``N``.

>>> r = count_census(2)
>>> r.pairs, r.degenerate, r.distinct, r.irreducible_per_support
(256, 46, 186, [0, 2, 6])
>>> len(str(count_census(8).distinct))      # exact, 155 digits
155
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from math import comb

# The four degenerate loss functions (spec 3): undefined, +inf, 0 and log 2. Each occurs
# for every N >= 1: (empty, empty), (empty, every), (every, empty), (every, every).
DEGENERATE_FUNCTIONS = 4


def regions(k: int) -> int:
    """Non-empty world sets over ``k`` atoms: ``2^(2^k) - 1``."""
    return (1 << (1 << k)) - 1


@cache
def regions_with_support(k: int) -> int:
    """Non-empty world sets over ``k`` atoms that depend on every one of them.

    Inclusion-exclusion over the atoms left out: a world set whose support lies inside a
    ``j``-set is a non-empty world set over those ``j`` atoms.

    >>> [regions_with_support(k) for k in range(4)]
    [1, 2, 10, 218]
    """
    return sum((-1) ** (k - j) * comb(k, j) * regions(j) for j in range(k + 1))


@cache
def irreducible(k: int) -> int:
    """Irreducible world sets whose support is a given set of ``k`` atoms (0 for ``k = 0``:
    the world set of every world is the constant 1, a unit).

    A world set with support ``S`` is a set partition of ``S`` with an irreducible world set
    on each block; the block of the first atom has ``j`` atoms (``comb(k-1, j-1)`` choices)
    and leaves a world set with support the other ``k - j`` atoms:
    ``R(k) = sum_j comb(k-1, j-1) * I(j) * R(k-j)``, solved here for ``I(k)``.

    >>> [irreducible(k) for k in range(5)]
    [0, 2, 6, 174, 62934]
    """
    if k == 0:
        return 0
    split = sum(comb(k - 1, j - 1) * irreducible(j) * regions_with_support(k - j)
                for j in range(1, k))
    return regions_with_support(k) - split


@cache
def signed_divisors(k: int) -> int:
    """``sum mu(g)`` over the world sets ``g`` with support a given ``k``-set, where
    ``mu(g) = (-1)^(number of irreducible factors)``: the same set partitions as in
    :func:`irreducible`, each block weighted ``-I(j)``.

    >>> [signed_divisors(k) for k in range(4)]
    [1, -2, -2, -146]
    """
    if k == 0:
        return 1
    return sum(comb(k - 1, j - 1) * -irreducible(j) * signed_divisors(k - j)
               for j in range(1, k + 1))


def coprime_pairs(n: int) -> int:
    """Pairs ``(ok, bad)`` of non-empty world sets over ``n`` atoms sharing no irreducible
    factor: ``sum_k comb(n, k) * signed_divisors(k) * regions(n - k)^2``.

    >>> [coprime_pairs(n) for n in range(1, 4)]
    [7, 187, 63475]
    """
    return sum(comb(n, k) * signed_divisors(k) * regions(n - k) ** 2 for k in range(n + 1))


@dataclass
class CountedCensus:
    """The census of the ``4^(2^n)`` pairs over ``n`` atoms, counted (exact integers)."""

    atoms: int
    pairs: int
    degenerate: int
    nondegenerate: int
    distinct: int  # distinct non-degenerate loss functions (= coprime pairs but (every, every))
    distinct_with_degenerate: int  # plus undefined, +inf, 0 and log 2
    irreducible_per_support: list[int]  # [k]: irreducible world sets with support one k-set
    irreducible_over_atoms: list[int]  # [k]: irreducible world sets over n atoms, |support| = k
    seconds: float
    method: str = "count: Möbius inversion over common factors (docs/landscape.md)"
    complete: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> Fraction:
        return bound_ratio(self.distinct, self.atoms)

    def to_json(self) -> dict:
        from dataclasses import asdict

        out = asdict(self)
        out.update(ratio_json(self.distinct, self.atoms))
        return out


def bound_ratio(distinct: int, n: int) -> Fraction:
    """Distinct non-degenerate losses over the paper's bound ``4^(2^n)`` (exact)."""
    return Fraction(distinct, 4 ** (1 << n))


def ratio_json(distinct: int, n: int) -> dict:
    """The ratio to ``4^(2^n)`` as floats: itself, ``1 - ratio`` (tiny for large ``n``,
    computed exactly before rounding) and ``log10`` of both counts."""
    r = bound_ratio(distinct, n)
    return {"ratio_to_bound": float(r), "one_minus_ratio": float(1 - r),
            "log10_distinct": math.log10(distinct), "log10_bound": (1 << n) * math.log10(4)}


def count_census(n: int) -> CountedCensus:
    """Count the degenerate pairs and the distinct loss functions over ``n`` atoms.

    Degenerate pairs: ``ok`` empty (``2^(2^n)`` pairs), else ``bad`` empty
    (``2^(2^n) - 1``), else ``ok = bad`` (``2^(2^n) - 1``). The distinct non-degenerate
    losses are the coprime pairs but ``(every, every)``, the one coprime pair with
    ``ok = bad`` (see :func:`coprime_pairs`).
    """
    if n < 1:
        raise ValueError("the census needs at least one atom")
    start = time.perf_counter()
    sets = 1 << (1 << n)
    pairs = sets * sets
    degenerate = 3 * sets - 2
    distinct = coprime_pairs(n) - 1
    per_support = [irreducible(k) for k in range(n + 1)]
    return CountedCensus(
        atoms=n, pairs=pairs, degenerate=degenerate, nondegenerate=pairs - degenerate,
        distinct=distinct, distinct_with_degenerate=distinct + DEGENERATE_FUNCTIONS,
        irreducible_per_support=per_support,
        irreducible_over_atoms=[comb(n, k) * i for k, i in enumerate(per_support)],
        seconds=time.perf_counter() - start)
