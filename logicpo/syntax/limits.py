"""How long, how deep and how large a text may be: one rule for every parser and every layer.

Every layer after the parser (SymPy, the printer, truth tables, z3) walks formulas
recursively, and a definition that uses a named formula twice doubles the formula
written out. So the limits are checked once, where the text is read, and everything
after may rely on them:

- ``MAX_DEPTH``: nothing is nested more than this deep. In a ``.lpo`` file a level is a
  connective, an atom or constant, ``ref``/``flip``, or a use of a named definition (which
  then adds its own depth); in a loss expression it is an operator, a call or a leaf.
- ``MAX_SIZE``: a definition written out, named definitions expanded, has at most this
  many formula nodes or objective terms.
- ``MAX_SOURCE_CHARS``: the longest ``.lpo`` text read (files and inline text alike).

>>> from logicpo.syntax.parser import parse_formula
>>> parse_formula("~" * (MAX_DEPTH + 5) + "M(yw)")
Traceback (most recent call last):
...
logicpo.errors.ParseError: <formula>:1:61: the formula is nested more than 60 deep
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from logicpo.errors import ParseError, Span

MAX_DEPTH = 60
MAX_SIZE = 10_000
MAX_SOURCE_CHARS = 64 * 1024  # 16 times the whole built-in zoo


def first_too_deep(root, children: Callable[[object], Iterable], *, limit: int = MAX_DEPTH,
                   counts: Callable[[object], int] = lambda node: 1):
    """The outermost node lying deeper than ``limit`` (None if there is none).

    ``counts(node)`` is how many levels ``node`` adds (0 for a node that only groups).
    The walk uses an explicit stack, so any depth is safe to measure.
    """
    stack = [(root, counts(root))]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return node
        stack.extend((c, depth + counts(c)) for c in children(node))
    return None


def too_deep(what: str, span: Span | None, source_line: str | None = None,
             limit: int = MAX_DEPTH) -> ParseError:
    """The one error for anything nested beyond the limit."""
    return ParseError(f"{what} is nested more than {limit} deep", span, source_line=source_line,
                      hint="write it with fewer levels of nesting (or fewer named "
                           "definitions used one inside the other)")


def too_long(length: int, file: str, limit: int = MAX_SOURCE_CHARS) -> ParseError:
    return ParseError(f"the text is too long ({length:,} characters; at most {limit:,})",
                      Span(file, 1, 1))
