"""Checkpoints: atomic writes, no code execution on load, clear errors for bad files."""

from __future__ import annotations

import collections
import fractions

import pytest
import torch

from logicpo.training import checkpoint as ckpt_mod
from logicpo.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def state(step=3):
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(net.parameters())
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    return {"step": step, "model": net.state_dict(), "optimizer": opt.state_dict(),
            "rng": {"torch": torch.get_rng_state()}, "config": {"loss": "CPO", "lr": 1e-3}}


def test_round_trip_keeps_tensors_and_plain_values(tmp_path):
    save_checkpoint(tmp_path / "ckpt.pt", state())
    back = load_checkpoint(tmp_path)                   # a run directory works too
    assert back["step"] == 3 and back["config"] == {"loss": "CPO", "lr": 1e-3}
    assert torch.equal(back["model"]["weight"], state()["model"]["weight"])
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]   # no temporary left


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, state())
    data = path.read_bytes()
    for cut in (len(data) // 2, 40, 0):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated or not a checkpoint"):
            load_checkpoint(path)


def test_foreign_pytorch_file_is_refused(tmp_path):
    torch.save({"state_dict": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a logicpo checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    torch.save(collections.OrderedDict(a=1), tmp_path / "od.pt")
    with pytest.raises(CheckpointError, match="not a logicpo checkpoint"):
        load_checkpoint(tmp_path / "od.pt")


def test_file_that_would_run_code_is_refused_without_running_it(tmp_path):
    torch.save({"format": ckpt_mod.FORMAT, "x": fractions.Fraction(1, 3)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="could run code"):
        load_checkpoint(tmp_path / "evil.pt")


def test_garbage_and_missing_files(tmp_path):
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError, match="truncated or not a checkpoint"):
        load_checkpoint(tmp_path / "text.pt")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")


def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, state(step=1))

    def dies_midway(obj, fh):
        fh.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt_mod.torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, state(step=2))
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]
