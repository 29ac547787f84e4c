"""Propositional formulas over the atoms ``Model(response)``, as SymPy Boolean expressions.

Connectives are built explicitly (``sympy.Implies(a, b)``), never with ``>>``,
``^`` or ``|``, so a Python bool or a power can never sneak in.

>>> from logicpo.syntax.parser import parse_formula
>>> f = from_ast(parse_formula("M(yl) -> M(yw)"))
>>> to_dsl(f)
'M(yl) -> M(yw)'
>>> atoms_of(from_ast(parse_formula("M(yw) & Ref(yl)")))
('M(yw)', 'M(yl)', 'Ref(yw)', 'Ref(yl)')
"""

from __future__ import annotations

from collections.abc import Callable

import sympy
from sympy.logic.boolalg import Boolean, BooleanFalse, BooleanTrue

from logicpo.errors import NameResolutionError
from logicpo.logic.atoms import atom_key, atom_order
from logicpo.logic.truth import ATOMS_REF, ATOMS_SINGLE
from logicpo.syntax import ast

__all__ = ["ATOMS_REF", "ATOMS_SINGLE", "FALSE", "SYMBOLS", "TRUE", "atom", "atoms_of", "decompose", "from_ast",
           "size", "to_dsl"]
class _Symbols(dict):
    """The SymPy symbol of each atom, made when an atom is first met (``M(yg)``, ...)."""

    def __missing__(self, name: str) -> sympy.Symbol:
        self[name] = sympy.Symbol(name)
        return self[name]


SYMBOLS: dict[str, sympy.Symbol] = _Symbols({name: sympy.Symbol(name) for name in ATOMS_REF})
TRUE = sympy.true
FALSE = sympy.false


def atom(name: str) -> sympy.Symbol:
    """The SymPy symbol of an atom such as ``"M(yw)"`` or ``"M(yg)"``."""
    return SYMBOLS[name]


def from_ast(node: ast.Formula, resolve: Callable[[ast.Name], Boolean] | None = None) -> Boolean:
    """Translate a formula AST to SymPy; ``resolve`` supplies named formulas."""
    if isinstance(node, ast.Atom):
        return SYMBOLS[node.text]
    if isinstance(node, ast.Const):
        return TRUE if node.value else FALSE
    if isinstance(node, ast.Name):
        if resolve is None:
            raise NameResolutionError(f"unknown formula '{node.id}'", node.span)
        return resolve(node)

    def rec(n):
        return from_ast(n, resolve)

    if isinstance(node, ast.Not):
        return sympy.Not(rec(node.arg))
    if isinstance(node, ast.And):
        return sympy.And(*map(rec, node.args))
    if isinstance(node, ast.Or):
        return sympy.Or(*map(rec, node.args))
    if isinstance(node, ast.Xor):
        return sympy.Xor(*map(rec, node.args))
    if isinstance(node, ast.Implies):
        return sympy.Implies(rec(node.premise), rec(node.conclusion))
    if isinstance(node, ast.Iff):
        return sympy.Equivalent(rec(node.left), rec(node.right))
    raise TypeError(f"not a formula node: {node!r}")


def decompose(expr: Boolean) -> tuple[str, tuple]:
    """The top connective of ``expr`` and its arguments, for layers that must not import SymPy.

    Returns ``("atom", (name,))``, ``("const", (bool,))`` or ``(op, args)`` with op one of
    ``not, and, or, xor, implies, iff``.

    >>> decompose(sympy.Implies(atom("M(yl)"), atom("M(yw)")))
    ('implies', (M(yl), M(yw)))
    """
    if isinstance(expr, sympy.Symbol):
        return "atom", (expr.name,)
    if isinstance(expr, BooleanTrue):
        return "const", (True,)
    if isinstance(expr, BooleanFalse):
        return "const", (False,)
    for cls, op in ((sympy.Not, "not"), (sympy.And, "and"), (sympy.Or, "or"),
                    (sympy.Xor, "xor"), (sympy.Implies, "implies"),
                    (sympy.Equivalent, "iff")):
        if isinstance(expr, cls):
            return op, tuple(expr.args)
    raise TypeError(f"unsupported Boolean expression: {expr!r}")


def atoms_of(*exprs: Boolean) -> tuple[str, ...]:
    """The atom order used for these formulas (:func:`logicpo.logic.atoms.atom_order`):
    single-model unless a Ref atom occurs, other atoms after the classic ones."""
    return atom_order(s.name for e in exprs for s in e.free_symbols)


# ---------------------------------------------------------------- display

_LEVEL = {"iff": 1, "implies": 2, "or": 3, "xor": 4, "and": 5, "not": 6}
def _sort_key(expr: Boolean):
    names = sorted(atom_key(s.name) for s in expr.free_symbols)
    return (len(names), names)


def to_dsl(expr: Boolean) -> str:
    """DSL text for a SymPy formula, with the fewest parentheses the precedence allows.

    >>> to_dsl(sympy.And(atom("M(yw)"), sympy.Not(atom("M(yl)"))))
    'M(yw) & ~M(yl)'
    """
    return _dsl(expr, 0)


def _dsl(expr: Boolean, outer: int) -> str:
    op, args = decompose(expr)
    if op == "atom":
        return args[0]
    if op == "const":
        return "true" if args[0] else "false"
    level = _LEVEL[op]
    if op == "not":
        text = "~" + _dsl(args[0], level)  # only atoms and negations go bare after ~
    elif op == "implies":  # operands of -> and <-> are bracketed unless atomic, for reading
        text = f"{_dsl(args[0], _LEVEL['and'])} -> {_dsl(args[1], _LEVEL['and'])}"
    elif op == "iff":
        text = f"{_dsl(args[0], _LEVEL['and'])} <-> {_dsl(args[1], _LEVEL['and'])}"
    else:
        sep = {"and": " & ", "or": " | ", "xor": " xor "}[op]
        # Any binary connective under and/or/xor is bracketed: (a & b) | (c & d).
        text = sep.join(_dsl(a, _LEVEL["and"]) for a in sorted(args, key=_sort_key))
    return f"({text})" if level <= outer else text


def size(expr: Boolean) -> int:
    """Number of atom occurrences: the measure minimised for display."""
    op, args = decompose(expr)
    if op == "atom":
        return 1
    if op == "const":
        return 0
    return sum(size(a) for a in args)
