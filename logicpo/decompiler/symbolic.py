"""Step 0 of decompilation: the parsed loss (AST) translated node by node into SymPy.

Never ``sympify``: each node of :mod:`logicpo.syntax.loss_expr` becomes one SymPy
operation. Then :func:`normalise` spells softplus, sigmoid and odds one way.
"""

from __future__ import annotations

import sympy

from logicpo.errors import NotExpressibleError
from logicpo.logic.closed_form import LOGP, log1mexp, sigmoid
from logicpo.logic.closed_form import pc as PC
from logicpo.logic.closed_form import pr as PR
from logicpo.logic.closed_form import rc as RC
from logicpo.logic.closed_form import rr as RR
from logicpo.syntax import loss_expr as lx

BETA = sympy.Symbol("beta", positive=True)
GAMMA = sympy.Symbol("gamma", real=True)
_VARS = {"pc": PC, "pr": PR, "rc": RC, "rr": RR, "beta": BETA, "gamma": GAMMA}
LOGPS = (PC, PR, RC, RR)
ATOM_OF = {lp: name for name, lp in LOGP.items()}
MAX_POWER = 8


def to_sympy(node: lx.LossNode) -> sympy.Expr:
    """The SymPy expression of a parsed loss (a translation, node by node)."""
    if isinstance(node, lx.Num):
        return sympy.Rational(repr(node.value))
    if isinstance(node, lx.Var):
        return _VARS[node.name]
    if isinstance(node, lx.Neg):
        return -to_sympy(node.arg)
    if isinstance(node, lx.BinOp):
        left, right = to_sympy(node.left), to_sympy(node.right)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        if node.op == "/":
            if right == 0:
                raise NotExpressibleError("division by zero", node.right.span)
            return left / right
        if not (right.is_Integer and abs(int(right)) <= MAX_POWER):
            raise NotExpressibleError(
                f"powers must be whole numbers between -{MAX_POWER} and {MAX_POWER}, "
                f"not {right}", node.right.span)
        return left ** right
    if isinstance(node, lx.Call):
        args = [to_sympy(a) for a in node.args]
        try:
            return _call(node.func, args)
        except (ValueError, TypeError, ArithmeticError) as exc:  # e.g. max of complex values
            raise NotExpressibleError(f"{node.func}(...) cannot be taken here: {exc}",
                                      node.span) from None
    raise TypeError(f"not a loss node: {node!r}")


def _call(func: str, args: list[sympy.Expr]) -> sympy.Expr:
    x = args[0]
    return {
        "log": lambda: sympy.log(x),
        "exp": lambda: sympy.exp(x),
        "sigmoid": lambda: sigmoid(x),
        "logsigmoid": lambda: sympy.log(sigmoid(x)),
        "softplus": lambda: -sympy.log(sigmoid(-x)),
        "log1mexp": lambda: log1mexp(x),
        "relu": lambda: sympy.Max(0, x),
        "max": lambda: sympy.Max(*args),
    }[func]()



def normalise(e: sympy.Expr) -> sympy.Expr:
    """Spell softplus, sigmoid and odds the same way every time (all weights are positive)."""

    def is_one_plus_exp(a) -> bool:
        return isinstance(a, sympy.Add) and len(a.args) == 2 and sympy.S.One in a.args and \
            any(isinstance(t, sympy.exp) for t in a.args)

    def exp_arg(a) -> sympy.Expr:
        return next(t for t in a.args if isinstance(t, sympy.exp)).args[0]

    e = sympy.expand_log(e, force=True)
    # log(1 + exp(u)) = softplus(u) = -log sigmoid(-u)
    e = e.replace(lambda x: isinstance(x, sympy.log) and is_one_plus_exp(x.args[0]),
                  lambda x: -sympy.log(sigmoid(-exp_arg(x.args[0]))))
    # 1/(1 + exp(u)) = sigmoid(-u)
    e = e.replace(lambda x: isinstance(x, sympy.Pow) and x.exp == -1 and is_one_plus_exp(x.base),
                  lambda x: sigmoid(-exp_arg(x.base)))
    e = e.replace(lambda x: isinstance(x, sympy.log) and isinstance(x.args[0], sigmoid),
                  lambda x: sympy.log(x.args[0]))
    return sympy.expand(e, multinomial=False)  # keep (...)^2 whole for the square family


def const(x: sympy.Expr) -> bool:
    return not (x.free_symbols & set(LOGPS))


def is_positive(x, span):
    x = sympy.simplify(x)
    if x.is_positive is None and x.free_symbols & {BETA, GAMMA}:
        raise NotExpressibleError(f"cannot decide the sign of {x}", span)
    return x.is_positive


