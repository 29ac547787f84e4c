"""Questions about formulas decided by z3: entailment, equivalence, satisfiability.

Every query runs with a timeout and answers with a :class:`~logicpo.reasoning.verdict.Verdict`:
proved, refuted with a countermodel world, or unknown with z3's own reason.

>>> from logicpo.logic.formulas import atom
>>> import sympy
>>> v = entails(atom("M(yw)"), sympy.Implies(atom("M(yl)"), atom("M(yw)")))
>>> v.status.value
'proved'
>>> entails(atom("M(yl)"), atom("M(yw)")).countermodel.describe()
'M(yw)=F, M(yl)=T'
"""

from __future__ import annotations

import z3

from logicpo.logic.formulas import atoms_of, decompose
from logicpo.logic.truth import World
from logicpo.reasoning.verdict import DEFAULT_TIMEOUT_MS, Verdict

__all__ = ["DEFAULT_TIMEOUT_MS", "check_valid", "entails", "equivalent", "satisfiable", "to_z3",
           "variables_for"]


def to_z3(expr, variables: dict[str, z3.BoolRef]) -> z3.BoolRef:
    """Translate a formula (any layer's view of it via ``decompose``) to z3."""
    op, args = decompose(expr)
    if op == "atom":
        return variables[args[0]]
    if op == "const":
        return z3.BoolVal(args[0])
    sub = [to_z3(a, variables) for a in args]
    if op == "not":
        return z3.Not(sub[0])
    if op == "and":
        return z3.And(*sub)
    if op == "or":
        return z3.Or(*sub)
    if op == "xor":
        out = sub[0]
        for s in sub[1:]:
            out = z3.Xor(out, s)
        return out
    if op == "implies":
        return z3.Implies(sub[0], sub[1])
    if op == "iff":
        return sub[0] == sub[1]
    raise AssertionError(op)


def variables_for(atoms: tuple[str, ...]) -> dict[str, z3.BoolRef]:
    return {a: z3.Bool(a) for a in atoms}


def check_valid(claim: z3.BoolRef, variables: dict[str, z3.BoolRef],
                timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Verdict:
    """Is ``claim`` true in every world? Refutations carry the world z3 found."""
    solver = z3.Solver()
    solver.set("timeout", int(timeout_ms))
    solver.add(z3.Not(claim))
    result = solver.check()
    if result == z3.unsat:
        return Verdict.proved()
    if result == z3.sat:
        model = solver.model()
        atoms = tuple(variables)
        index = sum(1 << i for i, a in enumerate(atoms)
                    if z3.is_true(model.eval(variables[a], model_completion=True)))
        return Verdict.refuted(World(atoms, index))
    return Verdict.unknown(solver.reason_unknown() or "z3 returned unknown")


def entails(a, b, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Verdict:
    """``a |= b``: every world that satisfies ``a`` satisfies ``b``."""
    v = variables_for(atoms_of(a, b))
    return check_valid(z3.Implies(to_z3(a, v), to_z3(b, v)), v, timeout_ms)


def equivalent(a, b, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Verdict:
    v = variables_for(atoms_of(a, b))
    return check_valid(to_z3(a, v) == to_z3(b, v), v, timeout_ms)


def satisfiable(a, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Verdict:
    """Proved with a witness world when satisfiable; refuted (no world) when not."""
    v = variables_for(atoms_of(a))
    verdict = check_valid(z3.Not(to_z3(a, v)), v, timeout_ms)
    if verdict.is_refuted:  # some world falsifies "not a": it satisfies a
        return Verdict(Verdict.proved().status, verdict.countermodel)
    if verdict.is_proved:
        return Verdict(Verdict.refuted(World(tuple(v), 0)).status, None, "no world satisfies it")
    return verdict
