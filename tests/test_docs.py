"""The docs' examples run: every ```lpo block checks, every ```lpo-error block fails as shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from logicpo.cli.logic_cmds import check_file
from logicpo.errors import LogicpoError

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
BLOCK = re.compile(r"```(lpo|lpo-error)\n(.*?)```(?:\n```text\n(.*?)```)?", re.S)


def _blocks():
    for doc in DOCS:
        for m in BLOCK.finditer(doc.read_text()):
            yield pytest.param(m[1], m[2], m[3], id=f"{doc.name}:{doc.read_text()[:m.start()].count(chr(10)) + 1}")


@pytest.mark.parametrize("kind,source,expected", list(_blocks()))
def test_doc_example(tmp_path, monkeypatch, kind, source, expected):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "x.lpo"
    path.write_text(source)
    if kind == "lpo":
        assert check_file(Path("x.lpo"))["ok"]
        return
    with pytest.raises(LogicpoError) as info:
        check_file(Path("x.lpo"))
    assert expected is not None, "an lpo-error block needs the expected message below it"
    assert str(info.value) == expected.strip()


def test_docs_have_examples():
    assert len(list(_blocks())) >= 10
