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
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from logicpo.errors import LogicpoError, Span
from logicpo.files import atomic_output

FIELDS = ("prompt", "chosen", "rejected")


class DataError(LogicpoError):
    """A preference file is missing, unreadable, or has a bad row (file:line in the span)."""


@dataclass(frozen=True)
class PreferenceExample:
    """One comparison: for ``prompt``, ``chosen`` is preferred to ``rejected``."""

    prompt: str
    chosen: str
    rejected: str

    def to_json(self) -> dict:
        return asdict(self)


def load_preferences(path: str | Path) -> list[PreferenceExample]:
    """Read a JSONL file (one object a line; blank lines skipped) or a JSON array."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"no such preference file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    rows = _array_rows(text, str(path)) if text.lstrip().startswith("[") else _jsonl_rows(text, str(path))
    examples = [_example(obj, str(path), line, text) for obj, line in rows]
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
def _jsonl_rows(text: str, file: str):
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", Span(file, lineno, exc.colno),
                            source_line=line) from None
        yield obj, lineno


def _array_rows(text: str, file: str):
    """Walk a JSON array element by element, so each row knows its line."""
    decoder = json.JSONDecoder()
    lines = text.splitlines()

    def fail(msg: str, pos: int) -> DataError:
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        return DataError(msg, Span(file, line, col),
                         source_line=lines[line - 1] if line <= len(lines) else "")

    pos = _skip_ws(text, text.index("[") + 1)
    if pos < len(text) and text[pos] == "]":
        pos = len(text) if _skip_ws(text, pos + 1) >= len(text) else pos
    while True:
        if pos >= len(text):
            return  # the empty array
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise fail(f"invalid JSON: {exc.msg}", exc.pos) from None
        yield obj, text.count("\n", 0, pos) + 1
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


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _example(obj, file: str, line: int, text: str) -> PreferenceExample:
    def fail(msg: str) -> DataError:
        lines = text.splitlines()
        return DataError(msg, Span(file, line, 1),
                         source_line=lines[line - 1] if line <= len(lines) else None)

    if not isinstance(obj, dict):
        raise fail(f"row must be a JSON object with {', '.join(FIELDS)}, not {type(obj).__name__}")
    for key in FIELDS:
        if key not in obj:
            raise fail(f"row has no {key!r} field")
        if not isinstance(obj[key], str):
            raise fail(f"field {key!r} must be a string, not {_json_type(obj[key])}")
    for key in ("chosen", "rejected"):
        if not obj[key].strip():
            raise fail(f"field {key!r} is an empty response")
    return PreferenceExample(obj["prompt"], obj["chosen"], obj["rejected"])


def _json_type(value) -> str:
    return {list: "an array", dict: "an object", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
