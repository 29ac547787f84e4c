"""The whole decompilation (spec section 6): parse, split into terms, recognise, peel,
expand, name, check.

A loss is read as an objective, a sum of terms ``weight * f(S, ...)``. It is tried, in
order, as one term (``f`` of one structure, the semantic loss ``-log q`` included), as one
semantic loss with every ``log sigmoid(u)`` read as ``-log(1 + exp(-u))`` (a probability
written with ``exp``, such as sCE's ``exp(pc)/(1 + exp(pc + pr))``), and as a sum of
terms grouped by their outer function: log-sigmoids of one argument (up to sign), each
``max``, each square, each sigmoid (with the constants ``k - k*sigmoid(u)`` needs), and
the rest (``-pc``, ``-log1mexp(pr)``, ``-log q``) as semantic losses. The fewest terms win.
"""

from __future__ import annotations

import dataclasses

import sympy

from logicpo.decompiler.exo import mixes_sigmoid
from logicpo.decompiler.outer import linear, recognise
from logicpo.decompiler.per_response import on_response
from logicpo.decompiler.result import Decompiled, DecompiledTerm, Parameter
from logicpo.decompiler.round_trip import finite_real, parameters_in, round_trip
from logicpo.decompiler.symbolic import (
    ASSUMED,
    ATOM_OF,
    COUNTS,
    LOGPS,
    count,
    is_positive,
    normalise,
    parameters_of,
    show,
    to_sympy,
)
from logicpo.decompiler.worlds import log_term, peel_beta, ratio, regions, split, term_atoms
from logicpo.errors import (
    InternalError,
    LogicpoError,
    NotExpressibleError,
    Span,
    UsageError,
    did_you_mean,
)
from logicpo.logic import atoms as atom_names
from logicpo.logic.closed_form import sigmoid
from logicpo.logic.families import FAMILIES, ROLES
from logicpo.logic.identify import Match, matches
from logicpo.logic.structure import Structure, definition_line
from logicpo.syntax import loss_expr as lx

_CE = (0b1010, 0b0101)  # CE over (M(yw), M(yl)): ok = M(yw), bad = ~M(yw)
_CE_ONE = (0b10, 0b01)  # CE of any other response y, over (M(y),): ok = M(y), bad = ~M(y)


def decompile(expr: str, *, known: list[Structure], file: str = "<loss>",
              check_points: int = 5, seed: int = 0,
              values: dict[str, float] | None = None,
              atoms: dict[str, str] | None = None) -> Decompiled:
    """The terms, structures, outer families and parameters of the loss ``expr``.

    ``known`` names the structures found (usually the zoo's); ``values`` binds parameters
    by the names the text uses (``{"lambda": 0.5}``); ``atoms`` declares more log-prob and
    token-count names (:func:`logicpo.syntax.loss_expr.parse_atoms`).
    """
    node = lx.parse_loss_expression(expr, file, names=atoms)
    values = dict(values or {})
    named = _parameter_names(node)
    for name in values:
        if name not in named:
            raise UsageError(
                f"--value {name}=...: the loss has no parameter '{name}'"
                + (f" (its parameters: {', '.join(sorted(named))})" if named else
                   " (it has no parameters)"))
    first = expr.splitlines()[0] if expr.strip() else ""
    span = Span(file, 1, 1, 1, len(first) + 1)
    lookalikes = {n: did_you_mean(n, lx.LOGPS) for n in sorted(named - set(values))}
    lookalikes = {n: h for n, h in lookalikes.items() if h}
    token = ASSUMED.set([])
    try:
        result = _decompile(expr, node, span, known, check_points, seed, values)
        assumed = tuple(ASSUMED.get())
    except LogicpoError as exc:
        if lookalikes:
            n, h = next(iter(lookalikes.items()))
            exc.hint = f"'{n}' is read as a parameter: {h}" + (f"; {exc.hint}" if exc.hint
                                                                 else "")
        where = _locate(node, getattr(exc, "piece", None), values)
        if where is not None and exc.span == span:
            exc.span = where
            exc.source_line = expr.splitlines()[where.line - 1]
        elif exc.span == span and exc.source_line is None:
            exc.source_line = first
        raise
    finally:
        ASSUMED.reset(token)
    warnings = tuple(f"'{n}' is read as a parameter: {h}" for n, h in lookalikes.items())
    return dataclasses.replace(result, assumptions=result.assumptions + tuple(
        a for a in assumed if a not in result.assumptions), warnings=result.warnings + warnings)


def _parameter_names(node: lx.LossNode) -> set[str]:
    out, stack = set(), [node]
    while stack:
        n = stack.pop()
        if isinstance(n, lx.Var) and not lx.is_fixed(n.name):
            out.add(n.name)
        stack.extend(lx.children(n))
    return out


def _locate(node: lx.LossNode, piece, values) -> Span | None:
    """The span of the first sub-expression of the text whose SymPy form is ``piece``."""
    if piece is None:
        return None
    stack = [node]
    while stack:
        n = stack.pop(0)
        try:
            if n.span is not None and normalise(to_sympy(n, values)) in (piece, -piece):
                return n.span
        except (LogicpoError, TypeError, ValueError):
            pass
        stack.extend(lx.children(n))
    return None


# ---------------------------------------------------------------- one term


class _Read:
    """One term as read: ``weight * family(regions over atoms, params)``."""

    def __init__(self, expr, family, atoms, ok, bad, params, weight, rho, normalize, notes):
        self.expr, self.family, self.atoms, self.ok, self.bad = expr, family, atoms, ok, bad
        self.params, self.weight, self.rho = params, weight, rho
        self.normalize, self.notes = normalize, notes


def _unnormalise(g: sympy.Expr, span) -> sympy.Expr:
    """``g`` in per-token log-probs: ``pc/nc -> pc`` (the term has ``normalize=length``)."""
    logps = [lp for lp in LOGPS if lp in g.free_symbols]
    h = g.subs({lp: lp * count(atom_names.response_of(ATOM_OF[lp])) for lp in logps},
               simultaneous=True)
    h = sympy.expand_log(h, force=True)
    left = [c for c in COUNTS if c in h.free_symbols]
    if left:
        first = sorted(left, key=str)[0]
        response = COUNTS.key[first]
        if response in atom_names.CLASSIC_RESPONSES:
            side = "chosen (pc, rc)" if first.name == "nc" else "rejected (pr, rr)"
            how = "pc/nc, rc/nc, pr/nr, rr/nr"
        else:
            mine = [atom_names.logp_name(a) for a in LOGPS.of
                    if atom_names.response_of(a) == response]
            side = f"{response} ({', '.join(mine) or f'M_{response}'})"
            how = f"M_{response}/{first.name}, ..."
        raise NotExpressibleError(
            f"the token count {first} does not divide every log-prob of the {side} response "
            f"in '{show(g)}': length normalisation divides each of them by its response's "
            f"token count ({how})", span)
    return normalise(h)


def read_term(g: sympy.Expr, span, *, semantic: bool = False,
              as_linear: bool = False) -> _Read:
    """Read ``g`` as one term ``weight * f(S)`` (``semantic``: as ``-k*log q`` only).

    ``as_linear``: a term of a sum, next to others, that no other family reads may be a
    multiple of a log-ratio, the ``linear`` family (SELM's ``alpha*beta*(ps - rs)``). A
    whole loss is never read so: ``-beta*rho`` alone is unbounded below."""
    normalize = any(c in COUNTS for c in g.free_symbols)
    if normalize:
        g = _unnormalise(g, span)
    notes = []
    family, s, params, weight = ("semantic", g, {}, 1) if semantic else recognise(g, span)
    if family == "semantic" and as_linear:
        try:
            return _as_read(g, span, family, s, params, weight, normalize, notes)
        except NotExpressibleError as exc:
            first = exc
        try:  # the last reading: a multiple of a log-ratio, f = -s
            read = _as_read(g, span, *linear(g, span), normalize, notes)
        except NotExpressibleError:
            raise first from None
        return read
    return _as_read(g, span, family, s, params, weight, normalize, notes)


def _linear_hint(e: sympy.Expr, span) -> str | None:
    """What to say when a whole loss that was refused would read as a ``linear`` term."""
    try:
        r = read_term(e, span, as_linear=True)
    except LogicpoError:
        return None
    if r.family != "linear":
        return None
    return ("this is a multiple of a log-ratio with no outer function: next to other terms it "
            "is read as a linear term (f = -s, as SELM's alpha*beta*(ps - rs)), but alone, "
            "-beta*rho is unbounded below and is not a loss")


def _as_read(g, span, family, s, params, weight, normalize, notes) -> _Read:
    """``g = weight * family(s)`` with its structure, or the semantic loss ``-k*log q``."""
    notes = list(notes)
    if family == "semantic":
        # -k*log q: the classic semantic loss of a formula with probability q (spec 6.1).
        parts, c0 = split(-g, span)
        k, exponents = peel_beta(parts, span)
        if c0 != 0:
            raise NotExpressibleError(f"the constant {show(c0)} is added to -log q", span)
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
    atoms = term_atoms(t, b, span)
    ok, bad = regions(t, b, atoms, span)
    params = {"beta": sympy.sympify(beta), "gamma": sympy.sympify(gamma),
              **{k: sympy.sympify(v) for k, v in params.items()}}
    weight = sympy.sympify(weight)
    for key, v in [*params.items(), ("weight", weight)]:  # every number a finite real
        if not parameters_of(v):
            finite_real(key.replace("_", " "), v)
    return _Read(g, family, atoms, ok, bad, params, weight, rho, normalize, tuple(notes))


# ---------------------------------------------------------------- a sum of terms


def _logsig_arg(rest) -> sympy.Expr | None:
    if isinstance(rest, sympy.log) and isinstance(rest.args[0], sigmoid):
        return sympy.expand(rest.args[0].args[0])
    return None


def _as_semantic(e: sympy.Expr) -> sympy.Expr:
    """``e`` with every ``log sigmoid(u)`` written ``-log(1 + exp(-u))``."""
    return e.replace(lambda x: _logsig_arg(x) is not None,
                     lambda x: -sympy.log(1 + sympy.exp(-x.args[0].args[0])))


def _groups(e: sympy.Expr, span) -> tuple[list[tuple[str, list]], sympy.Expr, list]:
    """The additive pieces of ``e`` grouped into terms; the constant left over; and the
    pieces no family has."""
    groups: list[tuple[str, list]] = []
    semantic: list = []
    constant = sympy.Integer(0)
    unknown = []
    logsig: dict[sympy.Expr, list] = {}
    mixed: list = []
    for a in sympy.Add.make_args(e):
        coeff, rest = a.as_independent(*LOGPS, as_Add=False)
        u = _logsig_arg(rest)
        if rest == 1:
            constant += a
        elif mixes_sigmoid(a):
            mixed.append(a)
        elif u is not None:
            key = next((k for k in logsig if sympy.expand(k - u) == 0
                        or sympy.expand(k + u) == 0), u)
            logsig.setdefault(key, []).append(a)
        elif isinstance(rest, sympy.Max) or (isinstance(rest, sympy.Pow) and rest.exp == 2):
            groups.append(("other", [a]))
        elif isinstance(rest, sigmoid):
            groups.append(("sigmoid", [a]))
        elif log_term(rest):  # pc, log1mexp(pc), log q: a semantic loss
            semantic.append(a)
        else:
            unknown.append(rest)
    groups = [("logsig", v) for v in logsig.values()] + groups
    if mixed:
        groups.append(("mixed", mixed))
    # k - k*sigmoid(u) = k*sigmoid(-u): a sigmoid of negative weight takes its constant
    for kind, pieces in groups:
        if kind == "sigmoid" and constant != 0:
            coeff = pieces[0].as_independent(*LOGPS, as_Add=False)[0]
            if is_positive(-coeff, span):
                pieces.append(-coeff)
                constant -= -coeff
    constant = sympy.simplify(constant)
    if semantic:
        groups.append(("semantic", semantic))
    return groups, constant, unknown


def _text_of(expr: str, span: Span | None) -> str:
    """The part of ``expr`` that ``span`` covers."""
    if span is None or span.end_line is None or span.end_col is None:
        return ""
    lines = expr.splitlines()
    if span.line == span.end_line:
        return lines[span.line - 1][span.col - 1:span.end_col - 1]
    parts = [lines[span.line - 1][span.col - 1:]]
    parts += lines[span.line:span.end_line - 1]
    parts.append(lines[span.end_line - 1][:span.end_col - 1])
    return " ".join(p.strip() for p in parts)


def _top_terms(node: lx.LossNode, sign: int = 1) -> list[tuple[int, lx.LossNode]]:
    """The additive terms of the text as written, with their signs."""
    if isinstance(node, lx.BinOp) and node.op in "+-":
        return _top_terms(node.left, sign) + _top_terms(node.right,
                                                        sign if node.op == "+" else -sign)
    if isinstance(node, lx.Neg) and isinstance(node.arg, lx.BinOp) and node.arg.op in "+-":
        return _top_terms(node.arg, -sign)
    return [(sign, node)]


def _read_objective(e: sympy.Expr, span, node, expr, values) -> list[tuple[str, _Read]]:
    try:
        return _read_sum(e, span, node, expr, values)
    except NotExpressibleError as exc:
        if exc.hint is None:
            exc.hint = _linear_hint(e, span)
        raise


def _read_sum(e: sympy.Expr, span, node, expr, values) -> list[tuple[str, _Read]]:
    try:
        return [(expr.strip(), read_term(e, span))]
    except NotExpressibleError as exc:
        first = exc
    pieces = sympy.Add.make_args(e)
    if any(_logsig_arg(a.as_independent(*LOGPS, as_Add=False)[1]) is not None
           for a in pieces) and any(log_term(a.as_independent(*LOGPS, as_Add=False)[1])
                                    and _logsig_arg(a.as_independent(*LOGPS, as_Add=False)[1])
                                    is None for a in pieces):
        try:  # a probability written with exp: -log(exp(pc)/(1 + exp(pc + pr))) is sCE
            return [(expr.strip(), read_term(_as_semantic(e), span, semantic=True))]
        except NotExpressibleError:
            pass
    groups, constant, unknown = _groups(e, span)
    pieces = len(groups) + len(unknown)
    semantic_only = len(groups) == 1 and groups[0][0] == "semantic" and not unknown
    if (pieces <= 1 and not semantic_only) or (semantic_only and len(groups[0][1]) == 1) \
            or any(kind == "mixed" for kind, _ in groups):  # exo, discopop: read whole only
        raise first
    if unknown:
        raise NotExpressibleError(
            f"'{show(unknown[0])}' is not part of a recognised f (logistic, robust, hinge, "
            "square, sigmoid, exo, discopop, or the semantic loss -log q)", span,
            piece=unknown[0],
            hint="each term of a sum must be one of -log sigmoid(s), softplus(-s), "
                 "max(0, 1 - s), (rho - 1/(2*beta))^2, sigmoid(-s), exo, discopop or -log q")
    if constant != 0:
        raise NotExpressibleError(
            f"the constant {show(constant)} is added to the terms: no family has an added "
            "constant (a sigmoid term may take one, k - k*sigmoid(u) = k*sigmoid(-u))", span)
    tops = [(sign, n, set(sympy.Add.make_args(sympy.expand(
        sign * normalise(to_sympy(n, values)), multinomial=False)))) for sign, n in _top_terms(node)]
    out = []
    for kind, group in groups:
        if kind == "semantic":
            try:
                out.append((_name(group, tops, expr), read_term(
                    sympy.Add(*group), span, as_linear=len(groups) > 1)))
                continue
            except NotExpressibleError:
                if len(group) == 1:
                    raise
            scales = _by_scale(group)
            if len(scales) > 1:  # -pc + beta*(ps - rs): CE, and a log-ratio beside it
                try:
                    out += [(_name(g, tops, expr), read_term(sympy.Add(*g), span,
                                                             as_linear=True)) for g in scales]
                    continue
                except NotExpressibleError:
                    pass
            subgroups = [[a] for a in group]
        else:
            subgroups = [group]
        for g in subgroups:
            text = _name(g, tops, expr)
            try:
                out.append((text, read_term(sympy.Add(*g), span, as_linear=len(groups) > 1)))
            except NotExpressibleError as exc:
                exc.message = f"in the term '{text}': {exc.message}"
                exc.args = (exc.message,)
                raise
    return out


def _by_scale(group: list) -> list[list]:
    """The log-probability pieces grouped by scale: pieces whose coefficients are rational
    multiples of each other (``beta*ps`` and ``-beta*rs``, not ``-pc``) may be one term."""
    out: list[list] = []
    for a in group:
        c = a.as_independent(*LOGPS, as_Add=False)[0]
        for g in out:
            r = sympy.nsimplify(sympy.simplify(c / g[0].as_independent(*LOGPS, as_Add=False)[0]),
                                rational=True)
            if r.is_Rational:
                g.append(a)
                break
        else:
            out.append([a])
    return out


def _name(group: list, tops, expr: str) -> str:
    """The user's text of the terms a group reads."""
    args = set()
    for a in group:
        args |= set(sympy.Add.make_args(a))
    found = [(sign, n) for sign, n, parts in tops if parts & args]
    if not found:
        return show(sympy.Add(*group))
    text = ""
    for sign, n in found:
        piece = _text_of(expr, n.span) or show(to_sympy(n))
        if not text:
            text = piece if sign > 0 else f"-({piece})" if isinstance(n, lx.BinOp) and \
                n.op in "+-" else f"-{piece}"
        else:
            text += (" + " if sign > 0 else " - ") + piece
    return text


# ---------------------------------------------------------------- the whole pipeline


def _decompile(expr, node, span, known, check_points, seed, values) -> Decompiled:
    e = normalise(to_sympy(node, values))
    reads = _read_objective(e, span, node, expr, values)
    terms, warnings = _named_terms(reads, known)
    parameters, assumptions = _parameters(terms)
    dsl, definitions, problem, open_params, notes = _dsl(terms, known)
    dsl, problem, more = _dsl_or_problem(dsl, definitions, terms, expr, problem)
    warnings += more
    if dsl is None:  # nothing to give at run time
        open_params, notes = (), ()
    fields = dict(expression=expr, terms=tuple(terms), parameters=parameters,
                  values=tuple(sorted(values.items())), assumptions=assumptions,
                  warnings=tuple(warnings), dsl=dsl, definitions=definitions,
                  dsl_problem=problem, open_params=open_params, dsl_notes=notes)
    if not check_points:
        return Decompiled(**fields)
    error = round_trip(node, tuple(terms), values=values, expression=expr,
                       names=_parameter_names(node), points=check_points, seed=seed)
    return Decompiled(**fields, round_trip_points=check_points, round_trip_error=error)


def _named_terms(reads, known) -> tuple[list[DecompiledTerm], list[str]]:
    """Each read term named after a known structure (up to ref and flip) or a new one."""
    from logicpo.logic.diagnostics import prefers_loser

    terms, warnings = [], []
    new: dict[tuple, str] = {}
    fresh = sum(1 for _, r in reads if not _known_as(
        Structure.from_masks("x", r.atoms, r.ok, r.bad), known))
    for i, (text, r) in enumerate(reads, 1):
        s = Structure.from_masks("decompiled", r.atoms, r.ok, r.bad, origin="decompile")
        found = _known_as(s, known)
        if found:
            s = s.renamed(found[0].expression)
        else:
            key = (r.atoms, r.ok, r.bad)
            if key not in new:
                new[key] = "decompiled" if fresh == 1 else f"decompiled_{len(new) + 1}"
            s = s.renamed(new[key])
        term = DecompiledTerm(text, s, r.family, r.params, r.weight, r.rho, r.normalize,
                              found, r.notes)
        terms.append(term)
        if r.family != "square" and s.degeneracy is None and _judged(s) and prefers_loser(s):
            where = f"term {i} ('{text}')" if len(reads) > 1 else f"'{text}'"
            warnings.append(f"{where} is {r.family}({s.name}), which prefers the loser: "
                            "training it raises M(yl) or lowers M(yw)")
    return terms, warnings


def _known_as(s: Structure, known) -> tuple[Match, ...]:
    """The known structures ``s`` is (up to ref and flip), or ``K(y)`` for a known ``K``
    about the winner alone read on another response ``y`` (``CE(yg)``, ``flip(W(ys))``).

    ``ref`` exists for single-model structures over ``M(yw), M(yl)`` only, and ``matches``
    tries it on every single-model one, so a structure such as CPO3 (over ``M(yw), M(yl),
    M(yl2)``) is compared as itself and flipped only."""
    pairs, beyond = [], []
    for k in known:
        (beyond if k.single_model and k.atoms != atom_names.ATOMS_SINGLE else pairs).append(k)
    found = matches(s, pairs) + tuple(
        Match(k.name, relation) for relation in ("same", "flip") for k in beyond
        if (k.atoms, *((k.ok_mask, k.bad_mask) if relation == "same" else
                       (k.bad_mask, k.ok_mask))) == (s.atoms, s.ok_mask, s.bad_mask))
    return found or on_response(s, known)


#: Whether a term prefers the loser is asked of structures over M(yw) and M(yl) and at most
#: this many atoms (the exact test walks a grid of 3^(n-1) points per policy atom).
_JUDGED_ATOMS = 6


def _judged(s: Structure) -> bool:
    return {"M(yw)", "M(yl)"} <= set(s.atoms) and len(s.atoms) <= _JUDGED_ATOMS


def _parameters(terms) -> tuple[tuple[Parameter, ...], tuple[str, ...]]:
    roles: dict[str, list[str]] = {}
    symbols: dict[str, sympy.Symbol] = {}
    several = len(terms) > 1
    for i, t in enumerate(terms, 1):
        of = f" of term {i}" if several else ""
        for key, v in [*t.exact_params.items(), ("weight", t.exact_weight)]:
            for p in sorted(parameters_of(v), key=str):
                symbols[p.name] = p
                role = (FAMILIES[t.family].role(key) if key != "weight" else ROLES[key]) + of
                if v != p:
                    role += f" ({key} = {show(v)})"
                roles.setdefault(p.name, [])
                if role not in roles[p.name]:
                    roles[p.name].append(role)
    params, assumptions = [], []
    for name in sorted(roles):
        assumption = f"{name} > 0" if symbols[name].is_positive else None
        if assumption:
            assumptions.append(assumption)
        params.append(Parameter(name, tuple(roles[name]), assumption))
    return tuple(params), tuple(assumptions)


def _dsl(terms, known):
    """The objective as DSL text, or why there is none; open parameters; notes."""
    from logicpo.logic.objective import Objective, Term

    definitions: list[str] = []
    seen: set[str] = set()
    open_params: dict[str, str] = {}  # family key -> the user's name
    problems: list[str] = []
    culprits: set[str] = set()  # the parameters that keep the DSL from saying it
    dsl_terms = []
    notes: list[str] = []
    definitions += _declarations(t.structure.atoms for t in terms)
    for i, t in enumerate(terms, 1):
        name = t.structure.name
        if not t.matches and name not in seen:
            seen.add(name)
            definitions.append(definition_line(t.structure))
        if parameters_of(t.exact_weight):
            culprits |= {p.name for p in parameters_of(t.exact_weight)}
            problems.append(f"the weight {show(t.exact_weight)} of term {i} is not a number")
            continue
        params: list[tuple[str, object]] = []
        for key in FAMILIES[t.family].params:
            if key == "normalize":
                if t.normalize:
                    params.append((key, "length"))
                elif t.family == "logistic" and _is_ce(t.structure):
                    params.append((key, "none"))  # not the NLL's token mean (normalize auto)
                continue
            v = t.exact_params.get(key)
            if v is None:
                continue
            if parameters_of(v):
                if isinstance(v, sympy.Symbol) and open_params.get(key, v.name) == v.name:
                    open_params[key] = v.name
                else:
                    culprits |= {p.name for p in parameters_of(v)}
                    problems.append(f"{key} = {show(v)} in term {i} is not one open parameter")
                continue
            x = float(v)
            default = FAMILIES[t.family].default(key)
            if key == "beta" or x != default:
                params.append((key, x))
        dsl_terms.append(Term(float(t.exact_weight), t.family, t.structure, tuple(params)))
    # A name left open must mean one thing. A runtime beta fills only the betas left open,
    # but a runtime gamma, label_smoothing or tau sets that key in every term that takes it.
    used: dict[str, set[str]] = {}
    for i, t in enumerate(terms, 1):
        for key, v in [*t.exact_params.items(), ("weight", t.exact_weight)]:
            for p in parameters_of(v):
                used.setdefault(p.name, set()).add(key)
        for key, name in open_params.items():
            v = t.exact_params.get(key)
            if key != "beta" and key in FAMILIES[t.family].params and \
                    not (isinstance(v, sympy.Symbol) and v.name == name):
                culprits.add(name)
                problems.append(f"{key} is {name} in one term but {show(v or 0)} in term {i}, "
                                f"and a runtime {key} sets both")
    for name, keys in used.items():
        if name in open_params.values() and len(keys) > 1:
            culprits.add(name)
            problems.append(f"{name} is used as {', '.join(sorted(keys))} at once")
    if problems:
        names = sorted(culprits or used)
        return (None, tuple(definitions), "; ".join(problems) + ": no DSL term can say this; "
                "bind " + " and ".join(f"--value {n}=NUMBER" for n in names), (), ())

    if all(t.weight < 0 for t in dsl_terms):
        problems.append("every term has a negative weight, and a DSL objective starts with a "
                        "positive term")
    if problems:
        return (None, tuple(definitions), "; ".join(problems) + ": no DSL objective says "
                "this", (), ())
    dsl_terms.sort(key=lambda t: t.weight < 0)  # the DSL's sum starts with a positive term
    for key, name in open_params.items():
        option = "--" + key.replace("_", "-")
        default = {"beta": "0.1, TRL's"}.get(key)
        notes.append(f"{name} is the {ROLES[key]} {key}, left open in the DSL: give it at run "
                     f"time with {option} (compile, eval, export, train) or "
                     f"logicpo.loss(..., {key}=...)"
                     + (f" (default {default})" if default else " (default: the family's)"))
    text = Objective("decompiled", tuple(dsl_terms)).text()
    return text, tuple(definitions), None, tuple(sorted(open_params.items())), tuple(notes)


def _is_ce(s: Structure) -> bool:
    """CE, or CE on another response (``ok: M(y)  bad: ~M(y)``): the NLL."""
    masks = (s.ok_mask, s.bad_mask)
    return (s.single_model and masks == _CE) or (len(s.atoms) == 1 and masks == _CE_ONE
                                                  and atom_names.model_of(s.atoms[0]) == "M")


def _declarations(atom_tuples) -> list[str]:
    """The ``responses`` and ``models`` lines a file needs for atoms beyond the classic
    four (issue 13), none for a classic objective."""
    used = atom_names.union(*atom_tuples)
    if atom_names.is_classic(used):
        return []
    lines = []
    responses = atom_names.responses_of((*atom_names.ATOMS_REF, *used))
    if responses != atom_names.CLASSIC_RESPONSES:
        lines.append("responses " + ", ".join(responses))
    models = atom_names.models_of((*atom_names.ATOMS_REF, *used))
    if models != atom_names.CLASSIC_MODELS:
        lines.append("models " + ", ".join(models))
    return lines


class _Unloadable(Exception):
    """The DSL's loader refused the decompiled text (with the loader's error)."""


def _dsl_or_problem(dsl, definitions, terms, expr, problem):
    """``(dsl, problem, warnings)`` after the DSL text is read back (:func:`_check_dsl`).

    A classic objective's text that does not load is a bug of logicpo; one over other atoms
    needs a DSL that declares them, and when this version's loader cannot read it, there is
    no DSL text and ``problem`` says why (the terms, structures and round trip stand)."""
    if dsl is None:
        return None, problem, []
    try:
        return dsl, problem, _check_dsl(dsl, definitions, terms, expr)
    except _Unloadable as exc:
        used = atom_names.union(*(t.structure.atoms for t in terms))
        beyond = [a for a in used if a not in atom_names.CLASSIC]
        if not beyond:
            raise InternalError(f"the DSL text of '{expr}' does not load: {exc}") from None
        return None, (f"the DSL text '{dsl}' does not load in this version of logicpo, "
                      f"whose DSL does not read these structures over {', '.join(beyond)} "
                      f"(the loader says: {exc})"), []


def _check_dsl(dsl: str, definitions, terms, expr) -> list[str]:
    """The DSL text read back by the DSL's own loader must give the same terms; returns
    the warnings ``logicpo check`` gives about it."""
    from logicpo.logic.diagnostics import diagnose
    from logicpo.logic.objective import resolved_params
    from logicpo.program import load_text

    head = "".join(d + "\n" for d in definitions)
    try:
        if atom_names.is_classic(atom_names.union(*(t.structure.atoms for t in terms))):
            objective = load_text(head, "<decompiled>").inline_objective(dsl, "<decompiled>")
        else:  # CE(yg) is read after the file's responses line: the objective of r.source
            objective = load_text(head + f"objective decompiled_loss = {dsl}\n",
                                  "<decompiled>").objective("decompiled_loss")
    except LogicpoError as exc:
        raise _Unloadable(str(exc)) from None
    left = list(objective.terms)
    for mine in terms:
        def same(back, mine=mine) -> bool:
            given = resolved_params(back.family, dict(back.params))
            return (back.family == mine.family and back.structure.atoms == mine.structure.atoms
                    and back.structure.masks() == mine.structure.masks()
                    and back.weight == float(mine.exact_weight)
                    and all(parameters_of(v) or abs(given[k] - float(v)) <= 1e-12 * max(
                        1.0, abs(float(v))) for k, v in mine.exact_params.items() if k in given))
        back = next((b for b in left if same(b)), None)
        if back is None:
            raise InternalError(f"the DSL text '{dsl}' of '{expr}' has no term "
                                f"{mine.family}({mine.structure.name}) as decompiled")
        left.remove(back)
    if left:
        raise InternalError(f"the DSL text '{dsl}' has {len(objective.terms)} terms, "
                            f"not {len(terms)}")
    # the per-term warning above already says which term prefers the loser
    # and robust's label smoothing left open is the user's to give, not 0
    skip = {"prefers-loser"} | ({"robust-default"} if any(
        "label_smoothing" in parameters_of_keys(t) for t in terms) else set())
    return [d.message for d in diagnose(objective)
            if d.severity == "warning" and d.code not in skip]


def parameters_of_keys(t: DecompiledTerm) -> set[str]:
    """The family keys of ``t`` whose value is symbolic."""
    return {k for k, v in t.exact_params.items() if parameters_of(v)}


__all__ = ["decompile", "parameters_in", "read_term"]
