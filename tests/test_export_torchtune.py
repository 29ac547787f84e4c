"""`logicpo export --for torchtune`: torchtune's config.instantiate builds the class, the
class takes the call torchtune's DPO recipes make (read from the recipes' own source),
its numbers equal torchtune's own DPOLoss, and torchtune's lora_dpo_single_device recipe
trains with it exactly as with DPOLoss (a tiny Llama 2 and a SentencePiece tokenizer
trained here; nothing downloaded).

Needs torchtune 0.6.1 with torchao 0.15.0 (torchtune does not declare torchao, and
torchao >= 0.16 removed names its recipes import).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
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


RECIPE_CONFIG = """
output_dir: {out}
model:
  _component_: torchtune.models.llama2.lora_llama2
  lora_attn_modules: ['q_proj', 'v_proj']
  apply_lora_to_mlp: False
  apply_lora_to_output: False
  vocab_size: 64
  num_layers: 1
  num_heads: 2
  num_kv_heads: 2
  embed_dim: 32
  max_seq_len: 64
  lora_rank: 4
  lora_alpha: 8
tokenizer:
  _component_: torchtune.models.llama2.llama2_tokenizer
  path: {root}/tok.model
  max_seq_len: 64
checkpointer:
  _component_: torchtune.training.FullModelTorchTuneCheckpointer
  checkpoint_dir: {root}/ckpt
  checkpoint_files: [model.pt]
  adapter_checkpoint: null
  recipe_checkpoint: null
  output_dir: {out}
  model_type: LLAMA2
resume_from_checkpoint: False
save_adapter_weights_only: True
dataset:
  _component_: torchtune.datasets.preference_dataset
  source: json
  data_files: {root}/prefs.json
  split: train
seed: 0
shuffle: False
batch_size: 2
optimizer:
  _component_: torch.optim.AdamW
  lr: 1e-2
lr_scheduler:
  _component_: torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup
  num_warmup_steps: 0
loss:
  _component_: {loss}
epochs: 1
max_steps_per_epoch: 3
gradient_accumulation_steps: 1
compile: False
metric_logger:
  _component_: torchtune.training.metric_logging.DiskLogger
  log_dir: {out}/logs
log_every_n_steps: 1
log_peak_memory_stats: False
device: cpu
dtype: fp32
enable_activation_checkpointing: False
enable_activation_offloading: False
"""


def _recipe_inputs(root: Path) -> None:
    """A SentencePiece tokenizer, a tiny Llama 2 checkpoint and preference chats."""
    import sentencepiece as spm
    from tiny_hf import preference_rows
    from torchtune.models.llama2 import llama2

    rows = preference_rows(12)
    corpus = root / "corpus.txt"
    corpus.write_text("".join(r[k] + "\n" for r in rows for k in ("prompt", "chosen",
                                                                  "rejected")))
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(root / "tok"),
                                   vocab_size=40, model_type="bpe", bos_id=1, eos_id=2,
                                   unk_id=0, pad_id=-1, hard_vocab_limit=False,
                                   minloglevel=2)
    chat = [{"chosen": [{"role": "user", "content": r["prompt"]},
                        {"role": "assistant", "content": r["chosen"]}],
             "rejected": [{"role": "user", "content": r["prompt"]},
                          {"role": "assistant", "content": r["rejected"]}]} for r in rows]
    (root / "prefs.json").write_text("".join(json.dumps(c) + "\n" for c in chat))
    torch.manual_seed(0)
    (root / "ckpt").mkdir()
    model = llama2(vocab_size=64, num_layers=1, num_heads=2, num_kv_heads=2, embed_dim=32,
                   max_seq_len=64)
    torch.save(model.state_dict(), root / "ckpt" / "model.pt")


def _recipe_steps(root: Path, name: str, loss: str) -> list[dict]:
    """Run torchtune's lora_dpo_single_device recipe; its logged metrics, step by step."""
    out = root / name
    config = root / f"{name}.yaml"
    config.write_text(RECIPE_CONFIG.format(root=root, out=out, loss=loss))
    # torchtune's CLI by module: Ray (the ray extra, in the same test venv) installs a `tune`
    # script of its own, and whichever is installed last owns the name
    proc = subprocess.run([sys.executable, "-m", "torchtune._cli.tune", "run",
                           "lora_dpo_single_device", "--config", str(config)],
                          cwd=root, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(root), "TQDM_DISABLE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    (log,) = (out / "logs").glob("log_*.txt")
    steps = []
    for line in log.read_text().splitlines():
        m = re.match(r"Step (\d+) \| (.*)", line)
        if m:
            pairs = (item.split(":", 1) for item in m[2].split())
            steps.append({"step": int(m[1]), **{k: float(v) for k, v in pairs}})
    return steps


def test_torchtunes_dpo_recipe_trains_the_exported_class_as_its_own_dpo_loss(tmp_path):
    """The recipe, run twice on the same model and data: with the exported class as
    `loss:` and with torchtune's DPOLoss (the peer oracle)."""
    _recipe_inputs(tmp_path)
    result = CliRunner().invoke(main, ["export", "sigmoid", "--beta", "0.1", "--for",
                                       "torchtune", "-o", str(tmp_path / "my_loss.py")])
    assert result.exit_code == 0, result.output
    ours = _recipe_steps(tmp_path, "ours", "my_loss.SigmoidLoss")
    theirs = _recipe_steps(tmp_path, "theirs", "torchtune.rlhf.loss.DPOLoss")
    assert [s["step"] for s in ours] == [1, 2, 3]
    assert len({s["loss"] for s in ours}) > 1                      # it trained
    for a, b in zip(ours, theirs, strict=True):
        for key in ("loss", "rewards/chosen", "rewards/rejected", "rewards/margins",
                    "log_probs/chosen", "log_probs/rejected"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), (a["step"], key)
