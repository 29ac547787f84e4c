"""Two-level minimisation of a truth table given as bit-masks, for many atoms.

A region over ``n`` atoms is a ``2^n``-bit integer (bit ``k`` is world ``k``, atom ``i``
true in it when bit ``i`` of ``k`` is set; see :mod:`logicpo.logic.truth`). A *cube* is a
conjunction of literals: ``(value, free)`` with ``free`` the atoms it leaves out and
``value`` the truth of the others (0 on ``free``).

:func:`sum_of_products` finds every prime implicant bit-parallel: for each set of free
atoms ``F`` the values of the allowed cubes are one integer, ``S[F | {i}] = S[F] & (S[F] >>
2^i)`` on the values with atom ``i`` false, so the ``3^n`` cubes cost ``n 2^n`` big-integer
operations, not ``3^n`` set lookups. The cover is the essential primes, then the prime that
covers most of what is left (fewest literals on ties), then a pass that drops any prime the
others cover: not always the smallest cover (that is NP-hard), always an equal formula.

SymPy's ``SOPform``/``POSform`` (Quine-McCluskey on lists of rows) find the same primes in
``O(3^n)`` Python steps with pairwise comparisons: 40 to 140 s for one 10-atom region, where
this takes milliseconds. :func:`logicpo.logic.truth.formula_of` keeps SymPy's exact minimum
for up to :data:`SYMPY_MAX_ATOMS` atoms (the paper's formulas) and uses this beyond.
"""

from __future__ import annotations

from logicpo.logic.truth import atom_mask, full_mask

#: formula_of minimises with SymPy up to this many atoms (64 worlds), with this module beyond
SYMPY_MAX_ATOMS = 6

Cube = tuple[int, int]  # (value, free)


def prime_implicants(allowed: int, n: int) -> list[Cube]:
    """Every cube inside ``allowed`` (the worlds where the formula may be true) that no
    larger cube inside ``allowed`` contains, as ``(value, free)``."""
    full = full_mask(n)
    false_at = [full ^ atom_mask(i, n) for i in range(n)]  # values with atom i false
    inside: dict[int, int] = {0: allowed}  # free set -> the values of the cubes inside
    for free in range(1, 1 << n):  # a free set after all its subsets (numeric order)
        low = free & -free
        i = low.bit_length() - 1
        below = inside.get(free ^ low, 0)
        inside[free] = below & (below >> low) & false_at[i] if below else 0
    primes: list[Cube] = []
    for free, values in inside.items():
        if not values:
            continue
        extendable = 0
        for i in range(n):
            b = 1 << i
            if free & b:
                continue
            bigger = inside.get(free | b, 0)
            if bigger:
                extendable |= bigger | (bigger << b)
        prime = values & ~extendable
        while prime:
            low = prime & -prime
            primes.append((low.bit_length() - 1, free))
            prime ^= low
    return primes


def cube_mask(cube: Cube, n: int) -> int:
    """The worlds of a cube."""
    value, free = cube
    m = full_mask(n)
    for i in range(n):
        if not (free >> i) & 1:
            m &= atom_mask(i, n) if (value >> i) & 1 else ~atom_mask(i, n)
    return m


def sum_of_products(on: int, dont_care: int, n: int) -> list[Cube]:
    """Cubes whose union is ``on`` up to the worlds in ``dont_care`` (``on`` and
    ``dont_care`` disjoint, ``on`` not empty): a cover of ``on`` by prime implicants."""
    primes = prime_implicants(on | dont_care, n)
    masks = [cube_mask(p, n) & on for p in primes]
    literals = [n - bin(free).count("1") for _, free in primes]
    once = twice = 0
    for m in masks:
        twice |= once & m
        once |= m
    unique = once & ~twice
    chosen = [k for k, m in enumerate(masks) if m & unique]
    left = on
    for k in chosen:
        left &= ~masks[k]
    while left:
        k = max((k for k in range(len(primes)) if masks[k] & left),
                key=lambda k: (bin(masks[k] & left).count("1"), -literals[k], -k))
        chosen.append(k)
        left &= ~masks[k]
    # drop what the others cover, the longest first
    for k in sorted(chosen, key=lambda k: (-literals[k], k)):
        rest = 0
        for j in chosen:
            if j != k:
                rest |= masks[j]
        if masks[k] & ~rest == 0:
            chosen.remove(k)
    return sorted((primes[k] for k in chosen), key=lambda c: (n - bin(c[1]).count("1"), c))
