"""The whole decompilation (spec section 6): parse, recognise, peel, expand, check."""

from __future__ import annotations

import sympy

from logicpo.decompiler.outer import recognise
from logicpo.decompiler.result import Decompiled
from logicpo.decompiler.round_trip import round_trip
from logicpo.decompiler.symbolic import is_positive, normalise, to_sympy
from logicpo.decompiler.worlds import peel_beta, ratio, regions, split
from logicpo.errors import LogicpoError, NotExpressibleError, Span
from logicpo.logic.closed_form import WEIGHT
from logicpo.logic.formulas import ATOMS_REF, ATOMS_SINGLE
from logicpo.logic.identify import same_regions
from logicpo.logic.structure import Structure
from logicpo.syntax import loss_expr as lx

# ---------------------------------------------------------------- the whole pipeline


def decompile(expr: str, *, known: list[Structure], file: str = "<loss>",
              check_points: int = 5, seed: int = 0) -> Decompiled:
    """The structure, outer family and parameters of the loss ``expr`` (spec section 6)."""
    node = lx.parse_loss_expression(expr, file)
    first = expr.splitlines()[0] if expr.strip() else ""
    span = Span(file, 1, 1, 1, len(first) + 1)
    try:
        return _decompile(expr, node, span, known, check_points, seed)
    except LogicpoError as exc:
        where = _locate(node, getattr(exc, "piece", None))
        if where is not None and exc.span == span:
            exc.span = where
            exc.source_line = expr.splitlines()[where.line - 1]
        elif exc.span == span and exc.source_line is None:
            exc.source_line = first
        raise


def _locate(node: lx.LossNode, piece: sympy.Expr | None) -> Span | None:
    """The span of the first sub-expression of the text whose SymPy form is ``piece``."""
    if piece is None:
        return None
    stack = [node]
    while stack:
        n = stack.pop(0)
        try:
            if n.span is not None and normalise(to_sympy(n)) in (piece, -piece):
                return n.span
        except (LogicpoError, TypeError, ValueError):
            pass
        stack.extend(lx.children(n))
    return None


def _decompile(expr, node, span, known, check_points, seed) -> Decompiled:
    e = normalise(to_sympy(node))
    family, s, params, weight = recognise(e, span)
    notes = []
    if family == "semantic":
        # -k*log q: the classic semantic loss of a formula with probability q (spec 6.1).
        parts, c0 = split(-e, span)
        k, exponents = peel_beta(parts, span)
        if c0 != 0:
            raise NotExpressibleError(f"the constant {c0} is added to -log q", span)
        q_num, q_den = ratio(exponents, span)
        t, b = q_num, sympy.expand(q_den - q_num)
        family, weight, beta, gamma = "logistic", k, sympy.Integer(1), sympy.Integer(0)
        rho = sympy.log(t) - sympy.log(b)
        notes.append("read as -log q, the semantic loss: t = q, b = 1 - q")
    else:
        parts, c0 = split(s, span)
        beta, exponents = peel_beta(parts, span)
        if family == "square":
            # (m*rho + c0)^2 = m^2 * (rho + c0/m)^2 and rho - 1/(2 beta) = rho + c0/m.
            m, c = beta, params.pop("c0")
            if is_positive(-c / m, span) is not True:
                m, exponents = -m, {k: -v for k, v in exponents.items()}
            weight, beta, gamma = sympy.simplify(weight * m ** 2), sympy.simplify(-m / (2 * c)), 0
        else:
            gamma = sympy.simplify(-c0)
        t, b = ratio(exponents, span)
        rho = sum((m * term for term, m in exponents.items()), sympy.Integer(0))
    atoms = ATOMS_REF if (t.free_symbols | b.free_symbols) & {
        WEIGHT["Ref(yw)"], WEIGHT["Ref(yl)"]} else ATOMS_SINGLE
    ok, bad = regions(t, b, atoms, span)
    structure = Structure.from_masks("decompiled", atoms, ok, bad, origin="decompile")
    same = same_regions(structure, known)
    if same:
        structure = structure.renamed(same[0])
    params = {"beta": sympy.sympify(beta), "gamma": sympy.sympify(gamma),
              **{k: sympy.sympify(v) for k, v in params.items()}}
    weight = sympy.sympify(weight)
    result = Decompiled(expr, structure, family, params, weight, rho, same, notes=tuple(notes))
    if check_points:
        error = round_trip(node, result, points=check_points, seed=seed)
        result = Decompiled(expr, structure, family, params, weight, rho, same,
                            check_points, error, tuple(notes))
    return result


