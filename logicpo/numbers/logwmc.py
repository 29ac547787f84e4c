"""The log weighted model count of a region, as a small log-space expression (spec section 1, 3).

``WMC(R)`` is a sum of world weights. Taking its log term by term would need a
``logsumexp`` over all of ``R``'s worlds; instead the region is factorised on its
truth table, without any algebra system:

* an atom the region does not depend on contributes ``w + (1 - w) = 1``: nothing;
* a literal every world agrees on is a factor: ``logp`` or ``log1mexp(logp)``;
* a region that is a product of regions over disjoint atoms is a sum of their logs;
* what remains is irreducible. It is written either through its complement,
  ``log WMC(R) = log1mexp(log WMC(not R))``, when the complement's count is a plain
  sum of log-probs (``1 - e^s`` needs ``s`` to relative accuracy, which ``log1mexp``'s
  tail does not give), or by Shannon expansion on one atom,
  ``logaddexp(logp + log WMC(R|a), log1mexp(logp) + log WMC(R|~a))``, whichever
  is cheaper (unCPO's ``log(1 - e^pr + e^(pr+pc))`` becomes
  ``logaddexp(pc + pr, log1mexp(pr))``, one ``log1mexp`` instead of two nested ones).
  Both are exact and stable in log space; only a region that is
  irreducible at every level ends up as a sum over its worlds.

**Regions over more than four atoms** (structures beyond pairs, issue 13). The search above
tries every expansion, which is cheap for the classic four atoms (at most 16 worlds) and
slow beyond them (48 s for one region over 8 atoms). A larger region takes the factor steps
(independent atoms, shared literals, products, a plain complement) and only *chain*
expansions: on an atom one of whose two cofactors is a conjunction of literals, so the
expression reads each atom a bounded number of times. The listwise "any loser is valid"
``M(yl) | M(yl2) | ... | M(ylk)`` is such a chain, the first valid loser:
``logaddexp(pr, log1mexp(pr) + logaddexp(M_yl2, log1mexp(M_yl2) + ...))``, ``O(k)`` for
``k`` atoms. (Its complement, ``log1mexp(log1mexp(pr) + log1mexp(M_yl2) + ...)``, is the
same number but ``-inf`` once the log-probs are below about -37 in float64, where every
``log1mexp`` rounds to 0: the rule above refuses it.) A larger region with none of these
has **no factorised form** here: it is a :class:`Worlds` node, one ``logsumexp`` over its
own worlds, ``O(2^k)``, and :func:`enumerated` says so (the code generator writes it in a
comment and in ``factorised = False``).

The result is a :class:`Sum` of nodes with integer coefficients, so the
semantic log-ratio ``rho = log WMC(ok) - log WMC(bad)`` cancels common factors
(DPO's four-atom counts collapse to ``pc - rc - pr + rr``).

>>> cpo_ok, cpo_bad = 0b1010, 0b1100          # over (M(yw), M(yl)): TT TF / TT FT
>>> rho(cpo_ok, cpo_bad, 2).text(("pc", "pr"))
'pc - pr'
>>> log_wmc(Region((0, 1), 0b1011)).text(("pc", "pr"))   # unCPO's ok: TT TF FF
'logaddexp(pc + pr, log1mexp(pr))'
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import combinations

# ---------------------------------------------------------------- regions


@dataclass(frozen=True)
class Region:
    """A Boolean function of the atoms ``vars`` (indices); bit ``j`` of ``table`` is set
    iff the assignment ``j`` (bit ``p`` of ``j`` = value of ``vars[p]``) is in the region."""

    vars: tuple[int, ...]
    table: int

    @property
    def full(self) -> int:
        return (1 << (1 << len(self.vars))) - 1

    def restrict(self, p: int, value: int) -> Region:
        """Fix ``vars[p]`` to ``value``; the result no longer mentions it."""
        n = len(self.vars)
        out = 0
        for j in range(1 << (n - 1)):
            low, high = j & ((1 << p) - 1), j >> p
            k = low | (value << p) | (high << (p + 1))
            if (self.table >> k) & 1:
                out |= 1 << j
        return Region(self.vars[:p] + self.vars[p + 1:], out)

    def project(self, keep: tuple[int, ...]) -> Region:
        """The assignments to ``vars[keep]`` that extend to a world of the region."""
        out = 0
        for k in range(1 << len(self.vars)):
            if (self.table >> k) & 1:
                out |= 1 << sum(((k >> p) & 1) << i for i, p in enumerate(keep))
        return Region(tuple(self.vars[p] for p in keep), out)

    def complement(self) -> Region:
        return Region(self.vars, self.full & ~self.table)


@functools.cache
def _true_mask(p: int, n: int) -> int:
    """The assignments to ``n`` atoms in which atom ``p`` is true."""
    return sum(1 << k for k in range(1 << n) if (k >> p) & 1)


def _exists(table: int, n: int, positions) -> int:
    """``table`` with the atoms at ``positions`` quantified out (still over all ``n``)."""
    for p in positions:
        shift, high = 1 << p, _true_mask(p, n)
        either = ((table & high) >> shift) | (table & ~high)
        table = either | (either << shift)
    return table


def _splits(region: Region, keep: tuple[int, ...], rest: tuple[int, ...]) -> bool:
    """Is the region the product of its projections on ``keep`` and on ``rest``? It always
    lies inside that product, so it is the product iff it has as many worlds; counted on
    the truth tables with the other atoms quantified out (``|A x B| * 2^n`` is the product
    of the two quantified tables' counts)."""
    n = len(region.vars)
    a, b = _exists(region.table, n, rest), _exists(region.table, n, keep)
    return region.table.bit_count() << n == a.bit_count() * b.bit_count()


def _is_cube(region: Region) -> bool:
    """Is the region a conjunction of literals (every world agrees on the atoms it fixes
    and the others are free)?"""
    both, either, count, table = -1, 0, 0, region.table
    while table:
        low = table & -table
        k = low.bit_length() - 1
        both, either, count = both & k, either | k, count + 1
        table ^= low
    return count > 0 and count == 1 << (either & ~both).bit_count()


#: Regions over at most this many atoms get the cheapest of every expansion (the classic
#: four atoms: at most 16 worlds); larger ones only the steps that keep the form factorised.
SMALL = 4


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Var:
    """The log-weight of atom ``atom`` being true: its log-prob."""

    atom: int


@dataclass(frozen=True)
class Log1mexp:
    """``log(1 - exp(arg))``."""

    arg: Sum


@dataclass(frozen=True)
class LogAddExp:
    """``log(exp(a) + exp(b))``."""

    a: Sum
    b: Sum


@dataclass(frozen=True)
class Worlds:
    """``log sum_j exp(log-weight of world j)`` over the worlds ``worlds`` of the atoms
    ``vars``: a region enumerated, as it has no factorised form (bit ``p`` of a world index
    is the value of ``vars[p]``; a world's log-weight is the sum of its literals')."""

    vars: tuple[int, ...]
    worlds: tuple[int, ...]

    def literals(self) -> tuple[Sum, ...]:
        """``logp`` of each atom, then ``log1mexp(logp)`` of each: what a world sums."""
        return (tuple(literal(v, 1) for v in self.vars)
                + tuple(literal(v, 0) for v in self.vars))

    def columns(self) -> tuple[tuple[int, ...], ...]:
        """For each world, which of :meth:`literals` it sums (``p`` or ``n + p``)."""
        n = len(self.vars)
        return tuple(tuple(p if (j >> p) & 1 else n + p for p in range(n)) for j in self.worlds)


@dataclass(frozen=True)
class Sum:
    """``sum(coef * node)``; ``terms`` is kept in a canonical order."""

    terms: tuple[tuple[Var | Log1mexp | LogAddExp | Worlds, int], ...] = ()

    def __add__(self, other: Sum) -> Sum:
        return _combine(self, other, 1)

    def __sub__(self, other: Sum) -> Sum:
        return _combine(self, other, -1)

    def text(self, names: tuple[str, ...]) -> str:
        """Plain-text rendering with atom ``i`` called ``names[i]``."""
        return render(self.terms, lambda node: _node_text(node, names))

    @property
    def cost(self) -> int:
        """A rough operation count, used to choose between equivalent forms."""
        return max(0, len(self.terms) - 1) + sum(_node_cost(n) for n, _ in self.terms)


ZERO = Sum()


def _sort_key(node) -> tuple:
    # chosen-side atoms (M(yw)=0, Ref(yw)=2) before rejected-side ones, plain logps first
    atoms = sorted(_atoms(node))
    side = 0 if set(atoms) <= {0, 2} else 1 if set(atoms) <= {1, 3} else 2
    kind = {Var: 0, Log1mexp: 1, LogAddExp: 2, Worlds: 3}[type(node)]
    return (side, kind, [(a % 2, a // 2) for a in atoms], repr(node))


def _atoms(node) -> set[int]:
    if isinstance(node, Var):
        return {node.atom}
    if isinstance(node, Log1mexp):
        return {a for n, _ in node.arg.terms for a in _atoms(n)}
    if isinstance(node, Worlds):
        return set(node.vars)
    return {a for s in (node.a, node.b) for n, _ in s.terms for a in _atoms(n)}


def _combine(x: Sum, y: Sum, sign: int) -> Sum:
    coef: dict = {}
    for node, c in x.terms:
        coef[node] = coef.get(node, 0) + c
    for node, c in y.terms:
        coef[node] = coef.get(node, 0) + sign * c
    items = [(n, c) for n, c in coef.items() if c]
    items.sort(key=lambda nc: _sort_key(nc[0]))
    return Sum(tuple(items))


def _node_cost(node) -> int:
    if isinstance(node, Var):
        return 0
    if isinstance(node, Log1mexp):
        return 4 + node.arg.cost
    if isinstance(node, Worlds):
        return 4 + len(node.worlds) * len(node.vars)
    return 4 + node.a.cost + node.b.cost


def render(pairs, atom_text) -> str:
    """``(node, coef)`` pairs as a signed chain ``a + 2 * b - c``, each node spelled
    ``atom_text(node)``; a positive term goes first, as a leading minus costs an operation.

    >>> render([("x", -1), ("y", 0.5)], str)
    '0.5 * y - x'
    """
    if not pairs:
        return "0"
    out = ""
    terms = list(pairs)
    if terms[0][1] < 0:  # a positive term first: a leading minus would cost a negation
        first = next((i for i, (_, c) in enumerate(terms) if c > 0), 0)
        terms.insert(0, terms.pop(first))
    for node, c in terms:
        body = atom_text(node)
        mag = abs(c)
        if mag != 1:
            body = f"{mag} * {body}"
        if not out:
            out = body if c > 0 else f"-{body}"
        else:
            out += (" + " if c > 0 else " - ") + body
    return out


def _node_text(node, names: tuple[str, ...]) -> str:
    if isinstance(node, Var):
        return names[node.atom]
    if isinstance(node, Log1mexp):
        return f"log1mexp({node.arg.text(names)})"
    if isinstance(node, Worlds):
        atoms = ", ".join(names[v] for v in node.vars)
        n = len(node.vars)
        listed = (" ".join("".join(str((j >> p) & 1) for p in range(n)) for j in node.worlds)
                  if len(node.worlds) <= 16 else f"{len(node.worlds)} worlds")
        return f"logsumexp_worlds({atoms}: {listed})"
    return f"logaddexp({node.a.text(names)}, {node.b.text(names)})"


def literal(atom: int, value: int) -> Sum:
    """The log-weight of a literal: ``logp`` if true, ``log1mexp(logp)`` if false."""
    var = Sum(((Var(atom), 1),))
    return var if value else Sum(((Log1mexp(var), 1),))


# ---------------------------------------------------------------- factorisation


@functools.lru_cache(maxsize=4096)
def log_wmc(region: Region, allow_complement: bool = True) -> Sum:
    """``log WMC(region)`` as an expression; the region must not be empty."""
    if region.table == 0:
        raise ValueError("log WMC of an empty region is -inf")
    # atoms the region does not depend on contribute a factor 1
    for p in range(len(region.vars)):
        if region.restrict(p, 0) == region.restrict(p, 1):
            return log_wmc(region.restrict(p, 0), allow_complement)
    if region.table == region.full:
        return ZERO
    # a literal shared by every world is a factor
    for p, atom in enumerate(region.vars):
        for value in (1, 0):
            if region.restrict(p, 1 - value).table == 0:
                return literal(atom, value) + log_wmc(region.restrict(p, value))
    # a product of regions over disjoint atoms
    n = len(region.vars)
    for size in range(1, n // 2 + 1):
        for keep in combinations(range(n), size):
            rest = tuple(p for p in range(n) if p not in keep)
            if _splits(region, keep, rest):
                return log_wmc(region.project(keep)) + log_wmc(region.project(rest))
    # irreducible: through the complement, or Shannon expansion on one atom
    candidates = []
    if allow_complement:
        inner = log_wmc(region.complement(), False)
        if not _has_log1mexp(inner):
            candidates.append(Sum(((Log1mexp(inner), 1),)))
    for p in (range(n) if n <= SMALL else _chain_atoms(region)):
        atom = region.vars[p]
        high = literal(atom, 1) + log_wmc(region.restrict(p, 1))
        low = literal(atom, 0) + log_wmc(region.restrict(p, 0))
        candidates.append(Sum(((LogAddExp(high, low), 1),)))
    if not candidates:  # no factorised form: one logsumexp over the region's worlds
        worlds = tuple(k for k in range(1 << n) if (region.table >> k) & 1)
        return Sum(((Worlds(region.vars, worlds), 1),))
    return min(candidates, key=lambda s: s.cost)


def _chain_atoms(region: Region) -> list[int]:
    """The first atom (as a one-element list, else none) on which the region expands into a
    chain: one of its two cofactors is a conjunction of literals. Only the first is taken, so
    that a region over ``k`` atoms costs ``O(k)`` expansions, not a search over all orders."""
    for p in range(len(region.vars)):
        if _is_cube(region.restrict(p, 1)) or _is_cube(region.restrict(p, 0)):
            return [p]
    return []


def _has_log1mexp(s: Sum) -> bool:
    """Does ``s`` read a ``log1mexp`` anywhere? The complement ``log1mexp(s)`` computes
    ``1 - e^s``, which needs ``s`` to relative accuracy when it is near 0; ``log1mexp``
    is exact to absolute rounding only (``module.log1mexp``), so its tail, ``~ -e^x``,
    would round to 0 there: unCPO's ``log1mexp(pr + log1mexp(pc))`` is ``-inf`` at
    ``pr = 0``, ``pc = -20`` in float32, where the loss is 20. A Shannon expansion adds
    log-weights and never cancels, so it is taken instead."""
    for node, _ in s.terms:
        if isinstance(node, (Log1mexp, Worlds)):  # a world's weight reads 1 - w
            return True
        if isinstance(node, LogAddExp) and (_has_log1mexp(node.a) or _has_log1mexp(node.b)):
            return True
    return False


def rho(ok_mask: int, bad_mask: int, n_atoms: int) -> Sum:
    """The semantic log-ratio ``log WMC(ok) - log WMC(bad)`` over atoms ``0 .. n-1``."""
    atoms = tuple(range(n_atoms))
    return log_wmc(Region(atoms, ok_mask)) - log_wmc(Region(atoms, bad_mask))


def nodes_in_order(exprs) -> list:
    """Every non-atom node under ``exprs`` (Sums), each once, children before parents."""
    seen: dict = {}

    def visit_sum(s: Sum) -> None:
        for node, _ in s.terms:
            visit(node)

    def visit(node) -> None:
        if isinstance(node, Var) or node in seen:
            return
        if isinstance(node, Log1mexp):
            visit_sum(node.arg)
        elif isinstance(node, Worlds):
            for lit in node.literals():
                visit_sum(lit)
        else:
            visit_sum(node.a)
            visit_sum(node.b)
        seen[node] = None

    for s in exprs:
        visit_sum(s)
    return list(seen)


def enumerated(exprs) -> list[Worlds]:
    """The :class:`Worlds` nodes under ``exprs``: the regions without a factorised form
    (empty when every count is factorised).

    >>> cpo4_bad = Region((0, 1, 2, 3, 4), sum(1 << k for k in range(32) if k & 0b11110))
    >>> enumerated([log_wmc(cpo4_bad)])       # M(yl) | M(yl2) | ...: a chain
    []
    >>> parity = Region((0, 1, 2, 3, 4), sum(1 << k for k in range(32) if bin(k).count("1") % 2))
    >>> [len(w.worlds) for w in enumerated([log_wmc(parity)])]
    [16]
    """
    return [n for n in nodes_in_order(exprs) if isinstance(n, Worlds)]
