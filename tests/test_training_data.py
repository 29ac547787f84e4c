"""Preference files: good rows load, every bad row is reported with file and line."""

from __future__ import annotations

import json

import pytest

from logicpo.files import InputError
from logicpo.training.data import (
    DataError,
    PreferenceExample,
    load_preferences,
    save_preferences,
    split_examples,
)

GOOD = {"prompt": "2+2=", "chosen": "4", "rejected": "5"}


def write(tmp_path, text, name="prefs.jsonl"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path) -> DataError:
    with pytest.raises(DataError) as info:
        load_preferences(path)
    return info.value


def test_jsonl_rows_load_with_extra_fields_and_blank_lines(tmp_path):
    rows = [GOOD, {**GOOD, "prompt": "", "id": 7}]
    path = write(tmp_path, json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n")
    assert load_preferences(path) == [PreferenceExample("2+2=", "4", "5"),
                                      PreferenceExample("", "4", "5")]


def test_json_array_loads(tmp_path):
    path = write(tmp_path, json.dumps([GOOD, GOOD], indent=2), "prefs.json")
    assert len(load_preferences(path)) == 2


@pytest.mark.parametrize("bad_line, message", [
    ('{"prompt": "a", "chosen": "b"', "invalid JSON"),
    ('{"prompt": "a", "chosen": "b"}', "no 'rejected' field"),
    ('{"prompt": "a", "chosen": 3, "rejected": "c"}', "'chosen' must be a string, not a number"),
    ('{"prompt": ["a"], "chosen": "b", "rejected": "c"}', "'prompt' must be a string, not an array"),
    ('{"prompt": "a", "chosen": "b", "rejected": "  "}', "'rejected' is an empty response"),
    ('["a", "b", "c"]', "row must be a JSON object"),
])
def test_bad_jsonl_row_names_file_and_line(tmp_path, bad_line, message):
    path = write(tmp_path, json.dumps(GOOD) + "\n" + json.dumps(GOOD) + "\n" + bad_line + "\n")
    err = error_of(path)
    assert message in err.message
    assert (err.span.file, err.span.line) == (str(path), 3)
    assert err.render().startswith(f"{path}:3:")


def test_bad_row_inside_a_json_array_names_its_line(tmp_path):
    text = "[\n  " + json.dumps(GOOD) + ",\n  " + json.dumps({**GOOD, "chosen": ""}) + "\n]\n"
    err = error_of(write(tmp_path, text, "prefs.json"))
    assert "'chosen' is an empty response" in err.message
    assert err.span.line == 3


def test_syntax_error_inside_a_json_array_is_located(tmp_path):
    text = "[\n  " + json.dumps(GOOD) + ",\n  {\"prompt\": \"a\" \"chosen\": \"b\"}\n]"
    err = error_of(write(tmp_path, text, "prefs.json"))
    assert "invalid JSON" in err.message and err.span.line == 3 and err.span.col == 18  # at "chosen"


def test_unclosed_array_and_trailing_comma_are_errors(tmp_path):
    assert "not closed" in error_of(write(tmp_path, "[" + json.dumps(GOOD), "a.json")).message
    assert "invalid JSON" in error_of(write(tmp_path, "[" + json.dumps(GOOD) + ",]",
                                            "b.json")).message


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="preference file not found"):
        load_preferences(tmp_path / "nope.jsonl")
    assert "no preference rows" in error_of(write(tmp_path, "\n\n")).message


def test_save_then_load_round_trips_unicode(tmp_path):
    rows = [PreferenceExample("¿2+2?", "cuatro ✓", "cinco"), PreferenceExample("a", "b", "c")]
    assert save_preferences(rows, tmp_path / "out.jsonl") == 2
    assert load_preferences(tmp_path / "out.jsonl") == rows
    assert not list(tmp_path.glob("*.tmp"))


def test_split_holds_out_the_tail():
    rows = [PreferenceExample(str(i), "a", "b") for i in range(10)]
    train, val = split_examples(rows, 0.2)
    assert [r.prompt for r in val] == ["8", "9"] and len(train) == 8


def test_json_array_after_blank_lines_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "prefs.json"
    path.write_bytes(b"\xef\xbb\xbf\n \n" + json.dumps([GOOD, GOOD], indent=2).encode())
    assert len(load_preferences(path)) == 2
