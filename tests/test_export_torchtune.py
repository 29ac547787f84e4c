"""`logicpo export --for torchtune`: torchtune's config.instantiate builds the class, the
class takes the call torchtune's DPO recipes make (read from the recipes' own source),
and its numbers equal torchtune's own DPOLoss.

Needs torchtune 0.6.1 with torchao 0.15.0 (torchtune does not declare torchao, and
torchao >= 0.16 removed names its recipes import).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from logicpo.cli import main

torchtune = pytest.importorskip("torchtune", reason="the torchtune extra is not installed")

RECIPES = ("lora_dpo_single_device.py", "lora_dpo_distributed.py", "full_dpo_distributed.py")


def _loss_calls(path: Path) -> list[ast.Assign]:
    """The assignments ``... = self._loss_fn(...)`` in a recipe's source."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
            and ast.unparse(node.value.func) == "self._loss_fn"]


def test_recipes_call_the_loss_with_four_sums_and_unpack_three_values():
    root = Path(torchtune.__file__).parent.parent / "recipes"
    for name in RECIPES:
        calls = _loss_calls(root / name)
        assert calls, name
        for call in calls:
            assert len(call.value.args) == 4 and not call.value.keywords, name
            assert isinstance(call.targets[0], ast.Tuple) and len(call.targets[0].elts) == 3


def test_config_instantiate_builds_the_exported_class_and_it_matches_torchtune_dpo(tmp_path,
                                                                                 monkeypatch):
    from omegaconf import OmegaConf
    from torchtune import config
    from torchtune.rlhf.loss import DPOLoss

    out = tmp_path / "my_loss.py"
    result = CliRunner().invoke(main, ["export", "sigmoid", "--beta", "0.1", "--for",
                                       "torchtune", "-o", str(out)])
    assert result.exit_code == 0, result.output
    monkeypatch.syspath_prepend(str(tmp_path))
    loss_fn = config.instantiate(OmegaConf.create({"_component_": "my_loss.SigmoidLoss"}))
    assert type(loss_fn).__name__ == "SigmoidLoss"
    g = torch.Generator().manual_seed(0)
    pc, pr, rc, rr = (-(torch.rand(8, generator=g) * 20 + 1) for _ in range(4))
    loss, chosen_rewards, rejected_rewards = loss_fn(pc, pr, rc, rr)   # as the recipes call it
    want = DPOLoss(beta=0.1, label_smoothing=0.0)(pc, pr, rc, rr)
    for got, expected in zip((loss, chosen_rewards, rejected_rewards), want, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-7)
    sys.modules.pop("my_loss", None)
