"""The loss families ``f`` of spec section 3: the one place where a family is defined.

Each entry gives the family's name, its formula as people read it, the parameters it
takes (with their defaults and roles), the papers that use it, a float64 reference of its
value, and the PyTorch code the loss compiler writes for it. Every layer reads this table:
the DSL's checks (:mod:`logicpo.logic.objective`), the world-enumeration reference
(:mod:`logicpo.numbers.brute`), the code generator (:mod:`logicpo.numbers.codegen`) and the
decompiler (its round trip, its messages, the roles it reports). Adding a family is one
entry here (and, for the decompiler to *recognise* it, a reader in
:mod:`logicpo.decompiler.outer`).

The reference is written once against a small set of operations (:class:`Ops`): ``MATH``
evaluates it on floats with :mod:`math`, the brute-force evaluator on float64 tensors.

>>> FAMILIES["hinge"].reference(MATH, 0.25, 0.25, {"beta": 1.0, "gamma": 0.0})
0.75
>>> FAMILIES["exo"].default("label_smoothing"), ROLES["gamma"]
(0.001, 'margin')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Every family parameter: its role (what it does to the loss) and its neutral value, the
#: value a family uses unless it says otherwise (``Family.defaults``).
PARAMS: dict[str, tuple[str, float | str | None]] = {
    "beta": ("temperature", 1.0),
    "gamma": ("margin", 0.0),
    "label_smoothing": ("smoothing", 0.0),
    "tau": ("temperature", 0.05),
    "normalize": ("length normalisation", None),
}
PARAM_DEFAULTS: dict[str, float | str | None] = {k: d for k, (_, d) in PARAMS.items()}
ROLES: dict[str, str] = {k: r for k, (r, _) in PARAMS.items()} | {"weight": "weight"}


class Ops:
    """The operations a reference formula uses, on floats (``math``, stable in float64)."""

    @staticmethod
    def logsigmoid(x: float) -> float:
        return -(max(-x, 0.0) + math.log1p(math.exp(-abs(x))))

    @staticmethod
    def sigmoid(x: float) -> float:
        return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))

    @staticmethod
    def exp(x: float) -> float:
        return math.exp(x)

    @staticmethod
    def relu(x: float) -> float:
        return max(0.0, x)


MATH = Ops()


@dataclass(frozen=True)
class Code:
    """What the code generator hands a family's template: the code of ``rho``, of
    ``s = beta*rho - gamma`` and of ``-s`` (signs flipped, no extra operation), their
    display text, the term's parameters and its index ``k`` (for variable names)."""

    r: str
    s: str
    neg: str
    s_text: str
    beta: float
    gamma: float
    eps: float
    tau: float
    k: int
    num: Callable[[float], str]  # a float as a Python literal
    paren: Callable[[str], str]  # code in brackets unless it is one name
    lines: list[str]  # lines to emit before the expression

    def bind(self) -> str:
        """``s`` bound to a variable (used more than once)."""
        v = f"s{self.k}"
        self.lines.append(f"{v} = {self.s}  # (B,)")
        return v


@dataclass(frozen=True)
class Family:
    """An outer function ``f`` applied to ``s = beta*rho - gamma``."""

    name: str
    formula: str
    params: tuple[str, ...]
    used_by: str
    reference: Callable[[Any, Any, Any, dict], Any]  # (ops, s, rho, params) -> f
    code: Callable[[Code], tuple[str, str]]  # -> (expression, display text)
    defaults: tuple[tuple[str, float], ...] = ()  # where this family differs from neutral
    #: the template reads ``rho`` only through ``s = beta*rho - gamma`` (square reads rho
    #: and beta apart), so the code generator may hand it log-ratios already times beta
    reads_s: bool = True

    def default(self, key: str):
        """The value of ``key`` when a term leaves it open."""
        return dict(self.defaults).get(key, PARAM_DEFAULTS[key])

    def role(self, key: str) -> str:
        return "temperature of m = sigmoid(s/tau)" if key == "tau" else ROLES[key]


def _eps(p: dict) -> float:
    return p.get("label_smoothing", 0.0)


def _logistic_code(c: Code) -> tuple[str, str]:
    if c.eps == 0.0:
        return f"F.softplus({c.neg})", f"-log sigmoid({c.s_text})"
    v, e = c.bind(), c.eps
    return (f"-{c.num(1 - e)} * F.logsigmoid({v}) - {c.num(e)} * F.logsigmoid(-{v})",
            f"-{1 - e:g}*log sigmoid(s) - {e:g}*log sigmoid(-s), s = {c.s_text}")


def _robust_code(c: Code) -> tuple[str, str]:
    if c.eps == 0.0:
        return f"F.softplus({c.neg})", f"-log sigmoid({c.s_text})"
    v, e = c.bind(), c.eps
    return (f"(-{c.num(1 - e)} * F.logsigmoid({v}) + {c.num(e)} * F.logsigmoid(-{v}))"
            f" / {c.num(1 - 2 * e)}",
            f"(-{1 - e:g}*log sigmoid(s) + {e:g}*log sigmoid(-s)) / {1 - 2 * e:g}, "
            f"s = {c.s_text}")


def _exo_code(c: Code) -> tuple[str, str]:
    v, e, k = c.bind(), c.eps, c.k
    c.lines.append(f"lsp{k} = F.logsigmoid({v})  # (B,)")
    c.lines.append(f"lsn{k} = F.logsigmoid(-{v})  # (B,)")
    return (f"torch.exp(lsp{k}) * (lsp{k} + {c.num(-math.log1p(-e))}) + "
            f"torch.exp(lsn{k}) * (lsn{k} + {c.num(-math.log(e))})",
            f"sigmoid(s)*(log sigmoid(s) - log {1 - e:g}) + sigmoid(-s)*(log sigmoid(-s)"
            f" - log {e:g}), s = {c.s_text}")


def _discopop_code(c: Code) -> tuple[str, str]:
    v, tau = c.bind(), c.tau
    # (1 - m) * -log sigmoid(s) + m * exp(-s), m = sigmoid(s / tau), without overflow
    return (f"torch.sigmoid(-{v} / {c.num(tau)}) * F.softplus(-{v}) + "
            f"torch.exp(F.logsigmoid({v} / {c.num(tau)}) - {v})",
            f"(1 - m)*(-log sigmoid(s)) + m*exp(-s), m = sigmoid(s/{tau:g}), s = {c.s_text}")


def _square_code(c: Code) -> tuple[str, str]:
    half = 1.0 / (2.0 * c.beta)
    return f"torch.square({c.r} - {c.num(half)})", f"(rho - {half:g})^2"


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("logistic", "-(1-eps)*log sigmoid(s) - eps*log sigmoid(-s)",
           ("beta", "gamma", "label_smoothing", "normalize"), "DPO, CPO, SimPO, cDPO",
           lambda o, s, rho, p: -(1 - _eps(p)) * o.logsigmoid(s) - _eps(p) * o.logsigmoid(-s),
           _logistic_code),
    Family("hinge", "max(0, 1 - s)", ("beta", "gamma", "normalize"), "SLiC, RSO",
           lambda o, s, rho, p: o.relu(1 - s),
           lambda c: (f"F.relu(1.0 - {c.paren(c.s)})", f"max(0, 1 - ({c.s_text}))")),
    Family("square", "(rho - 1/(2*beta))^2", ("beta", "normalize"), "IPO",
           lambda o, s, rho, p: (rho - 1 / (2 * p["beta"])) ** 2, _square_code,
           reads_s=False),
    Family("robust", "(-(1-eps)*log sigmoid(s) + eps*log sigmoid(-s)) / (1 - 2*eps)",
           ("beta", "gamma", "label_smoothing", "normalize"), "robust DPO",
           lambda o, s, rho, p: (-(1 - _eps(p)) * o.logsigmoid(s)
                                 + _eps(p) * o.logsigmoid(-s)) / (1 - 2 * _eps(p)),
           _robust_code),
    Family("exo", "sigmoid(s)*(log sigmoid(s) - log(1-eps)) + sigmoid(-s)*(log sigmoid(-s) - log eps)",
           ("beta", "gamma", "label_smoothing", "normalize"), "EXO",
           lambda o, s, rho, p: (o.sigmoid(s) * (o.logsigmoid(s) - math.log1p(-_eps(p)))
                                 + o.sigmoid(-s) * (o.logsigmoid(-s) - math.log(_eps(p)))),
           _exo_code, defaults=(("label_smoothing", 1e-3),)),
    Family("sigmoid", "sigmoid(-s)", ("beta", "gamma", "normalize"), "APO",
           lambda o, s, rho, p: o.sigmoid(-s),
           lambda c: (f"torch.sigmoid({c.neg})", f"sigmoid(-({c.s_text}))")),
    Family("linear", "-s", ("beta", "gamma", "normalize"), "SELM",
           lambda o, s, rho, p: -s,
           lambda c: (c.neg, f"-({c.s_text})")),
    Family("discopop", "(1-m)*(-log sigmoid(s)) + m*exp(-s), m = sigmoid(s/tau)",
           ("beta", "gamma", "tau", "normalize"), "DiscoPOP",
           # m*exp(-s) as exp(log m - s): exp(-s) alone overflows where m underflows
           lambda o, s, rho, p: (o.sigmoid(-s / p["tau"]) * -o.logsigmoid(s)
                                 + o.exp(o.logsigmoid(s / p["tau"]) - s)),
           _discopop_code),
)}
