"""Errors a user can cause, with the place in their source that caused them.

Library code raises a :class:`LogicpoError` subclass; only the CLI prints it
(as ``file:line:col: message``, the source line and a caret) and exits.

>>> from logicpo.errors import LogicpoError, Span
>>> err = LogicpoError("unknown atom 'Pi(yw)'", Span("f.lpo", 2, 7, 2, 13),
...                    source_line="core: Pi(yw)", hint="did you mean 'M'?")
>>> print(err.render())
f.lpo:2:7: unknown atom 'Pi(yw)'
    core: Pi(yw)
          ^^^^^^
  hint: did you mean 'M'?
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A region of a source file; lines and columns count from 1, ``end_col`` is exclusive."""

    file: str
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class LogicpoError(Exception):
    """Base class of every error caused by user input (exit code 1 in the CLI)."""

    def __init__(
        self,
        message: str,
        span: Span | None = None,
        *,
        source_line: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.source_line = source_line
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.span}: {self.message}" if self.span else self.message

    def render(self) -> str:
        """The full report: location and message, the source line with a caret, a hint."""
        return render(str(self), self.span, self.source_line, self.hint)

    def to_json(self) -> dict:
        out: dict = {"error": type(self).__name__, "message": self.message}
        if self.span:
            out.update(file=self.span.file, line=self.span.line, column=self.span.col)
        if self.hint:
            out["hint"] = self.hint
        return out


#: At most this much of a source line is quoted, around the place it points at.
EXCERPT = 160


def render(head: str, span: Span | None, source_line: str | None, hint: str | None) -> str:
    """``head``, then the source line (an excerpt of a long one) with a caret, then the hint.

    >>> text = "a" * 200 + "B" + "c" * 199
    >>> head, line, caret = render("f:1:201: here", Span("f", 1, 201, 1, 202), text,
    ...                            None).splitlines()
    >>> line[caret.index("^")], len(line) < 180
    ('B', True)
    """
    lines = [head]
    if span and source_line is not None:
        text = source_line.rstrip("\n")
        width = 1
        if span.end_line == span.line and span.end_col:
            width = max(1, span.end_col - span.col)
        col = span.col
        if len(text) > EXCERPT:  # a long line: quote a window around the column
            start = max(0, min(col - 1 - EXCERPT // 2, len(text) - EXCERPT))
            text = ("..." if start else "") + text[start:start + EXCERPT] + (
                "..." if start + EXCERPT < len(text) else "")
            col = col - start + (3 if start else 0)
        width = min(width, max(1, len(text) - col + 1), EXCERPT)
        lines.append("    " + text)
        lines.append("    " + " " * (col - 1) + "^" * width)
    if hint:
        lines.append(f"  hint: {hint}")
    return "\n".join(lines)


class ParseError(LogicpoError):
    """The text is not valid .lpo syntax."""


class NameResolutionError(LogicpoError):
    """A name, atom, operator, family or parameter is not known."""


class DefinitionError(LogicpoError):
    """A definition is ill-formed: duplicates, cycles, wrong kinds, bad values."""


class ImportFailure(LogicpoError):
    """An imported file is missing, unreadable, or imports itself."""


class DegenerateStructureError(LogicpoError):
    """A structure whose loss is infinite, zero or constant everywhere."""


class UntrainableError(LogicpoError):
    """A loss that cannot train: nothing in it gives the policy a gradient."""


class NotExpressibleError(LogicpoError):
    """The loss is well formed, but no sum of ``f(beta*rho - gamma)`` terms over structures
    computes it (the decompiler says which part breaks it)."""

    def __init__(self, message: str, span: Span | None = None, *, piece=None, **kw) -> None:
        super().__init__(f"not expressible: {message}", span, **kw)
        self.piece = piece  # the offending sub-expression, located in the text if possible


class UsageError(LogicpoError):
    """The caller asked for something that cannot be done (exit code 2 in the CLI)."""


#: The CLI's exit code for an internal error (a bug in logicpo): EX_SOFTWARE of sysexits.h.
INTERNAL_EXIT_CODE = 70


class InternalError(Exception):
    """A bug in logicpo, not a mistake in the input (exit code 70 in the CLI).

    Deliberately *not* a :class:`LogicpoError`: code and tests that catch user errors as
    "fine" must never swallow a wrong answer, and the CLI must not blame the user for it.

    >>> issubclass(InternalError, LogicpoError)
    False
    >>> InternalError("the round trip failed").to_json()["internal"]
    True
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict:
        return {"error": type(self).__name__, "message": self.message, "internal": True,
                "report": REPORT_REQUEST}


#: What the CLI asks of a user who met an internal error.
REPORT_REQUEST = ("this is a bug in logicpo, not in your input: please report it with the "
                  "command you ran and this message")


@dataclass(frozen=True)
class Diagnostic:
    """A finding about the user's definitions, returned as a value (only the CLI prints it).

    ``severity`` is ``"error"`` (the definition cannot work: commands that need it refuse)
    or ``"warning"`` (it works, but is probably not what was meant).
    """

    severity: str
    message: str
    span: Span | None = None
    source_line: str | None = None
    hint: str | None = None
    code: str | None = None  # what was found, for programs: "shadow", "no-gradient", ...

    def render(self) -> str:
        head = f"{self.span}: {self.message}" if self.span else self.message
        return render(head, self.span, self.source_line, self.hint)

    def to_json(self) -> dict:
        out: dict = {"severity": self.severity, "code": self.code, "message": self.message}
        if self.span:
            out.update(file=self.span.file, line=self.span.line, column=self.span.col)
        if self.hint:
            out["hint"] = self.hint
        return out


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidates, or None.

    >>> did_you_mean("CPOO", ["CPO", "cCPO", "DPO"])
    "did you mean 'CPO' or 'cCPO'?"
    """
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=2, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in candidates}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


class RoundTripError(InternalError):
    """A decompiled loss does not reproduce the original one: a logicpo bug, so an
    :class:`InternalError`, never a user error that a caller may swallow."""
