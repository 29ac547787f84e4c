"""SELM's sampled response ys, drawn from the reference by the built-in trainer.

``--sample-ys reference`` fills the response ``ys`` of rows that lack one with a sample of
the frozen reference (after the SFT warm-up), records the samples in OUT/sampled.jsonl and
reads them back on resume. The oracles here are independent of the code under test: a
model whose distribution is written down (so a sample's text and log-prob are known by
hand), and the reference's log-prob of each recorded sample recomputed token by token.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import ctrl_c_at

from logicpo.cli import main
from logicpo.training import loop
from logicpo.training.checkpoint import CheckpointError, load_checkpoint
from logicpo.training.config import TrainConfig
from logicpo.training.data import DataError
from logicpo.training.loop import resume_config, train
from logicpo.training.model import ByteTokenizer, build_model
from logicpo.training.run_dir import ResumeMismatch
from logicpo.training.sampling import draw_samples

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
TOK = ByteTokenizer()
BOS, EOS, SEVEN = TOK.bos_id, TOK.eos_id, ord("7")


def tiny(tmp_path, name="run", **kw) -> TrainConfig:
    """SELM on a few sort rows with the smallest model: a few seconds."""
    base = dict(task="sort", task_train=16, task_val=4, model="nano", block_size=32,
                loss="selm", steps=4, batch_size=4, sft_steps=5, warmup_steps=1,
                eval_every=2, eval_generate=2, ckpt_every=2, out=str(tmp_path / name),
                threads=1, seed=0, sample_ys="reference")
    return TrainConfig(**{**base, **kw})


def records(out) -> list[dict]:
    return [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]


def samples(out) -> list[dict]:
    return [json.loads(line) for line in (Path(out) / "sampled.jsonl").read_text().splitlines()]


# ------------------------------------------------------------ a reference known by hand
class SevenOrEight(torch.nn.Module):
    """After the prompt (which ends in '='): '7' with probability 1/4, '8' with 3/4; after
    either, EOS with probability 1. So a sample is "7" (log-prob log 1/4) or "8" (log 3/4),
    two tokens with its EOS, and about a quarter of the samples are "7"."""

    block_size = 32

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        logits = torch.full((B, T, TOK.vocab_size), -1e9)
        answered = (idx[:, -1] == SEVEN) | (idx[:, -1] == SEVEN + 1)
        logits[answered, -1, EOS] = 0.0
        logits[~answered, -1, SEVEN] = math.log(1 / 4)
        logits[~answered, -1, SEVEN + 1] = math.log(3 / 4)
        return logits


def test_samples_of_a_reference_known_by_hand():
    prompts = [f"sort:{n}=" for n in range(100, 500)]
    got = draw_samples(SevenOrEight(), TOK, prompts, 5, 32, seed_key="0:train")
    assert {(s.text, s.token_ids, s.ended) for s in got} == \
        {("7", (SEVEN, EOS), True), ("8", (SEVEN + 1, EOS), True)}
    for s in got:
        assert s.logp == pytest.approx(math.log(1 / 4 if s.text == "7" else 3 / 4), abs=1e-6)
    sevens = sum(s.text == "7" for s in got)   # binomial(400, 1/4): mean 100, sd 8.7
    assert 60 < sevens < 140
    assert got == draw_samples(SevenOrEight(), TOK, prompts, 5, 32, seed_key="0:train")
    assert got != draw_samples(SevenOrEight(), TOK, prompts, 5, 32, seed_key="1:train")


def test_a_sample_is_cut_at_the_length_limit():
    """At most 1 new token: the '7' or '8' is kept without its EOS, with its log-prob."""
    got = draw_samples(SevenOrEight(), TOK, ["sort:9="] * 8, 1, 32, seed_key="0")
    assert {(s.token_ids, s.ended) for s in got} <= {((SEVEN,), False), ((SEVEN + 1,), False)}
    assert all(s.logp == pytest.approx(math.log(1 / 4 if s.text == "7" else 3 / 4))
               for s in got)


# ------------------------------------------------------------ the trainer
def test_without_the_option_the_error_names_it(tmp_path):
    with pytest.raises(DataError, match=r"row 1 of task 'sort' has no response 'ys' "
                                        r"\(field 'sampled'\)") as err:
        train(tiny(tmp_path, sample_ys="off"))
    assert "--sample-ys reference" in err.value.hint
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_selm_trains_on_samples_of_the_reference(tmp_path):
    cfg = tiny(tmp_path)
    result = train(cfg)
    recs = records(cfg.out)
    steps = [r for r in recs if "loss" in r]
    evals = [r for r in recs if "eval_loss" in r]
    assert len(steps) == 4 and all(math.isfinite(r["loss"]) for r in steps)
    assert all("logps/ys" in r and math.isfinite(r["logps/ys"]) for r in steps)
    assert all("eval_logps/ys" in r for r in evals)
    rows = samples(cfg.out)
    assert [(r["split"], r["row"]) for r in rows] == \
        [("train", i) for i in range(16)] + [("val", i) for i in range(4)]
    assert result.extra["sampled_ys"] == {"train": 16, "val": 4}
    task_rows = loop.get_task("sort").examples("train", 16, 0, n_val=4)
    assert [r["prompt"] for r in rows[:16]] == [ex.prompt for ex in task_rows]


def test_recorded_samples_have_the_reference_log_prob_they_were_drawn_with(tmp_path):
    """The reference of the checkpoint (the frozen warmed-up model) scores each recorded
    sample, token by token here, as the recorded sampling log-prob says (a warm-up long
    enough that some samples end with the reference's EOS and others are cut)."""
    cfg = tiny(tmp_path, sft_steps=40)
    train(cfg)
    reference = build_model("nano", block_size=32)
    reference.load_state_dict(load_checkpoint(Path(cfg.out) / "ckpt.pt")["reference"])
    reference.eval()
    rows = samples(cfg.out)
    assert any(r["ended"] for r in rows) and not all(r["ended"] for r in rows)
    for r in rows:
        prompt, drawn = [BOS, *r["prompt"].encode()], r["token_ids"]
        assert (drawn[-1] == EOS) == r["ended"]
        ids = torch.tensor([prompt + drawn])
        with torch.no_grad():
            logps = torch.log_softmax(reference(ids[:, :-1]).double(), dim=-1)[0]
        by_hand = sum(float(logps[len(prompt) - 1 + k, tok]) for k, tok in enumerate(drawn))
        assert r["logp"] == pytest.approx(by_hand, abs=1e-3)
    # before the first update the policy is the reference, so the trainer's M(ys) of the
    # validation rows is their recorded sampling log-prob: it scores the tokens drawn
    first_eval = next(r for r in records(cfg.out) if "eval_loss" in r)
    val = [r["logp"] for r in rows if r["split"] == "val"]
    assert first_eval["eval_logps/ys"] == pytest.approx(sum(val) / len(val), abs=1e-3)


def test_same_seed_same_samples_and_another_seed_others(tmp_path):
    train(tiny(tmp_path, "a", steps=2))
    train(tiny(tmp_path, "b", steps=2))
    train(tiny(tmp_path, "c", steps=2, seed=1))
    assert (tmp_path / "a" / "sampled.jsonl").read_text() == \
        (tmp_path / "b" / "sampled.jsonl").read_text()
    assert records(tmp_path / "a") == records(tmp_path / "b")
    assert [r["sampled"] for r in samples(tmp_path / "a")] != \
        [r["sampled"] for r in samples(tmp_path / "c")]


def _no_drawing(*args, **kwargs):
    raise AssertionError("a resumed run drew samples again")


def test_resume_reads_the_recorded_samples_and_reproduces_the_run(tmp_path, monkeypatch):
    full = tiny(tmp_path, "full", steps=6)
    train(full)
    cut = full.replace(out=str(tmp_path / "cut"))
    with pytest.raises(KeyboardInterrupt):
        train(cut, ctrl_c_at("step", "step", 3))
    drawn = (Path(cut.out) / "sampled.jsonl").read_text()
    monkeypatch.setattr(loop, "draw_samples", _no_drawing)
    train(resume_config(cut.out).replace(resume=True))
    assert (Path(cut.out) / "sampled.jsonl").read_text() == drawn
    assert drawn == (Path(full.out) / "sampled.jsonl").read_text()
    assert records(cut.out) == records(full.out)


def test_a_run_interrupted_after_sampling_resumes_with_the_same_samples(tmp_path, monkeypatch):
    """No checkpoint yet (stopped right after the samples were recorded): the resume starts
    from the warm-up again, but reads the samples instead of drawing them."""
    full = tiny(tmp_path, "full", steps=2)
    train(full)
    cut = full.replace(out=str(tmp_path / "cut"))
    with pytest.raises(KeyboardInterrupt):
        train(cut, ctrl_c_at("sampled"))
    assert not (Path(cut.out) / "ckpt.pt").exists()
    monkeypatch.setattr(loop, "draw_samples", _no_drawing)
    train(resume_config(cut.out).replace(resume=True))
    assert records(cut.out) == records(full.out)


def test_resume_without_the_recorded_samples_or_with_damaged_ones_is_refused(tmp_path):
    cfg = tiny(tmp_path, steps=2)
    train(cfg)
    path = Path(cfg.out) / "sampled.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")  # a sample lost
    with pytest.raises(CheckpointError, match="holds 3 samples of the val split; the run "
                                              "needs 4"):
        train(cfg.replace(steps=4, resume=True))
    path.write_text(lines[0].replace('"prompt": "sort:', '"prompt": "other:') + "\n")
    with pytest.raises(CheckpointError, match="sampled.jsonl:1: not a sample of this run"):
        train(cfg.replace(steps=4, resume=True))
    path.unlink()
    with pytest.raises(ResumeMismatch, match="has a checkpoint but no sampled.jsonl"):
        train(cfg.replace(steps=4, resume=True))


def test_rows_that_carry_sampled_keep_it(tmp_path):
    rows = [{"prompt": f"sort:{n}=", "chosen": "".join(sorted(str(n))), "rejected": str(n)}
            for n in range(310, 330)]
    for row in rows[::2]:
        row["sampled"] = "123"
    data = tmp_path / "prefs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tiny(tmp_path, task=None, data=str(data), steps=2)
    result = train(cfg)
    drawn = samples(cfg.out)
    # the last 2 rows are held out (val_fraction 0.1); only odd rows lack 'sampled'
    assert [(r["split"], r["row"]) for r in drawn] == \
        [("train", i) for i in range(1, 18, 2)] + [("val", 1)]
    assert [r["prompt"] for r in drawn] == [rows[i]["prompt"] for i in range(1, 20, 2)]
    assert result.extra["sampled_ys"] == {"train": 9, "val": 1}


def test_a_loss_that_reads_no_ys_draws_nothing(tmp_path):
    result = train(tiny(tmp_path, loss="sigmoid", steps=2))
    assert not (tmp_path / "run" / "sampled.jsonl").exists()
    assert "sampled_ys" not in result.extra


# ------------------------------------------------------------ the command line
def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_the_cli_names_the_option_and_trl_refuses_it(tmp_path):
    small = ["--model", "nano", "--block-size", "32", "--task-train", "8", "--task-val", "2",
             "--steps", "2", "--batch-size", "2", "--sft-steps", "2", "--eval-generate", "1",
             "--threads", "1", "--no-progress"]
    res = run("train", "--task", "sort", "--loss", "selm", "--out", tmp_path / "a", *small)
    assert res.exit_code == 1
    assert "no response 'ys'" in res.output and "--sample-ys reference" in res.output
    res = run("train", "--task", "sort", "--loss", "selm", "--out", tmp_path / "b",
              "--sample-ys", "reference", "--json", *small)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["sampled_ys"] == {"train": 8, "val": 2}
    res = run("train", "--trainer", "trl", "--data", tmp_path / "x.jsonl", "--loss", "sigmoid",
              "--sample-ys", "reference", "--out", tmp_path / "c")
    assert res.exit_code == 2 and "--trainer trl cannot honour --sample-ys" in res.output


@pytest.mark.skipif(not shutil.which("torchrun", path=os.path.dirname(sys.executable)),
                    reason="torchrun is not installed next to this python")
def test_two_processes_draw_the_samples_of_one(tmp_path):
    """gloo, 2 ranks: the main process draws and records, the other reads the record; the
    samples and the numbers are those of one process (up to the rounding by which a
    two-process warm-up differs from a one-process one)."""
    single = tiny(tmp_path, "single", steps=2)
    train(single)
    out = tmp_path / "ddp"
    args = ["--task", "sort", "--task-train", "16", "--task-val", "4", "--model", "nano",
            "--block-size", "32", "--loss", "selm", "--sample-ys", "reference", "--steps", "2",
            "--batch-size", "4", "--sft-steps", "5", "--warmup-steps", "1", "--eval-every",
            "2", "--eval-generate", "2", "--ckpt-every", "2", "--threads", "1", "--device",
            "cpu", "--out", str(out), "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    proc = subprocess.run([torchrun, "--standalone", "--nproc_per_node=2", "-m", "logicpo",
                           "train", *args], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["world_size"] == 2
    ddp, one = samples(out), samples(single.out)
    assert [(r["split"], r["row"], r["token_ids"]) for r in ddp] == \
        [(r["split"], r["row"], r["token_ids"]) for r in one]
    assert [r["logp"] for r in ddp] == pytest.approx([r["logp"] for r in one], abs=1e-3)
    for a, b in zip(records(out), records(single.out), strict=True):
        for k in ("loss", "eval_loss", "logps/ys", "eval_logps/ys"):
            if k in a:
                assert a[k] == pytest.approx(b[k], rel=1e-3, abs=1e-4), k
