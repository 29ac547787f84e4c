"""docs/integrations.md runs: every block marked ``<!-- run: NAME -->`` is executed as
written (commands through the CLI, their shown output compared; Python blocks with a tiny
local model; the YAML through torchtune's config.instantiate), and no other block is
shown that the suite does not run (the ``>>>`` blocks run as doctests)."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny_hf import model_dir, preference_rows, write_jsonl

from logicpo.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "integrations.md"
RUN = re.compile(r"<!-- run: ([\w-]+) -->\n```(\w+)\n(.*?)```", re.S)
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def _blocks() -> dict[str, tuple[str, str]]:
    return {m[1]: (m[2], m[3]) for m in RUN.finditer(DOC.read_text(encoding="utf-8"))}


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_every_block_in_the_doc_runs():
    text = DOC.read_text(encoding="utf-8")
    for m in FENCE.finditer(text):
        marked = re.search(r"<!-- run: [\w-]+ -->\n$", text[:m.start()])
        assert marked or m[2].lstrip().startswith(">>>"), f"block never run:\n{m[0][:200]}"
    assert len(_blocks()) == 8


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("doc")
    rows = preference_rows(16)
    model_dir(root / "tiny-llama")
    write_jsonl(rows, root / "prefs.jsonl")
    return root, rows


def _run_command(block: str):
    """``$ logicpo ...`` then the output the doc shows; run it and compare."""
    lines = block.strip("\n").splitlines()
    assert lines[0].startswith("$ logicpo ")
    result = CliRunner().invoke(main, shlex.split(lines[0][len("$ logicpo "):]))
    shown = "\n".join(lines[1:])
    if shown.startswith("error:"):
        assert result.exit_code == 2, result.output
    else:
        assert result.exit_code == 0, result.output
    if shown:
        assert _flat(result.output) == _flat(shown)
    return result


def _namespace(root: Path, rows):
    import datasets
    import transformers

    model_dir = root / "tiny-llama"
    return {"model": transformers.AutoModelForCausalLM.from_pretrained(model_dir),
            "tokenizer": transformers.AutoTokenizer.from_pretrained(model_dir),
            "dataset": datasets.Dataset.from_list(rows)}


def test_the_trl_blocks_run_as_written(workdir, monkeypatch):
    root, rows = workdir
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    blocks = _blocks()
    code = blocks["trl-subclass"][1]
    namespace = _namespace(root, rows)
    exec(compile(code, "integrations.md:trl-subclass", "exec"), namespace)  # noqa: S102
    assert namespace["trainer"].state.global_step == 2
    assert namespace["trainer"].logicpo_loss.source.startswith("logistic(CPO")

    _run_command(blocks["export-trl"][1])
    namespace = _namespace(root, rows)
    exec(compile(blocks["export-trl-use"][1], "integrations.md:export-trl-use", "exec"),  # noqa: S102
         namespace)
    assert namespace["trainer"].state.global_step == 2
    assert type(namespace["trainer"].logicpo_loss).__module__ == "simpo_trl"
    sys.modules.pop("simpo_trl", None)

    _run_command(blocks["train-trl"][1] + "\n")
    assert (root / "runs" / "simpo-trl" / "metrics.jsonl").is_file()
    _run_command(blocks["train-trl-refusal"][1])


def test_the_torchtune_blocks_run_as_written(workdir, monkeypatch):
    root, _ = workdir
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    blocks = _blocks()
    _run_command(blocks["export-torchtune"][1])
    _run_command(blocks["torchtune-refusal"][1])
    assert not (root / "simpo.py").exists()
    pytest.importorskip("torchtune", reason="the torchtune extra is not installed")
    from omegaconf import OmegaConf
    from torchtune import config

    cfg = OmegaConf.create(blocks["torchtune-yaml"][1])
    assert type(config.instantiate(cfg.loss)).__name__ == "SigmoidLoss"
    sys.modules.pop("my_loss", None)
