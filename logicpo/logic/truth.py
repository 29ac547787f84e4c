"""Worlds and truth tables as bitmasks: the fast, exact engine under every region.

A *world* over atoms ``a_0 .. a_{n-1}`` is an index ``k`` in ``range(2**n)``; atom ``i``
is true in it iff bit ``i`` of ``k`` is set. A formula's *mask* is the integer whose
bit ``k`` is set iff the formula is true in world ``k``. Its *bitstring* spells the
world with character ``i`` = ``1`` when atom ``i`` is true (the JSON contract).

This module imports no SymPy: a truth table is computed from a formula's AST (the parser's
output, named formulas resolved by the caller) or from a SymPy formula alike, and only
:func:`formula_of`, which writes a formula back, loads SymPy. Masks are Python integers,
so the atom count stays open (16 worlds for the classic four atoms, 1,024 for ten).

>>> from logicpo.logic.formulas import atom, ATOMS_SINGLE
>>> import sympy
>>> m = mask(sympy.Implies(atom("M(yl)"), atom("M(yw)")), ATOMS_SINGLE)
>>> [world_bits(k, 2) for k in worlds_in(m, 2)]
['11', '10', '00']
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logicpo.logic.atoms import ATOMS_REF, ATOMS_SINGLE  # noqa: F401 (re-exported)
from logicpo.syntax import ast

if TYPE_CHECKING:
    from sympy.logic.boolalg import Boolean



def full_mask(n: int) -> int:
    return (1 << (1 << n)) - 1


@functools.cache
@functools.cache
def atom_mask(i: int, n: int) -> int:
    """Mask of the worlds in which atom ``i`` (of ``n``) is true (computed once for each
    ``i`` and ``n``: a 2,000-structure file asks for it 44,000 times)."""
    return sum(1 << k for k in range(1 << n) if (k >> i) & 1)


_AST_OPS = {ast.Not: "not", ast.And: "and", ast.Or: "or", ast.Xor: "xor",
            ast.Implies: "implies", ast.Iff: "iff"}


def _parts(e) -> tuple[str, tuple]:
    """The top connective of a formula AST node or SymPy formula, and its arguments."""
    op = _AST_OPS.get(type(e))
    if op is not None:
        if op == "not":
            return op, (e.arg,)
        if op == "implies":
            return op, (e.premise, e.conclusion)
        if op == "iff":
            return op, (e.left, e.right)
        return op, e.args
    if isinstance(e, ast.Atom):
        return "atom", (e.text,)
    if isinstance(e, ast.Const):
        return "const", (e.value,)
    if isinstance(e, ast.Name):
        return "name", (e,)
    from logicpo.logic.formulas import decompose  # a SymPy formula: SymPy is loaded already

    return decompose(e)


def mask(expr, atoms: tuple[str, ...],
         resolve: Callable[[ast.Name], int] | None = None) -> int:
    """The truth table of ``expr`` over ``atoms``, as a bitmask.

    ``expr`` is a SymPy formula or a formula AST; ``resolve`` gives the mask (over the same
    atoms) of a named formula in an AST.

    >>> from logicpo.syntax.parser import parse_formula
    >>> bin(mask(parse_formula("M(yl) -> M(yw)"), ATOMS_SINGLE))
    '0b1011'
    """
    n = len(atoms)
    index = {name: i for i, name in enumerate(atoms)}
    full = full_mask(n)

    def fast(e) -> int:
        t = type(e)
        if t is ast.Atom:
            i = index.get(e.text)
            if i is None:
                raise ValueError(f"atom {e.text} is not among {atoms}")
            return atom_mask(i, n)
        if t is ast.Not:
            return full & ~fast(e.arg)
        if t is ast.And:
            out = full
            for a in e.args:
                out &= fast(a)
            return out
        if t is ast.Or:
            out = 0
            for a in e.args:
                out |= fast(a)
            return out
        if t is ast.Xor:
            out = 0
            for a in e.args:
                out ^= fast(a)
            return out
        if t is ast.Implies:
            return full & (~fast(e.premise) | fast(e.conclusion))
        if t is ast.Iff:
            return full & ~(fast(e.left) ^ fast(e.right))
        return go(e)

    def go(e) -> int:
        op, args = _parts(e)
        if op == "atom":
            if args[0] not in index:
                raise ValueError(f"atom {args[0]} is not among {atoms}")
            return atom_mask(index[args[0]], n)
        if op == "const":
            return full if args[0] else 0
        if op == "name":
            if resolve is None:
                raise ValueError(f"no definition given for the formula name '{args[0].id}'")
            return resolve(args[0])
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

    return fast(expr)


def lift(m: int, atoms: tuple[str, ...], to: tuple[str, ...]) -> int:
    """Re-express a mask over ``atoms`` as a mask over the superset ``to``.

    >>> bin(lift(0b10, ATOMS_SINGLE, ATOMS_REF))   # M(yw) & ~M(yl), whatever Ref says
    '0b10001000100010'
    """
    if atoms == to:
        return m
    out = 0
    for small, worlds in enumerate(_lift_table(atoms, to)):
        if (m >> small) & 1:
            out |= worlds
    return out


@functools.cache
def _lift_table(atoms: tuple[str, ...], to: tuple[str, ...]) -> tuple[int, ...]:
    """For each world over ``atoms``, the mask of the worlds over ``to`` that extend it."""
    pos = [to.index(a) for a in atoms]
    table = [0] * (1 << len(atoms))
    for k in range(1 << len(to)):
        table[sum(((k >> p) & 1) << i for i, p in enumerate(pos))] |= 1 << k
    return tuple(table)


def project(m: int, atoms: tuple[str, ...], sub: tuple[str, ...]) -> int:
    """The mask over ``sub`` (a subset of ``atoms``) of a mask over ``atoms`` that does not
    depend on the other atoms: read where they are all false.

    >>> bin(project(lift(0b10, ATOMS_SINGLE, ATOMS_REF), ATOMS_REF, ATOMS_SINGLE))
    '0b10'
    """
    pos = [atoms.index(a) for a in sub]
    out = 0
    for k in range(1 << len(sub)):
        big = sum(((k >> i) & 1) << p for i, p in enumerate(pos))
        if (m >> big) & 1:
            out |= 1 << k
    return out


def support(masks: tuple[int, ...], atoms: tuple[str, ...]) -> tuple[str, ...]:
    """The atoms on which at least one of ``masks`` depends, in ``atoms``' order.

    >>> support((0b0010,), ATOMS_SINGLE), support((lift(0b1010, ATOMS_SINGLE, ATOMS_REF),), ATOMS_REF)
    (('M(yw)', 'M(yl)'), ('M(yw)',))
    """
    n = len(atoms)
    out = []
    for i, a in enumerate(atoms):
        on = atom_mask(i, n)
        if any(((m & on) >> (1 << i)) != (m & ~on & full_mask(n)) for m in masks):
            out.append(a)
    return tuple(out)


def worlds_in(m: int, n: int) -> list[int]:
    """World indices in ``m``, in display order (all-true first: TT, TF, FT, FF)."""
    return [k for k in display_order(n) if (m >> k) & 1]


def display_order(n: int) -> list[int]:
    return list(_display_order(n))


@functools.cache
def _display_order(n: int) -> tuple[int, ...]:
    return tuple(sorted(range(1 << n), key=lambda k: world_bits(k, n), reverse=True))


def first_world(m: int, n: int) -> int:
    """The first world of a non-empty mask ``m`` in display order (all-true first)."""
    for k in _display_order(n):
        if (m >> k) & 1:
            return k
    raise ValueError("empty mask")


def world_bits(k: int, n: int) -> str:
    """``'10'`` for the world where atom 0 is true and atom 1 false."""
    return "".join("1" if (k >> i) & 1 else "0" for i in range(n))


def world_list(bits: list[str], empty: str = "(none)") -> str:
    """World bitstrings as the paper writes them, ``empty`` for none.

    >>> world_list(["11", "10"]), world_list([], empty="-")
    ('TT TF', '-')
    """
    return " ".join(b.replace("1", "T").replace("0", "F") for b in bits) or empty


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


def _cube_literals(cube, symbols, negate: bool = False) -> list:
    import sympy

    value, free = cube
    out = []
    for i, sym in enumerate(symbols):
        if not (free >> i) & 1:
            true = bool((value >> i) & 1) != negate
            out.append(sym if true else sympy.Not(sym))
    return out


def _sop(cubes, symbols):
    """``cubes`` (see :mod:`logicpo.logic.minimise`) as a disjunction of conjunctions."""
    import sympy

    return sympy.Or(*(sympy.And(*_cube_literals(c, symbols)) for c in cubes))


def _pos(cubes, symbols):
    """The negation of a cover of the complement: a conjunction of clauses."""
    import sympy

    return sympy.And(*(sympy.Or(*_cube_literals(c, symbols, negate=True)) for c in cubes))


@functools.lru_cache(maxsize=4096)
def formula_of(m: int, atoms: tuple[str, ...], care: int | None = None) -> Boolean:
    """A smallest readable formula equal to mask ``m`` on the worlds in ``care``.

    Worlds outside ``care`` are don't-cares. Minimal sum-of-products and
    product-of-sums forms are both tried; the one with fewer atom occurrences wins. Up to
    six atoms SymPy finds the minimal forms; beyond, :mod:`logicpo.logic.minimise` covers
    them with prime implicants on bit-masks (an equal formula, not always the smallest).

    >>> from logicpo.logic.formulas import ATOMS_SINGLE, to_dsl
    >>> to_dsl(formula_of(0b0010, ATOMS_SINGLE))   # only TF
    'M(yw) & ~M(yl)'
    >>> to_dsl(formula_of(0b0010, ATOMS_SINGLE, care=0b0110))   # TF among {TF, FT}
    'M(yw)'
    """
    import sympy

    from logicpo.logic.formulas import SYMBOLS, size

    n = len(atoms)
    full = full_mask(n)
    care = full if care is None else care
    on = m & care
    if on == 0:
        return sympy.false
    if on == care:
        return sympy.true
    used = support((on, care), atoms)
    if len(used) < n and n > 4:  # minimise over the atoms that matter only (beyond pairs:
        # a structure over many atoms often depends on few, and minimising is exponential)
        return formula_of(project(on, atoms, used), used, project(care, atoms, used))
    symbols = [SYMBOLS[a] for a in atoms]

    def rows(mm: int):
        return [[(k >> i) & 1 for i in range(n)] for k in range(1 << n) if (mm >> k) & 1]

    from logicpo.logic.minimise import SYMPY_MAX_ATOMS, sum_of_products

    if n <= SYMPY_MAX_ATOMS:  # SymPy's exact minimum (Quine-McCluskey on rows)
        dont = rows(full & ~care)
        candidates = [
            sympy.SOPform(symbols, rows(on), dont),
            sympy.POSform(symbols, rows(on), dont),
        ]
    else:  # a prime cover on bit-masks: milliseconds where SymPy took minutes
        candidates = [_sop(sum_of_products(on, full & ~care, n), symbols),
                      _pos(sum_of_products(care & ~on, full & ~care, n), symbols)]
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
