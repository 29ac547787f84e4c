"""A float64 interpreter of the parsed loss (``math`` only), for the round trip."""

from __future__ import annotations

import math

from logicpo.syntax import loss_expr as lx


def evaluate(node: lx.LossNode, env: dict[str, float]) -> float:
    """The value of a parsed loss in float64 (``math`` only), for the round trip."""
    if isinstance(node, lx.Num):
        return node.value
    if isinstance(node, lx.Var):
        return env[node.name]
    if isinstance(node, lx.Neg):
        return -evaluate(node.arg, env)
    if isinstance(node, lx.BinOp):
        a, b = evaluate(node.left, env), evaluate(node.right, env)
        return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                "/": lambda: a / b, "**": lambda: a ** b}[node.op]()
    args = [evaluate(a, env) for a in node.args]
    x = args[0]
    return {
        "log": lambda: math.log(x), "exp": lambda: math.exp(x),
        "sigmoid": lambda: _sigmoid(x), "logsigmoid": lambda: -_softplus(-x),
        "softplus": lambda: _softplus(x), "log1mexp": lambda: _log1mexp(x),
        "relu": lambda: max(0.0, x), "max": lambda: max(args),
        "log1p": lambda: math.log1p(x), "expm1": lambda: math.expm1(x),
        "logaddexp": lambda: max(args) + math.log1p(math.exp(-abs(args[0] - args[1]))),
    }[node.func]()


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _log1mexp(a: float) -> float:
    return math.log(-math.expm1(a)) if a > -math.log(2) else math.log1p(-math.exp(a))

