"""Preference data: ``{"prompt", "chosen", "rejected"}`` rows, from JSONL or a JSON array.

A bad row is reported with its file and line, before anything is trained or written.

>>> import json, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "prefs.jsonl"
>>> _ = path.write_text(json.dumps({"prompt": "2+2=", "chosen": "4", "rejected": "5"}) + "\\n")
>>> load_preferences(path)
[PreferenceExample(prompt='2+2=', chosen='4', rejected='5')]
>>> _ = path.write_text('{"prompt": "a", "chosen": "b"}\\n')
>>> try:
...     load_preferences(path)
... except DataError as err:
...     print(err.message)
row has no 'rejected' field
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from logicpo.errors import LogicpoError, Span
from logicpo.files import atomic_output, parse_json, parse_json_at, read_text

FIELDS = ("prompt", "chosen", "rejected")

#: Longest row accepted, in characters of the file (a row's text is cut to the model's
#: context before tokenising anyway; this keeps one row from taking the machine's memory).
MAX_ROW_CHARS = 1 << 20


class DataError(LogicpoError):
    """A preference file has a bad row (file:line in the span), or none. A file that cannot
    be read at all is a :class:`logicpo.files.InputError`."""


@dataclass(frozen=True)
class PreferenceExample:
    """One comparison: for ``prompt``, ``chosen`` is preferred to ``rejected``."""

    prompt: str
    chosen: str
    rejected: str

    def to_json(self) -> dict:
        return asdict(self)


def load_preferences(path: str | Path) -> list[PreferenceExample]:
    """Read a JSONL file (one object a line; blank lines skipped) or a JSON array.

    The file is read by the rule of :mod:`logicpo.files` (a regular file of UTF-8 text, a
    byte-order mark dropped, at most ``MAX_TEXT_BYTES``); a row may hold at most
    ``MAX_ROW_CHARS`` characters.
    """
    file = str(path)
    text = read_text(path, "preference file")
    lines = text.split("\n")  # JSON strings may hold U+2028 or NEL, which splitlines() splits
    if _FIRST_NON_SPACE.match(text).group(1) == "[":
        rows = _array_rows(text, lines, file)
    else:
        rows = _jsonl_rows(lines, file)
    examples = [_example(obj, file, line, lines) for obj, line in rows]
    if not examples:
        raise DataError(f"{path} holds no preference rows")
    return examples


def save_preferences(examples: Iterable[PreferenceExample], path: str | Path) -> int:
    """Write JSONL by the rule of :mod:`logicpo.files` (atomic, directory created); return
    the number of rows."""
    n = 0
    with atomic_output(path) as fh:
        for ex in examples:
            fh.write(json.dumps(ex.to_json(), ensure_ascii=False) + "\n")
            n += 1
    return n


def split_examples(examples: list[PreferenceExample], val_fraction: float
                   ) -> tuple[list[PreferenceExample], list[PreferenceExample]]:
    """The last ``val_fraction`` of a file is held out (at least one row, when there are two)."""
    if len(examples) < 2:
        return examples, examples
    n_val = min(len(examples) - 1, max(1, round(len(examples) * val_fraction)))
    return examples[:-n_val], examples[-n_val:]


# ------------------------------------------------------------ parsing with locations
_FIRST_NON_SPACE = re.compile(r"[ \t\r\n]*(.?)")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _source(lines: list[str], line: int) -> str | None:
    return lines[line - 1].rstrip("\r") if line <= len(lines) else None


def _too_long(size: int, file: str, line: int) -> DataError:
    return DataError(f"row is {size:,} characters long; the limit is {MAX_ROW_CHARS:,}",
                     Span(file, line, 1), hint="split or shorten the row's text")


def _jsonl_rows(lines: list[str], file: str):
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(line) > MAX_ROW_CHARS:  # refused before decoding it
            raise _too_long(len(line), file, lineno)
        try:
            obj = parse_json(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", Span(file, lineno, exc.colno),
                            source_line=line.rstrip("\r")) from None
        yield obj, lineno


def _array_rows(text: str, lines: list[str], file: str):
    """Walk a JSON array element by element, so each row knows its line."""
    line_at = _LineCounter(text)

    def fail(msg: str, pos: int) -> DataError:
        line, col = line_at(pos)
        return DataError(msg, Span(file, line, col), source_line=_source(lines, line))

    pos = _skip_ws(text, text.index("[") + 1)
    if pos < len(text) and text[pos] == "]":
        pos = len(text) if _skip_ws(text, pos + 1) >= len(text) else pos
    while True:
        if pos >= len(text):
            return  # the empty array
        try:
            obj, end = parse_json_at(text, pos)
        except json.JSONDecodeError as exc:
            raise fail(f"invalid JSON: {exc.msg}", exc.pos) from None
        line = line_at(pos)[0]
        if end - pos > MAX_ROW_CHARS:
            raise _too_long(end - pos, file, line)
        yield obj, line
        pos = _skip_ws(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
        elif pos < len(text) and text[pos] == "]":
            if _skip_ws(text, pos + 1) < len(text):
                raise fail("invalid JSON: extra data after the array", _skip_ws(text, pos + 1))
            return
        elif pos >= len(text):
            raise fail("invalid JSON: the array is not closed", pos)
        else:
            raise fail("invalid JSON: expected ',' or ']' after a row", pos)


class _LineCounter:
    """Line and column of increasing positions in ``text``, counting each newline once."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line, self.line_start = text, 0, 1, 0

    def __call__(self, pos: int) -> tuple[int, int]:
        if pos < self.pos:  # an error before the last row: count afresh
            self.pos, self.line, self.line_start = 0, 1, 0
        self.line += self.text.count("\n", self.pos, pos)
        newline = self.text.rfind("\n", self.pos, pos)
        if newline >= 0:
            self.line_start = newline + 1
        self.pos = pos
        return self.line, pos - self.line_start + 1


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _example(obj, file: str, line: int, lines: list[str]) -> PreferenceExample:
    def fail(msg: str) -> DataError:
        return DataError(msg, Span(file, line, 1), source_line=_source(lines, line))

    if not isinstance(obj, dict):
        raise fail(f"row must be a JSON object with {', '.join(FIELDS)}, not {type(obj).__name__}")
    for key in FIELDS:
        if key not in obj:
            raise fail(f"row has no {key!r} field")
        if not isinstance(obj[key], str):
            raise fail(f"field {key!r} must be a string, not {_json_type(obj[key])}")
        lone = _SURROGATE.search(obj[key])
        if lone:  # JSON may escape half of a UTF-16 pair ("\\ud800"); it is not text
            raise fail(f"field {key!r} holds a lone surrogate \\u{ord(lone.group()):04x} "
                       f"(character {lone.start() + 1}), which is not Unicode text")
    for key in ("chosen", "rejected"):
        if not obj[key].strip():
            raise fail(f"field {key!r} is an empty response")
    return PreferenceExample(obj["prompt"], obj["chosen"], obj["rejected"])


def _json_type(value) -> str:
    return {list: "an array", dict: "an object", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
