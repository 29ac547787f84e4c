"""Parse a loss written in log-probs (untrusted text) into a small AST, for the decompiler.

The text is never evaluated as Python: it is parsed by the ``loss_expr`` rule of
``grammar/lpo.lark`` and every function name is checked against a whitelist. A name is a
log-prob (``pc``, ``policy_chosen_logps``, ...), a token count (``nc``, ``len_w``,
``chosen_lengths``, ...) or else a parameter, kept under the name the user typed
(``beta``, ``eps``, ``lambda``, ``tau``, ...). Anything else is a located
:class:`~logicpo.errors.LogicpoError`.

Beyond the classic four atoms (issue 13), any atom ``Model(response)`` has a log-prob
and any response a token count, named as :mod:`logicpo.logic.atoms` names them
(``M_yg``, ``Ref_ys``, ``Src_yw``, ``M_yl2``; ``n_yg``), with the short forms ``p<x>``,
``r<x>``, ``n<x>`` for a single letter ``x`` other than ``c`` and ``r`` (``pg`` is the
log-prob of ``M(yg)``, ``rs`` of ``Ref(ys)``, ``ng`` the token count of ``yg``); more names
are declared with :func:`parse_atoms`. A log-prob or count is a :class:`Var` under its
canonical name (:func:`~logicpo.logic.atoms.logp_name`, ``length_name``).

>>> parse_loss_expression("-logsigmoid(beta*(pc - pr))")
Neg(arg=Call(func='logsigmoid', args=(BinOp(op='*', left=Var(name='beta'), right=BinOp(op='-', left=Var(name='pc'), right=Var(name='pr'))),)))
>>> parse_loss_expression("__import__('os')")
Traceback (most recent call last):
...
logicpo.errors.ParseError: <loss>:1:12: unexpected character "'"
>>> parse_loss_expression("policy_chosen_logps - reference_chosen_logps").left
Var(name='pc')
>>> parse_loss_expression("lam*pc/len_w")
BinOp(op='/', left=BinOp(op='*', left=Var(name='lam'), right=Var(name='pc')), right=Var(name='nc'))
>>> parse_loss_expression("pg/ng - M_yl2 + rw")
BinOp(op='+', left=BinOp(op='-', left=BinOp(op='/', left=Var(name='M_yg'), right=Var(name='n_yg')), right=Var(name='M_yl2')), right=Var(name='rc'))
>>> parse_loss_expression("g - k", names=parse_atoms("g=M(yg), k=|yg|")).right
Var(name='n_yg')
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass, field

from lark import Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from logicpo.errors import NameResolutionError, ParseError, Span, UsageError, did_you_mean
from logicpo.logic import atoms as atom_names
from logicpo.syntax.limits import MAX_DEPTH, first_too_deep, too_deep
from logicpo.syntax.parser import lark_parser, span_of, token_span, transform

# The names with a fixed meaning, and what they stand for; every other name is a parameter.
LOGPS: dict[str, str] = {
    "pc": "pc", "pr": "pr", "rc": "rc", "rr": "rr",
    "policy_chosen_logps": "pc", "policy_rejected_logps": "pr",
    "reference_chosen_logps": "rc", "reference_rejected_logps": "rr",
    "chosen_logps": "pc", "rejected_logps": "pr",
    "ref_chosen_logps": "rc", "ref_rejected_logps": "rr",
}
#: Token counts of the two responses (length normalisation divides log-probs by them).
TOKEN_COUNTS: dict[str, str] = {
    "nc": "nc", "nr": "nr", "len_w": "nc", "len_l": "nr", "len_c": "nc", "len_r": "nr",
    "chosen_lengths": "nc", "rejected_lengths": "nr",
    "chosen_length": "nc", "rejected_length": "nr",
    "len_chosen": "nc", "len_rejected": "nr",
}
SYMBOLS: dict[str, str] = {**LOGPS, **TOKEN_COUNTS}
#: The log-prob of any atom, ``Model_response`` (``M_yg``, ``Ref_ys``, ``Src_yw``, ``M_yl2``),
#: and the token count of any response, ``n_response``: a model's name starts with a capital
#: letter and a response's with ``y``, so that parameters (``beta_1``, ``lambda_w``) keep
#: their meaning.
_MODEL_RESPONSE = atom_names.LOGP_NAME
_COUNT = atom_names.LENGTH_NAME
#: The short forms: ``p<x>``, ``r<x>``, ``n<x>`` for one letter x other than c and r (those
#: are TRL's pc, pr, rc, rr, nc, nr) mean M(y<x>), Ref(y<x>) and |y<x>|.
_SHORT = re.compile(r"([prn])([abd-qs-z])\Z")
_SHORT_MODEL = {"p": "M", "r": "Ref"}
FUNCTIONS: dict[str, int] = {  # name -> number of arguments
    "log": 1, "exp": 1, "logsigmoid": 1, "sigmoid": 1, "softplus": 1, "log1mexp": 1,
    "relu": 1, "max": 2, "log1p": 1, "expm1": 1, "logaddexp": 2,
}
MAX_LENGTH = 2000


@dataclass(frozen=True)
class Num:
    value: float
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Var:
    """A log-prob or token count under its canonical name (``pc``, ..., ``nc``, ``nr``), or a
    parameter under the name the user typed."""

    name: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[LossNode, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / **
    left: LossNode
    right: LossNode
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Neg:
    arg: LossNode
    span: Span | None = field(default=None, compare=False, repr=False)


LossNode = Num | Var | Call | BinOp | Neg


# ---------------------------------------------------------------- names of log-probs and counts


def fixed_name(name: str) -> str | None:
    """The canonical name of a log-prob or token count written ``name`` (``pc`` for
    ``policy_chosen_logps`` or ``pw``, ``M_yg`` for ``pg``, ``n_yg`` for ``ng``), or None
    for a parameter.

    >>> [fixed_name(n) for n in ("chosen_logps", "pg", "rs", "nl", "M_yl2", "n_yg", "beta")]
    ['pc', 'M_yg', 'Ref_ys', 'nr', 'M_yl2', 'n_yg', None]
    """
    if name in SYMBOLS:
        return SYMBOLS[name]
    m = _MODEL_RESPONSE.match(name)
    if m is not None:
        return atom_names.logp_name(atom_names.name(m.group(1), m.group(2)))
    m = _COUNT.match(name)
    if m is not None:
        return atom_names.length_name(m.group(1))
    m = _SHORT.match(name)
    if m is not None:
        response = "y" + m.group(2)
        if m.group(1) == "n":
            return atom_names.length_name(response)
        return atom_names.logp_name(atom_names.name(_SHORT_MODEL[m.group(1)], response))
    return None


#: the atom of a canonical log-prob name, the response of a token-count name (atoms.py)
atom_of = atom_names.atom_of_logp
response_of_count = atom_names.response_of_length


def is_fixed(canonical: str) -> bool:
    """Is the canonical name a log-prob or a token count (not a parameter)?"""
    return atom_of(canonical) is not None or response_of_count(canonical) is not None


_DECLARATION = re.compile(r"\s*([^=\s]*)\s*=\s*(.*?)\s*\Z", re.S)
_ATOM_TEXT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\Z")
_COUNT_TEXT = re.compile(r"\|\s*([A-Za-z_][A-Za-z0-9_]*)\s*\|\Z")
_SPELLING = "NAME=Model(response) or NAME=|response|, e.g. --atoms \"pg=M(yg),ng=|yg|\""


def parse_atoms(text: str) -> dict[str, str]:
    """Extra variable names, ``NAME=Model(response)`` for a log-prob and ``NAME=|response|``
    for a token count, separated by commas: the user's name -> its canonical name.

    >>> parse_atoms("g=M(yg), gold_len=|yg|, s_ref=Ref(ys)")
    {'g': 'M_yg', 'gold_len': 'n_yg', 's_ref': 'Ref_ys'}
    >>> parse_atoms("pg=m(yg)")
    Traceback (most recent call last):
    ...
    logicpo.errors.UsageError: --atoms 'pg=m(yg)': 'm' is not a model (a model's name starts with a capital letter: M, Ref, Src, ...); did you mean 'M'?
    """
    out: dict[str, str] = {}
    for piece in text.split(","):
        if not piece.strip():
            raise UsageError(f"--atoms {text!r}: an empty declaration (between two commas or "
                             f"at an end); write {_SPELLING}")
        name, canonical = _declaration(piece.strip())
        if name in out and out[name] != canonical:
            raise UsageError(f"--atoms: '{name}' is declared twice ({_meaning(out[name])} and "
                             f"{_meaning(canonical)})")
        out[name] = canonical
    return out


def _declaration(piece: str) -> tuple[str, str]:
    where = f"--atoms {piece!r}"
    m = _DECLARATION.match(piece)
    if m is None or not m.group(1):
        raise UsageError(f"{where} is not {_SPELLING}")
    name, value = m.group(1), m.group(2)
    if not name.isidentifier() or name.startswith("__"):
        raise UsageError(f"{where}: '{name}' is not a name (letters, digits and _, not "
                         "starting with a digit or __)")
    if keyword.iskeyword(name) and name != "lambda":
        raise UsageError(f"{where}: '{name}' is a Python keyword, not a name")
    if name in FUNCTIONS:
        raise UsageError(f"{where}: '{name}' is a function of the loss language, not a name")
    canonical = _value(value, where)
    fixed = fixed_name(name)
    if fixed is not None and fixed != canonical:
        raise UsageError(f"{where}: '{name}' already is {_meaning(fixed)}; choose another "
                         "name")
    return name, canonical


def _value(value: str, where: str) -> str:
    count = _COUNT_TEXT.match(value)
    if count is not None:
        return atom_names.length_name(_response(count.group(1), where))
    atom = _ATOM_TEXT.match(value)
    if atom is None:
        inner = re.fullmatch(r"\w+", value)
        hint = ""
        if inner is not None:
            response = inner.group(0)
            hint = (f": did you mean |{response}| (a token count) or M({response}) (a "
                    "log-prob)?")
        raise UsageError(f"{where}: '{value}' is neither an atom Model(response) nor a token "
                         f"count |response|{hint}")
    model, response = atom.group(1), _response(atom.group(2), where)
    if model in ("len", "n", "length", "count"):
        raise UsageError(f"{where}: a token count is written |{response}|, not {value}")
    if not model[0].isupper() or "_" in model:
        close = did_you_mean(model, atom_names.CLASSIC_MODELS)
        raise UsageError(f"{where}: '{model}' is not a model (a model's name starts with a "
                         "capital letter: M, Ref, Src, ...)" + (f"; {close}" if close else ""))
    return atom_names.logp_name(atom_names.name(model, response))


def _response(response: str, where: str) -> str:
    if not response.startswith("y") or len(response) < 2 or "_" in response:
        close = did_you_mean(f"y{response}", ("yw", "yl", *atom_names.DATA_FIELDS.values()))
        raise UsageError(f"{where}: '{response}' is not a response (a response's name starts "
                         "with y: yw, yl, yg, ys, yl2, ...)"
                         + (f"; {close}" if close else f"; did you mean 'y{response}'?"))
    return response


def _meaning(canonical: str) -> str:
    atom = atom_of(canonical)
    if atom is not None:
        return f"the log-prob of {atom}"
    return f"the token count of {response_of_count(canonical)}"


# ---------------------------------------------------------------- parsing


def parse_loss_expression(text: str, file: str = "<loss>",
                          names: dict[str, str] | None = None) -> LossNode:
    """Parse ``text`` into a :data:`LossNode`, or raise a located error. ``names`` are
    extra log-prob and token-count names (:func:`parse_atoms`)."""
    lines = text.splitlines() or [""]

    def line_of(n: int) -> str:
        return lines[n - 1] if 0 < n <= len(lines) else ""

    if len(text) > MAX_LENGTH:
        raise ParseError(f"the expression is too long ({len(text)} characters, at most "
                         f"{MAX_LENGTH})", Span(file, 1, 1))
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth > MAX_DEPTH:
            span = _span_at(text, file, i, 1)
            raise ParseError(f"brackets nested more than {MAX_DEPTH} deep", span,
                             source_line=line_of(span.line))
    try:
        tree = lark_parser().parse(text, start="loss_expr")
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, file, line_of) from None
    node = transform(_ToLoss(file, names or {}), tree, line_of)
    deep = first_too_deep(node, children)
    if deep is not None:
        span = deep.span or Span(file, 1, 1)
        raise too_deep("the expression", span, source_line=line_of(span.line))
    return node


def children(node: LossNode) -> tuple[LossNode, ...]:
    if isinstance(node, Call):
        return node.args
    if isinstance(node, BinOp):
        return (node.left, node.right)
    if isinstance(node, Neg):
        return (node.arg,)
    return ()


def _syntax_error(exc: UnexpectedInput, text: str, file: str, line_of) -> ParseError:
    hint = ("a loss uses numbers, + - * / ** ^, brackets, the log-probs "
            + ", ".join(sorted(set(LOGPS.values()))) + " (or TRL's names), token counts, "
            "parameter names and the functions " + ", ".join(FUNCTIONS))
    python = _python_keyword(exc, text, file)
    if python is not None:  # "lambda x: x" fails at the x; the lambda is what to name
        word, span = python
        return ParseError(f"'{word}' is not allowed: a loss is an arithmetic expression, "
                          "not Python code", span, source_line=line_of(span.line), hint=hint)
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        token = exc.token
        span = Span(file, token.line, token.column, token.end_line, token.end_column)
        return ParseError(f"unexpected '{token}'", span, source_line=line_of(token.line),
                          hint=hint)
    if isinstance(exc, UnexpectedCharacters):
        span = Span(file, exc.line, exc.column, exc.line, exc.column + 1)
        return ParseError(f"unexpected character {exc.char!r}", span,
                          source_line=line_of(exc.line), hint=hint)
    line = getattr(exc, "line", 1) or 1
    col = getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedToken):  # end of input
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
    return ParseError("unexpected end of input", Span(file, line, col, line, col + 1),
                      source_line=line_of(line), hint=hint)


def _python_keyword(exc: UnexpectedInput, text: str, file: str) -> tuple[str, Span] | None:
    """The Python keyword (``lambda``, ``if``, ``import``, ...) at or just before the error."""
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        start = exc.token.start_pos
        if str(exc.token) in keyword.kwlist:
            return str(exc.token), _span_at(text, file, start, len(exc.token))
    elif isinstance(exc, UnexpectedCharacters):
        start = exc.pos_in_stream
    else:
        return None
    before = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", text[:start])
    if before is None or before.group(1) not in keyword.kwlist:
        return None
    return before.group(1), _span_at(text, file, before.start(1), len(before.group(1)))


def _span_at(text: str, file: str, start: int, length: int) -> Span:
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    return Span(file, line, col, line, col + length)


@v_args(meta=True)
class _ToLoss(Transformer_NonRecursive):
    """lark tree -> loss AST, checking every name against the whitelist."""

    def __init__(self, file: str, names: dict[str, str]) -> None:
        super().__init__()
        self.file = file
        self.names = names

    def loss_expr(self, meta, children):
        return children[0]

    def lnum(self, meta, children):
        value = float(children[0])
        if not math.isfinite(value):
            raise ParseError(f"number {children[0]} is not finite", token_span(self.file, children[0]))
        return Num(value, span_of(self.file, meta))

    def lname(self, meta, children):
        token = children[0]
        name = str(token)
        if name in self.names:
            return Var(self.names[name], span_of(self.file, meta))
        if name in FUNCTIONS:
            raise NameResolutionError(
                f"'{name}' is a function, not a value", token_span(self.file, token),
                hint=f"write {name}(...)")
        if name.startswith("__"):
            raise NameResolutionError(
                f"'{name}' is not a parameter name (names starting with '__' are Python's)",
                token_span(self.file, token), hint=did_you_mean(name, LOGPS))
        if keyword.iskeyword(name) and name != "lambda":  # lambda: the usual weight's name
            raise ParseError(f"'{name}' is not allowed: a loss is an arithmetic expression, "
                             "not Python code", token_span(self.file, token))
        return Var(fixed_name(name) or name, span_of(self.file, meta))

    def lcall(self, meta, children):
        head, *args = children
        name = str(head)
        if name not in FUNCTIONS:
            raise NameResolutionError(
                f"unknown function '{name}' (known: {', '.join(FUNCTIONS)})",
                token_span(self.file, head), hint=did_you_mean(name, FUNCTIONS))
        if len(args) != FUNCTIONS[name]:
            raise ParseError(f"{name}(...) takes {FUNCTIONS[name]} argument(s), got {len(args)}",
                             span_of(self.file, meta))
        return Call(name, tuple(args), span_of(self.file, meta))

    def _bin(self, op, meta, children):
        return BinOp(op, children[0], children[-1], span_of(self.file, meta))

    def ladd(self, meta, children):
        return self._bin("+", meta, children)

    def lsub(self, meta, children):
        return self._bin("-", meta, children)

    def lmul(self, meta, children):
        return self._bin("*", meta, children)

    def ldiv(self, meta, children):
        return self._bin("/", meta, children)

    def lpow(self, meta, children):
        return self._bin("**", meta, children)

    def lneg(self, meta, children):
        return Neg(children[-1], span_of(self.file, meta))

    def lpos(self, meta, children):
        return children[-1]
