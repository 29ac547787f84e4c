"""The loop: same seed same metrics, resume = uninterrupted, NaN stops cleanly, DDP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ctrl_c_at

from logicpo.errors import UsageError
from logicpo.training.checkpoint import load_checkpoint
from logicpo.training.config import TrainConfig
from logicpo.training.loop import TrainingDiverged, resume_config, train

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]


def tiny(tmp_path, name="run", **kw) -> TrainConfig:
    """A run of a few seconds: the smallest model on a few sort pairs."""
    base = dict(task="sort", task_train=32, task_val=8, model="nano", block_size=32,
                loss="sigmoid", steps=6, batch_size=4, sft_steps=3, warmup_steps=2,
                eval_every=2, eval_generate=4, ckpt_every=2, out=str(tmp_path / name),
                threads=1, seed=0)
    return TrainConfig(**{**base, **kw})


def records(run) -> list[dict]:
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]


def test_a_run_writes_trl_metrics_checkpoint_and_summary(tmp_path):
    cfg = tiny(tmp_path)
    result = train(cfg)
    recs = records(cfg.out)
    steps = [r for r in recs if "loss" in r]
    evals = [r for r in recs if "eval_loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in evals] == [0, 2, 4, 6]
    for key in ("loss", "rewards/chosen", "rewards/rejected", "rewards/margins",
                "rewards/accuracies", "logps/chosen", "logps/rejected"):
        assert key in steps[0] and f"eval_{key}" in evals[0]
    assert 0 <= evals[-1]["eval_task_reward"] <= 1
    assert len([r for r in recs if "sft_loss" in r]) == 3
    state = load_checkpoint(Path(cfg.out) / "ckpt.pt")
    assert state["step"] == 6 and state["config"]["loss"] == "sigmoid"
    assert state["loss_source"] == result.loss_source == "logistic(DPO, beta=0.1)"
    assert state["version"] and state["reference"] is not None
    summary = json.loads((Path(cfg.out) / "summary.json").read_text())
    assert summary["final_eval"] == evals[-1] and summary["first_eval"] == evals[0]


def test_same_seed_gives_identical_metrics_and_another_seed_does_not(tmp_path):
    train(tiny(tmp_path, "a"))
    train(tiny(tmp_path, "b"))
    train(tiny(tmp_path, "c", seed=1))
    assert records(tmp_path / "a") == records(tmp_path / "b")
    assert records(tmp_path / "a") != records(tmp_path / "c")


@pytest.mark.parametrize("loss", ["CPO", "logistic(cCPO, beta=1, normalize=length)"])
def test_resume_after_an_interrupt_reproduces_the_uninterrupted_run(tmp_path, loss):
    full = tiny(tmp_path, "full", loss=loss, steps=8, ckpt_every=3)
    train(full)

    cut = full.replace(out=str(tmp_path / "cut"))
    with pytest.raises(KeyboardInterrupt):
        train(cut, ctrl_c_at("step", "step", 5))
    assert load_checkpoint(Path(cut.out) / "ckpt.pt")["step"] == 5   # saved on Ctrl-C
    resumed = resume_config(cut.out).replace(resume=True)
    assert resumed == cut.replace(resume=True)
    train(resumed)
    assert records(cut.out) == records(full.out)


def test_resume_refuses_changed_settings(tmp_path):
    cfg = tiny(tmp_path, steps=2)
    train(cfg)
    with pytest.raises(UsageError, match="loss: 'CPO' here, 'sigmoid' in the checkpoint"):
        train(cfg.replace(loss="CPO", resume=True))


def test_online_reference_matches_the_precomputed_one(tmp_path):
    train(tiny(tmp_path, "pre", steps=3))
    train(tiny(tmp_path, "online", steps=3, reference="online"))
    for a, b in zip(records(tmp_path / "pre"), records(tmp_path / "online"), strict=True):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-4, abs=1e-5)


def test_gradient_accumulation_matches_one_big_batch(tmp_path):
    train(tiny(tmp_path, "one", steps=3))
    train(tiny(tmp_path, "acc", steps=3, grad_accum=2))
    last = [r for r in records(tmp_path / "one") if "eval_loss" in r][-1]
    last_acc = [r for r in records(tmp_path / "acc") if "eval_loss" in r][-1]
    assert last["eval_loss"] == pytest.approx(last_acc["eval_loss"], rel=1e-4)


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(tmp_path):
    cfg = tiny(tmp_path, steps=20, ckpt_every=1, sft_steps=0, lr=1e30, warmup_steps=0,
               loss="CPO")
    with pytest.raises(TrainingDiverged) as info:
        train(cfg)
    message = str(info.value)
    state = load_checkpoint(Path(cfg.out) / "ckpt.pt")       # still loads
    failed_at = int(message.split(" at step ")[1].split()[0])
    assert "the loss is nan" in message or "the loss is inf" in message
    assert state["step"] == failed_at - 1
    assert f"last good checkpoint is {cfg.out}/ckpt.pt (step {failed_at - 1})" in message
    assert not [r for r in records(cfg.out) if r.get("step", 0) >= failed_at and "loss" in r]


def test_bad_data_fails_before_anything_is_written(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": "a"}\n')
    cfg = tiny(tmp_path, task=None, data=str(bad))
    with pytest.raises(Exception, match="no 'chosen' field"):
        train(cfg)
    assert not Path(cfg.out).exists()


def test_training_from_a_preference_file(tmp_path):
    from logicpo.training.data import save_preferences
    from logicpo.training.tasks import get_task

    path = tmp_path / "prefs.jsonl"
    save_preferences(get_task("add").examples("train", 24, seed=0), path)
    result = train(tiny(tmp_path, task=None, data=str(path), steps=2, loss="simpo"))
    assert "eval_task_reward" not in result.final_eval
    assert 0 <= result.final_eval["eval_rewards/accuracies"] <= 1


@pytest.mark.skipif(not shutil.which("torchrun", path=os.path.dirname(sys.executable)),
                    reason="torchrun is not installed next to this python")
def test_two_process_ddp_on_cpu_matches_one_process(tmp_path):
    """gloo, 2 ranks, 2 pairs each: the same updates as one process with 4 pairs."""
    single = tiny(tmp_path, "single", steps=3, loss="CPO", sft_steps=2)
    train(single)
    out = tmp_path / "ddp"
    args = ["--task", "sort", "--task-train", "32", "--task-val", "8", "--model", "nano",
            "--block-size", "32", "--loss", "CPO", "--steps", "3", "--batch-size", "4",
            "--sft-steps", "2", "--warmup-steps", "2", "--eval-every", "2",
            "--eval-generate", "4", "--ckpt-every", "2", "--threads", "1", "--device", "cpu",
            "--out", str(out), "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    proc = subprocess.run([torchrun, "--standalone", "--nproc_per_node=2", "-m", "logicpo",
                           "train", *args], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)                       # rank 0 alone prints
    assert summary["world_size"] == 2
    ddp, one = records(out), records(single.out)
    assert [sorted(r) for r in ddp] == [sorted(r) for r in one]   # each record written once
    for a, b in zip(ddp, one, strict=True):
        for k in ("loss", "eval_loss", "sft_loss", "logps/chosen", "eval_logps/rejected"):
            if k in a:
                assert a[k] == pytest.approx(b[k], rel=1e-3, abs=1e-4), k


def test_sft_on_both_responses_trains_on_the_rejected_ones_too(tmp_path):
    """The SFT loss is a token mean over both responses: its first value (same initial model,
    same batch) differs from the chosen-only mean, and the reference then finds the rejected
    responses less far behind the chosen ones."""
    chosen = train(tiny(tmp_path, "chosen", steps=1, sft_steps=20, sft_lr=1e-2))
    both = train(tiny(tmp_path, "both", steps=1, sft_steps=20, sft_lr=1e-2, sft_on="both"))
    first = {run: next(r for r in records(tmp_path / run) if "sft_loss" in r)["sft_loss"]
             for run in ("chosen", "both")}
    assert first["chosen"] != first["both"]
    def gap(result):
        return result.first_eval["eval_logps/chosen"] - result.first_eval["eval_logps/rejected"]

    assert gap(both) < gap(chosen)
    with pytest.raises(UsageError, match="--sft-on must be one of chosen, both"):
        train(tiny(tmp_path, "bad", sft_on="rejected"))
