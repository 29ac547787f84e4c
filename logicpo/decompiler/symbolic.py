"""Step 0 of decompilation: the parsed loss (AST) translated node by node into SymPy.

Never ``sympify``: each node of :mod:`logicpo.syntax.loss_expr` becomes one SymPy
operation. Then :func:`normalise` spells softplus, sigmoid and odds one way.
"""

from __future__ import annotations

import contextvars

import sympy
from sympy.printing.str import StrPrinter

from logicpo.errors import NotExpressibleError
from logicpo.logic import atoms as atom_names
from logicpo.logic.closed_form import LOGP, WEIGHT, log1mexp, logp_symbol, sigmoid, weight_symbol
from logicpo.syntax import loss_expr as lx

#: Parameters taken as any real number; every other parameter is taken positive (an
#: assumption the result states).
REAL_PARAMETERS = ("gamma", "delta", "margin", "offset")


def parameter(name: str) -> sympy.Symbol:
    """The SymPy symbol of a parameter the user named (``beta``, ``eps``, ``lambda``, ...)."""
    return sympy.Symbol(name, real=True) if name in REAL_PARAMETERS else \
        sympy.Symbol(name, positive=True)


BETA = parameter("beta")
GAMMA = parameter("gamma")
NC = sympy.Symbol("nc", positive=True)  # token counts, for length normalisation
NR = sympy.Symbol("nr", positive=True)
MAX_POWER = 8


class _Symbols:
    """The SymPy symbols of one kind of variable (log-probs, token counts), keyed by what
    they stand for (an atom, a response): the classic ones, and every other one made so
    far. A symbol is a function of its key (``M(yg)`` is always ``Symbol("M_yg")``), so
    remembering them changes no result; iterating gives them all, for ``as_independent``."""

    def __init__(self, make, seed: dict[str, sympy.Symbol]) -> None:
        self._make = make
        self.of: dict[str, sympy.Symbol] = dict(seed)  # key -> symbol
        self.key: dict[sympy.Symbol, str] = {v: k for k, v in seed.items()}  # symbol -> key

    def __call__(self, key: str) -> sympy.Symbol:
        found = self.of.get(key)
        if found is None:
            found = self.of[key] = self._make(key)
            self.key[found] = key
        return found

    def __iter__(self):
        return iter(tuple(self.of.values()))

    def __contains__(self, x) -> bool:
        return isinstance(x, sympy.Symbol) and x in self.key


#: The log-prob of an atom, closed_form's symbol: ``pc, pr, rc, rr`` for the classic four,
#: ``M_yg``, ``Ref_ys``, ... (:func:`logicpo.logic.atoms.logp_name`) for any other.
LOGPS = _Symbols(logp_symbol, LOGP)
#: The token count of a response: ``nc``, ``nr``, ``n_yg``, ...
COUNTS = _Symbols(lambda r: sympy.Symbol(atom_names.length_name(r), positive=True),
                  {"yw": NC, "yl": NR})
#: The weight ``exp(logp)`` of an atom, closed_form's: ``w_pc``, ... and ``w_M_yg``, ...
WEIGHTS = _Symbols(weight_symbol, WEIGHT)
ATOM_OF = LOGPS.key  # log-prob symbol -> atom


def logp(atom: str) -> sympy.Symbol:
    """The log-prob symbol of ``atom``.

    >>> logp("M(yw)") is LOGP["M(yw)"], logp("M(yg)")
    (True, M_yg)
    """
    return LOGPS(atom)


def weight(atom: str) -> sympy.Symbol:
    return WEIGHTS(atom)


def count(response: str) -> sympy.Symbol:
    return COUNTS(response)


def atom_of_weight(w: sympy.Symbol) -> str:
    return WEIGHTS.key[w]


def parameters_of(e: sympy.Expr) -> set[sympy.Symbol]:
    """The parameters in ``e``: every symbol but the log-probs, token counts and weights."""
    return {x for x in e.free_symbols if x not in LOGPS and x not in COUNTS
            and x not in WEIGHTS and not x.name.startswith("w_")}


def to_sympy(node: lx.LossNode, values: dict[str, float] | None = None) -> sympy.Expr:
    """The SymPy expression of a parsed loss (a translation, node by node); a parameter
    named in ``values`` is that number."""
    values = values or {}
    if isinstance(node, lx.Num):
        return sympy.Rational(repr(node.value))
    if isinstance(node, lx.Var):
        atom = lx.atom_of(node.name)
        if atom is not None:
            return logp(atom)
        response = lx.response_of_count(node.name)
        if response is not None:
            return count(response)
        if node.name in values:
            return sympy.Rational(repr(float(values[node.name])))
        return parameter(node.name)
    if isinstance(node, lx.Neg):
        return -to_sympy(node.arg, values)
    if isinstance(node, lx.BinOp):
        left, right = to_sympy(node.left, values), to_sympy(node.right, values)
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
        args = [to_sympy(a, values) for a in node.args]
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
        "log1p": lambda: sympy.log(1 + x),
        "expm1": lambda: sympy.exp(x) - 1,
        "logaddexp": lambda: sympy.log(sympy.exp(args[0]) + sympy.exp(args[1])),
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
    return not any(v in LOGPS for v in x.free_symbols)


#: The assumptions made while reading one loss (one list per decompile call).
ASSUMED: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "logicpo_decompile_assumed", default=None)

#: Where a sign is sampled when SymPy cannot decide it: every positive parameter in (0, 1/2)
#: (a label smoothing's range, and where temperatures and weights of this size live), every
#: real one in (-1, 1).
_SAMPLES = 64


def is_positive(x, span):
    """Is ``x`` positive? SymPy decides it from the parameters' signs; when it cannot, the
    sign is sampled and, if it is the same everywhere, taken as an assumption that the
    result states (``1 - 2*eps > 0``), else the loss is refused."""
    x = sympy.simplify(x)
    if x.is_positive is not None or not parameters_of(x):
        return x.is_positive
    import random

    rng = random.Random(0)
    symbols = sorted(parameters_of(x), key=str)
    signs = set()
    for _ in range(_SAMPLES):
        at = {p: rng.uniform(0.01, 0.49) if p.is_positive else rng.uniform(-1.0, 1.0)
              for p in symbols}
        v = complex(x.subs(at))
        signs.add(0 if v.imag != 0 or v.real == 0 else 1 if v.real > 0 else -1)
    if len(signs) != 1 or 0 in signs:
        raise NotExpressibleError(f"cannot decide the sign of {show(x)}", span,
                                  hint="bind the parameters with --value NAME=NUMBER")
    positive = signs == {1}
    assumed = ASSUMED.get()
    if assumed is not None:
        fact = f"{show(sympy.simplify(x if positive else -x))} > 0"
        if fact not in assumed:
            assumed.append(fact)
    return positive




class _LossPrinter(StrPrinter):
    """SymPy expressions in the loss language (``max``, ``logsigmoid``), for messages: a
    user never reads SymPy's own names (``Max``, ``log(sigmoid(...))``)."""

    def _print_Max(self, e) -> str:  # noqa: N802 (SymPy's dispatch names)
        return "max(" + ", ".join(self._print(a) for a in e.args) + ")"

    def _print_Min(self, e) -> str:  # noqa: N802
        return "min(" + ", ".join(self._print(a) for a in e.args) + ")"

    def _print_log(self, e) -> str:
        (x,) = e.args
        if isinstance(x, sigmoid):
            return f"logsigmoid({self._print(x.args[0])})"
        return f"log({self._print(x)})"

    def _print_Exp1(self, e) -> str:  # noqa: N802
        return "exp(1)"


def show(e) -> str:
    """``e`` as the loss language writes it.

    >>> show(sympy.Max(0, 1 - logp("M(yw)"))), show(sympy.log(sigmoid(logp("M(yl)"))))
    ('max(0, 1 - pc)', 'logsigmoid(pr)')
    """
    return _LossPrinter().doprint(e) if isinstance(e, sympy.Basic) else str(e)
