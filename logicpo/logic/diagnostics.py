"""What is wrong or suspicious about a loss: the one place that decides it.

:func:`diagnose` looks at a structure (taken as the paper's loss) or an objective and returns
:class:`~logicpo.errors.Diagnostic` values: errors for what cannot train, warnings for what is
probably a mistake. ``check`` and ``show`` print them; training refuses a loss with an error
(:func:`require_trainable`).

Errors: a degenerate structure (spec section 3), and a loss that does not depend on the
policy (no ``M(...)`` atom moves its log-ratio, or every term has weight 0), whose gradient is
zero. Warnings: a loss that prefers the loser, a term with weight 0 or below, a term that does
not depend on the policy next to ones that do, and ``robust`` at label smoothing 0 (which is
exactly ``logistic``).

Whether and which way the policy moves the log-ratio ``rho = log WMC(ok) - log WMC(bad)`` is
decided exactly. ``WMC`` is linear in each atom weight ``w``, so the sign of ``d rho / d w`` is
the sign of ``T_w*B - T*B_w``, a polynomial that does not contain ``w`` and has degree at most
2 in every other weight; it is zero everywhere iff it is zero on the grid ``{1/4, 1/2, 3/4}``
of the other weights (three points fix a degree-2 polynomial in each variable), and its signs
on that grid are the ones reported.

>>> from logicpo.program import load_text
>>> program = load_text("structure refonly { core: Ref(yl) -> Ref(yw) }")
>>> [(d.severity, d.message) for d in diagnose(program.structure("refonly"))]
[('error', "'refonly' cannot train: its loss does not depend on the policy (no M(yw) or M(yl) atom moves its log-ratio)")]
>>> [d.severity for d in diagnose(program.objective("sigmoid"))]
[]
"""

from __future__ import annotations

import functools
from itertools import product

from logicpo.errors import DegenerateStructureError, Diagnostic, UntrainableError
from logicpo.logic.atoms import ATOMS_REF, ATOMS_SINGLE
from logicpo.logic.objective import Objective, Term
from logicpo.logic.structure import Structure

_GRID = (1, 2, 3)  # weights 1/4, 1/2, 3/4, scaled by 4 so that all arithmetic is on integers
_SCALE = 4


@functools.cache
def policy_slopes(atoms: tuple[str, ...], ok: int, bad: int) -> dict[str, frozenset[int]]:
    """For each policy atom (every ``M(...)`` atom of the structure), the signs (-1, 0, 1)
    that ``d rho / d logp`` takes on the grid."""
    n = len(atoms)
    policy = [a for a in atoms if a.startswith("M(")]
    if n > 4:  # the same grid, with numpy: 3^(n-1) points of 2^n worlds each
        return {a: _slope_signs_numpy(atoms.index(a), n, ok, bad) for a in policy}

    def wmc(region: int, w: tuple[int, ...]) -> int:
        total = 0
        for k in range(1 << n):
            if (region >> k) & 1:
                term = 1
                for i in range(n):
                    term *= w[i] if (k >> i) & 1 else _SCALE - w[i]
                total += term
        return total

    out = {}
    for a in policy:
        i = atoms.index(a)
        signs = set()
        for point in product(_GRID, repeat=n - 1):
            w1 = (*point[:i], _SCALE, *point[i:])  # the atom true, then false: T_w = T(1) - T(0)
            w0 = (*point[:i], 0, *point[i:])
            t1, t0, b1, b0 = wmc(ok, w1), wmc(ok, w0), wmc(bad, w1), wmc(bad, w0)
            # T = t0 + w*(t1 - t0): T_w*B - T*B_w = (t1 - t0)*b0 - t0*(b1 - b0)
            value = (t1 - t0) * b0 - t0 * (b1 - b0)
            signs.add((value > 0) - (value < 0))
        out[a] = frozenset(signs)
    return out


def _slope_signs_numpy(i: int, n: int, ok: int, bad: int) -> frozenset[int]:
    """:func:`policy_slopes` for atom ``i`` of ``n`` > 4, in exact int64 arithmetic (every
    WMC is at most 4^n, so a product of two is at most 2^40 for 10 atoms).

    With atom ``i``'s weight at 4 (true) or 0 (false) only the worlds where it is true, or
    false, count, each with weight 4 times that of the other atoms' (the common factor does
    not change a sign): ``ok`` and ``bad`` split by atom ``i`` are four tables over the other
    ``n - 1`` atoms. The grid is the same for every other atom, so the WMC at every grid
    point is those tables with the 3 x 2 matrix of weights ``(4 - g, g)`` applied along each
    atom's axis: ``3^(n-1)`` points in ``n 3^(n-1)`` operations (milliseconds for 10 atoms,
    where weighting all ``2^n`` worlds at each of the 19,683 points took 3 s)."""
    import numpy as np

    def split(region: int):
        v = np.array([(region >> k) & 1 for k in range(1 << n)], dtype=np.int64)
        cube = v.reshape((2,) * n)  # axis n - 1 - j is atom j (C order, world k's bit j)
        return cube.take(1, axis=n - 1 - i), cube.take(0, axis=n - 1 - i)

    tables = np.stack([*split(ok), *split(bad)])  # (4, 2, ..., 2): T1 T0 B1 B0
    weights = np.array([[_SCALE - g, g] for g in _GRID], dtype=np.int64)  # (3, 2)
    for _ in range(n - 1):  # each other atom's axis (axis 1) becomes a grid axis at the end
        tables = np.tensordot(tables, weights, axes=([1], [1]))
    t1, t0, b1, b0 = tables  # each (3, ..., 3): the grid
    value = (t1 - t0) * b0 - t0 * (b1 - b0)
    return frozenset(int(x) for x in np.unique(np.sign(value)))


def moves_with_policy(s: Structure) -> bool:
    """Does the policy's log-prob of either response change the structure's log-ratio?"""
    return any(signs != {0} for signs in policy_slopes(s.atoms, s.ok_mask, s.bad_mask).values())


def prefers_loser(s: Structure) -> bool:
    """Does raising M(yw) never help and raising M(yl) never hurt (the preference reversed)?"""
    slopes = policy_slopes(s.atoms, s.ok_mask, s.bad_mask)
    if "M(yw)" not in slopes or "M(yl)" not in slopes:  # no winner and loser to prefer
        return False
    return (moves_with_policy(s) and slopes["M(yw)"] <= {-1, 0}
            and slopes["M(yl)"] <= {0, 1})


def diagnose(item: Structure | Objective) -> list[Diagnostic]:
    """Errors and warnings about a structure (as the paper's loss) or an objective."""
    if isinstance(item, Structure):
        return _diagnose(item.name, (Term(1.0, "logistic", item),), item.span, "structure")
    return _diagnose(item.name, item.terms, item.span, "objective")


def _diagnose(name: str, terms: tuple[Term, ...], span, what: str) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    single = what == "structure"

    def add(severity: str, code: str, message: str, hint: str | None = None) -> None:
        out.append(Diagnostic(severity, message, span, hint=hint, code=code))

    seen: set[str] = set()
    for t in terms:
        s = t.structure
        if s.degeneracy is not None and s.name not in seen:
            seen.add(s.name)
            label = f"structure '{name}'" if single else f"'{name}': its structure '{s.name}'"
            add("error", "degenerate", f"{label} is degenerate: {s.degeneracy.value}",
                "a loss needs at least one world in ok and one in bad, and ok different "
                "from bad")
    if out:
        return out
    live = [t for t in terms if t.weight != 0 and moves_with_policy(t.structure)]
    if not live:
        if single:
            which = "M(yw) or M(yl)" if all(t.structure.atoms in (ATOMS_SINGLE, ATOMS_REF)
                                            for t in terms) else "M(...)"
            add("error", "no-gradient", f"'{name}' cannot train: its loss does not depend on "
                f"the policy (no {which} atom moves its log-ratio)",
                "a loss needs a policy atom whose weight changes rho, as in ref(CPO) = DPO")
        elif all(t.weight == 0 for t in terms):
            add("error", "no-gradient", f"'{name}' cannot train: every term has weight 0")
        else:
            add("error", "no-gradient", f"'{name}' cannot train: no term with a non-zero "
                "weight depends on the policy (no M(yw) or M(yl) atom moves a log-ratio)")
        return out
    for t in terms:
        if t.weight == 0:
            add("warning", "zero-weight", f"'{name}': the term {t.text()} has weight 0 and "
                "contributes nothing")
        elif t.weight < 0:
            add("warning", "negative-weight", f"'{name}': the term {t.text()} has a negative "
                "weight: training pushes its loss up, against the preference its structure "
                "states", "write the term with a positive weight, and flip(S) if you want the "
                "opposite preference")
        elif not moves_with_policy(t.structure):
            add("warning", "no-gradient-term", f"'{name}': the term {t.text()} does not depend "
                "on the policy: it adds a constant")
        if t.family == "robust" and t.param("label_smoothing") == 0:
            add("warning", "robust-default", f"'{name}': {t.text()} has label_smoothing 0, "
                "where robust is exactly logistic", "give the noise rate, e.g. "
                "robust(DPO, label_smoothing=0.1), or pass --label-smoothing")
    if all(prefers_loser(t.structure) for t in live):
        add("warning", "prefers-loser", f"'{name}' prefers the loser: training raises M(yl) or "
            "lowers M(yw), never the other way", "swap yw and yl, or drop a flip(...)")
    return out


def as_error(d: Diagnostic) -> DegenerateStructureError | UntrainableError:
    """The exception that an error diagnostic stands for."""
    cls = DegenerateStructureError if d.code == "degenerate" else UntrainableError
    return cls(d.message, d.span, source_line=d.source_line, hint=d.hint)


def require_trainable(item: Structure | Objective) -> None:
    """Raise the first error :func:`diagnose` finds (for commands that are about to train).

    >>> from logicpo.program import load_text
    >>> require_trainable(load_text("objective z = 0*sigmoid").objective("z"))
    Traceback (most recent call last):
    ...
    logicpo.errors.UntrainableError: <string>:1:1: 'z' cannot train: every term has weight 0
    """
    for d in diagnose(item):
        if d.severity == "error":
            raise as_error(d)
