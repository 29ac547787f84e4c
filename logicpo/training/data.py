"""Preference data: ``{"prompt", "chosen", "rejected"}`` rows, from JSONL or a JSON array.

A row may carry more named responses than the winner and the loser (issue 13): the
optional fields ``gold`` (response ``yg``) and ``sampled`` (``ys``) of
:data:`logicpo.logic.atoms.DATA_FIELDS`, and, instead of ``chosen``/``rejected``, a ranked
list ``"responses": [{"text": ..., "rank": 1}, {"text": ..., "rank": 2}, ...]`` (rank 1 the
best) whose ranks fill ``yw``, ``yl``, ``yl2``, ... (:func:`~logicpo.logic.atoms.ranked_response`).
A bad row is reported with its file and line, before anything is trained or written.

>>> import json, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "prefs.jsonl"
>>> _ = path.write_text(json.dumps({"prompt": "2+2=", "chosen": "4", "rejected": "5"}) + "\\n")
>>> load_preferences(path)
[PreferenceExample(prompt='2+2=', chosen='4', rejected='5')]
>>> ranked = [{"text": "4", "rank": 1}, {"text": "22", "rank": 3}, {"text": "5", "rank": 2}]
>>> _ = path.write_text(json.dumps({"prompt": "2+2=", "responses": ranked, "gold": "four"}))
>>> load_preferences(path)[0].responses
{'yw': '4', 'yl': '5', 'yg': 'four', 'yl2': '22'}
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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from logicpo.errors import LogicpoError, Span
from logicpo.files import atomic_output, parse_json, parse_json_at, read_text
from logicpo.logic import atoms

FIELDS = ("prompt", "chosen", "rejected")
#: The field of a ranked list, which a row gives instead of ``chosen`` and ``rejected``.
RANKED = "responses"
#: Optional fields that fill a named response (``gold`` -> ``yg``, ``sampled`` -> ``ys``).
OPTIONAL_FIELDS: dict[str, str] = {k: r for k, r in atoms.DATA_FIELDS.items()
                                   if k not in FIELDS}
_FIELD_OF: dict[str, str] = {r: k for k, r in atoms.DATA_FIELDS.items()}

#: Longest row accepted, in characters of the file (a row's text is cut to the model's
#: context before tokenising anyway; this keeps one row from taking the machine's memory).
MAX_ROW_CHARS = 1 << 20


class DataError(LogicpoError):
    """A preference file has a bad row (file:line in the span), or none. A file that cannot
    be read at all is a :class:`logicpo.files.InputError`."""


@dataclass(frozen=True, repr=False)
class PreferenceExample:
    """One comparison: for ``prompt``, ``chosen`` (``yw``) is preferred to ``rejected``
    (``yl``). ``others`` holds the row's further responses by name, in atom order
    (``("yg", text)``, ``("yl2", text)``, ...); ``line`` is the row's line in its file."""

    prompt: str
    chosen: str
    rejected: str
    others: tuple[tuple[str, str], ...] = ()
    line: int | None = field(default=None, compare=False)

    @property
    def responses(self) -> dict[str, str]:
        """Every response of the row by name: ``yw``, ``yl``, then the others."""
        return {"yw": self.chosen, "yl": self.rejected, **dict(self.others)}

    def to_json(self) -> dict:
        """The pair ``{prompt, chosen, rejected}``, as TRL's datasets take it (the other
        responses are in :meth:`to_row`)."""
        return {"prompt": self.prompt, "chosen": self.chosen, "rejected": self.rejected}

    def to_row(self) -> dict:
        """The row as a file holds it: ``chosen``/``rejected``, or a ranked ``responses``
        list when it ranks more than two, and the optional fields (``gold``, ``sampled``);
        exactly :meth:`to_json` for a pair."""
        others = dict(self.others)
        ranked = [self.chosen, self.rejected]
        while atoms.ranked_response(len(ranked) + 1) in others:
            ranked.append(others.pop(atoms.ranked_response(len(ranked) + 1)))
        if len(ranked) == 2:
            out = {"prompt": self.prompt, "chosen": self.chosen, "rejected": self.rejected}
        else:
            out = {"prompt": self.prompt, RANKED: [{"text": text, "rank": rank} for rank, text
                                                   in enumerate(ranked, start=1)]}
        for response, text in others.items():
            out[_FIELD_OF[response]] = text
        return out

    def __repr__(self) -> str:
        more = f", others={self.others!r}" if self.others else ""
        return (f"PreferenceExample(prompt={self.prompt!r}, chosen={self.chosen!r}, "
                f"rejected={self.rejected!r}{more})")


def field_of(response: str) -> str | None:
    """How a row spells ``response``: ``'gold'``, ``'rank 3 of responses'``, ...; None for a
    response that no field fills.

    >>> field_of("yw"), field_of("yg"), field_of("yl2"), field_of("yx")
    ("'chosen' (or rank 1 of 'responses')", "'gold'", "rank 3 of 'responses'", None)
    """
    rank = _rank_of(response)
    if response in _FIELD_OF:
        spelled = f"{_FIELD_OF[response]!r}"
        return f"{spelled} (or rank {rank} of {RANKED!r})" if rank else spelled
    return f"rank {rank} of {RANKED!r}" if rank else None


def _rank_of(response: str) -> int | None:
    """The rank that fills ``response`` (the inverse of ``atoms.ranked_response``)."""
    digits = response[2:] if response.startswith("yl") else ""
    candidates = (1, 2) if not digits else ((int(digits) + 1,) if digits.isdigit() else ())
    return next((r for r in candidates if atoms.ranked_response(r) == response), None)


def require_responses(examples: Iterable[PreferenceExample], needed: Mapping[str, str],
                      origin: str, *, file: str | None = None, hint: str | None = None) -> None:
    """Refuse examples that lack a response the loss reads, naming the first such row.

    ``needed`` maps each response to what reads it (``{"yg": "M(yg)"}``); ``origin`` says
    where the rows come from (a file, a task), ``file`` locates rows by their line.
    """
    for response, readers in needed.items():
        spelled = field_of(response)
        if spelled is None:
            raise DataError(
                f"the loss reads {readers}, and no field of a preference row fills response "
                f"{response!r}", hint="rows fill yw and yl (chosen, rejected, or the ranks of "
                f"{RANKED!r}: yw, yl, yl2, ...), yg (gold) and ys (sampled)")
        for n, ex in enumerate(examples, start=1):
            if response not in ex.responses:
                where = Span(file, ex.line, 1) if file and ex.line else None
                row = "row" if where else f"row {n} of {origin}"
                raise DataError(f"{row} has no response {response!r} (field {spelled}), which "
                                f"the loss reads ({readers})", where,
                                hint=hint or "give every row this response, or train a "
                                "loss that does not read it")


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
            fh.write(json.dumps(ex.to_row(), ensure_ascii=False) + "\n")
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

    def text(value, what: str, response: bool = True) -> str:
        """``value`` as the text of ``what`` (a field, an item's 'text'), or a located error."""
        if not isinstance(value, str):
            raise fail(f"{what} must be a string, not {_json_type(value)}")
        lone = _SURROGATE.search(value)
        if lone:  # JSON may escape half of a UTF-16 pair ("\\ud800"); it is not text
            raise fail(f"{what} holds a lone surrogate \\u{ord(lone.group()):04x} "
                       f"(character {lone.start() + 1}), which is not Unicode text")
        if response and not value.strip():
            raise fail(f"{what} is an empty response")
        return value

    if not isinstance(obj, dict):
        raise fail(f"row must be a JSON object with {', '.join(FIELDS)} (or prompt and "
                   f"{RANKED}), not {type(obj).__name__}")
    if RANKED in obj:
        both = [k for k in ("chosen", "rejected") if k in obj]
        if both:
            raise fail(f"row gives both {RANKED!r} and {' and '.join(map(repr, both))}: give "
                       f"the winner and the loser either as chosen and rejected or as ranks "
                       f"1 and 2 of {RANKED!r}, not both")
        if "prompt" not in obj:
            raise fail("row has no 'prompt' field")
        prompt = text(obj["prompt"], "field 'prompt'", response=False)
        ranked = _ranked(obj[RANKED], fail, text)
    else:
        for key in FIELDS:  # each field there and a string, then no empty response
            if key not in obj:
                raise fail(f"row has no {key!r} field")
            text(obj[key], f"field {key!r}", response=False)
        prompt = obj["prompt"]
        ranked = [text(obj[key], f"field {key!r}") for key in ("chosen", "rejected")]
    others = {atoms.ranked_response(rank): t for rank, t in enumerate(ranked[2:], start=3)}
    for key, response in OPTIONAL_FIELDS.items():
        if key in obj:
            others[response] = text(obj[key], f"field {key!r}")
    ordered = tuple(sorted(others.items(), key=lambda kv: atoms.response_key(kv[0])))
    return PreferenceExample(prompt, ranked[0], ranked[1], ordered, line)


def _ranked(items, fail, text) -> list[str]:
    """The texts of a ranked list, best first: ranks must be the whole numbers 1 to k."""
    if not isinstance(items, list):
        raise fail(f"field {RANKED!r} must be an array of {{\"text\", \"rank\"}} objects, not "
                   f"{_json_type(items)}")
    if len(items) < 2:
        raise fail(f"field {RANKED!r} holds {len(items)} response{'s' * (len(items) != 1)}; "
                   "a ranked list needs at least 2 (rank 1 the winner, rank 2 the loser)")
    by_rank: dict[int, tuple[int, str]] = {}
    for i, item in enumerate(items, start=1):
        where = f"field {RANKED!r}, item {i}"
        if not isinstance(item, dict):
            raise fail(f"{where} must be an object with 'text' and 'rank', not "
                       f"{_json_type(item)}")
        for key in ("text", "rank"):
            if key not in item:
                raise fail(f"{where} has no {key!r}" + (" (1 = best)" if key == "rank" else ""))
        body = text(item["text"], f"{where}: 'text'")
        rank = item["rank"]
        if isinstance(rank, bool) or not isinstance(rank, int):
            shown = json.dumps(rank) if isinstance(rank, (int, float, str)) else _json_type(rank)
            raise fail(f"{where}: 'rank' must be a whole number (1 = best), not {shown}")
        if rank < 1:
            raise fail(f"{where}: 'rank' must be at least 1 (1 = best), not {rank}")
        if rank in by_rank:
            raise fail(f"{where} has rank {rank}, as item {by_rank[rank][0]} does: ranks must "
                       "be distinct (ties are not supported)")
        by_rank[rank] = (i, body)
    missing = [r for r in range(1, len(items) + 1) if r not in by_rank]
    if missing:
        given = ", ".join(str(r) for r in sorted(by_rank))
        raise fail(f"field {RANKED!r} has ranks {given}, without rank {missing[0]}: the ranks "
                   f"of {len(items)} responses must be 1 to {len(items)}, without gaps")
    return [by_rank[r][1] for r in range(1, len(items) + 1)]


def _json_type(value) -> str:
    return {list: "an array", dict: "an object", bool: "a boolean", int: "a number",
            float: "a number", str: "a string", type(None): "null"}.get(type(value), type(value).__name__)
