"""Worlds and truth tables as bitmasks: the fast, exact engine under every region.

A *world* over atoms ``a_0 .. a_{n-1}`` is an index ``k`` in ``range(2**n)``; atom ``i``
is true in it iff bit ``i`` of ``k`` is set. A formula's *mask* is the integer whose
bit ``k`` is set iff the formula is true in world ``k``. Its *bitstring* spells the
world with character ``i`` = ``1`` when atom ``i`` is true (the JSON contract).

>>> from logicpo.logic.formulas import atom, ATOMS_SINGLE
>>> import sympy
>>> m = mask(sympy.Implies(atom("M(yl)"), atom("M(yw)")), ATOMS_SINGLE)
>>> [world_bits(k, 2) for k in worlds_in(m, 2)]
['11', '10', '00']
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy.logic.boolalg import Boolean

from logicpo.logic.formulas import SYMBOLS, decompose, size


def full_mask(n: int) -> int:
    return (1 << (1 << n)) - 1


def atom_mask(i: int, n: int) -> int:
    """Mask of the worlds in which atom ``i`` (of ``n``) is true."""
    return sum(1 << k for k in range(1 << n) if (k >> i) & 1)


def mask(expr: Boolean, atoms: tuple[str, ...]) -> int:
    """The truth table of ``expr`` over ``atoms``, as a bitmask."""
    n = len(atoms)
    index = {name: i for i, name in enumerate(atoms)}
    full = full_mask(n)

    def go(e) -> int:
        op, args = decompose(e)
        if op == "atom":
            if args[0] not in index:
                raise ValueError(f"atom {args[0]} is not among {atoms}")
            return atom_mask(index[args[0]], n)
        if op == "const":
            return full if args[0] else 0
        vals = [go(a) for a in args]
        if op == "not":
            return full & ~vals[0]
        if op == "and":
            out = full
            for v in vals:
                out &= v
            return out
        if op == "or":
            out = 0
            for v in vals:
                out |= v
            return out
        if op == "xor":
            out = 0
            for v in vals:
                out ^= v
            return out
        if op == "implies":
            return full & (~vals[0] | vals[1])
        if op == "iff":
            return full & ~(vals[0] ^ vals[1])
        raise AssertionError(op)

    return go(expr)


def lift(m: int, atoms: tuple[str, ...], to: tuple[str, ...]) -> int:
    """Re-express a mask over ``atoms`` as a mask over the superset ``to``."""
    if atoms == to:
        return m
    pos = [to.index(a) for a in atoms]
    out = 0
    for k in range(1 << len(to)):
        small = sum(((k >> p) & 1) << i for i, p in enumerate(pos))
        if (m >> small) & 1:
            out |= 1 << k
    return out


def worlds_in(m: int, n: int) -> list[int]:
    """World indices in ``m``, in display order (all-true first: TT, TF, FT, FF)."""
    return [k for k in display_order(n) if (m >> k) & 1]


def display_order(n: int) -> list[int]:
    return sorted(range(1 << n), key=lambda k: world_bits(k, n), reverse=True)


def world_bits(k: int, n: int) -> str:
    """``'10'`` for the world where atom 0 is true and atom 1 false."""
    return "".join("1" if (k >> i) & 1 else "0" for i in range(n))


@dataclass(frozen=True)
class World:
    """One truth assignment, named for people.

    >>> World(("M(yw)", "M(yl)"), 0b01).describe()
    'M(yw)=T, M(yl)=F'
    """

    atoms: tuple[str, ...]
    index: int

    @property
    def bits(self) -> str:
        return world_bits(self.index, len(self.atoms))

    @property
    def values(self) -> dict[str, bool]:
        return {a: bool((self.index >> i) & 1) for i, a in enumerate(self.atoms)}

    @property
    def short(self) -> str:
        """``TF``-style spelling, as the paper writes worlds."""
        return "".join("T" if c == "1" else "F" for c in self.bits)

    def describe(self) -> str:
        return ", ".join(f"{a}={'T' if v else 'F'}" for a, v in self.values.items())


def formula_of(m: int, atoms: tuple[str, ...], care: int | None = None) -> Boolean:
    """A smallest readable formula equal to mask ``m`` on the worlds in ``care``.

    Worlds outside ``care`` are don't-cares. Minimal sum-of-products and
    product-of-sums forms are both tried; the one with fewer atom occurrences wins.

    >>> from logicpo.logic.formulas import ATOMS_SINGLE, to_dsl
    >>> to_dsl(formula_of(0b0010, ATOMS_SINGLE))   # only TF
    'M(yw) & ~M(yl)'
    >>> to_dsl(formula_of(0b0010, ATOMS_SINGLE, care=0b0110))   # TF among {TF, FT}
    'M(yw)'
    """
    n = len(atoms)
    full = full_mask(n)
    care = full if care is None else care
    on = m & care
    if on == 0:
        return sympy.false
    if on == care:
        return sympy.true
    symbols = [SYMBOLS[a] for a in atoms]

    def rows(mm: int):
        return [[(k >> i) & 1 for i in range(n)] for k in range(1 << n) if (mm >> k) & 1]

    dont = rows(full & ~care)
    candidates = [
        sympy.SOPform(symbols, rows(on), dont),
        sympy.POSform(symbols, rows(on), dont),
    ]
    # Single literals that already fit are the most readable of all.
    for i, sym in enumerate(symbols):
        a = atom_mask(i, n)
        for lit, lm in ((sym, a), (sympy.Not(sym), full & ~a)):
            if lm & care == on:
                candidates.append(lit)
    # The paper's "one-hot" constraint reads best as an exclusive or.
    for i in range(n):
        for j in range(i + 1, n):
            if (atom_mask(i, n) ^ atom_mask(j, n)) & care == on:
                candidates.append(sympy.Xor(symbols[i], symbols[j]))
    # Fewest atoms first, then fewest negations (M(yl) reads better than ~M(yw)).
    return min(candidates, key=lambda e: (size(e), str(e).count("~"), len(str(e))))
