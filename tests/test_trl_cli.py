"""`logicpo train --trainer trl`: the same CLI through TRL, the same metrics.jsonl names as
the built-in trainer, the logicpo loss on every step, and clear refusals."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny_hf import model_dir, preference_rows, write_jsonl

from logicpo.cli import main


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-cli")
    rows = preference_rows(20)
    return model_dir(root / "model"), write_jsonl(rows, root / "prefs.jsonl")


def _train(*args: str):
    result = CliRunner().invoke(main, ["train", *args, "--no-progress"], catch_exceptions=False)
    return result


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_trl_run_writes_the_builtin_trainers_metric_names(tmp_path, model_and_data):
    model, data = model_and_data
    common = ["--model", str(model), "--data", str(data), "--loss", "sigmoid", "--steps", "3",
              "--batch-size", "4", "--grad-accum", "2", "--eval-every", "2", "--val-fraction",
              "0.2"]
    trl = _train("--trainer", "trl", *common, "--out", str(tmp_path / "trl"), "--json")
    assert trl.exit_code == 0, trl.output
    builtin = _train(*common, "--sft-steps", "0", "--out", str(tmp_path / "builtin"))
    assert builtin.exit_code == 0, builtin.output
    got, want = _records(tmp_path / "trl"), _records(tmp_path / "builtin")
    shape = [(r["step"], sorted(r)) for r in got]
    assert shape == [(r["step"], sorted(r)) for r in want]       # same records, same names
    assert [r["step"] for r in got if "loss" in r] == [1, 2, 3]
    assert [r["step"] for r in got if "eval_loss" in r] == [0, 2, 3]
    # the policy starts as its own reference: DPO's loss is log 2 at the start (hand value)
    assert got[0]["eval_loss"] == pytest.approx(math.log(2), abs=1e-6)
    assert got[1]["loss"] == pytest.approx(math.log(2), abs=1e-6)
    summary = json.loads(trl.stdout)
    assert summary["trainer"] == "trl" and summary["steps"] == 3
    assert summary["final_eval"] == got[-1]
    assert (tmp_path / "trl" / "checkpoint-3").is_dir()
    assert json.loads((tmp_path / "trl" / "summary.json").read_text())["steps"] == 3


def test_online_reference_gives_the_precomputed_references_steps(tmp_path, model_and_data):
    """--reference online (a no-grad forward of the reloaded model a step) and precompute
    (once, before training) read the same frozen model: the same steps."""
    model, data = model_and_data
    common = ["--trainer", "trl", "--model", str(model), "--data", str(data), "--loss",
              "logistic(DPO, beta=0.5)", "--steps", "3", "--batch-size", "2", "--lr", "1e-2",
              "--warmup-steps", "0", "--eval-every", "3"]
    runs = {}
    for mode in ("online", "precompute"):
        result = _train(*common, "--reference", mode, "--out", str(tmp_path / mode))
        assert result.exit_code == 0, result.output
        runs[mode] = _records(tmp_path / mode)
    assert len({r["loss"] for r in runs["online"] if "loss" in r}) > 1
    for a, b in zip(runs["online"], runs["precompute"], strict=True):
        assert sorted(a) == sorted(b)
        for key, value in b.items():
            assert a[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


def test_every_trl_step_is_the_logicpo_loss_of_that_batch(tmp_path, model_and_data):
    """With one pair a step, CPO's loss is -log sigmoid(beta * (pc - pr)) of the logged
    log-probs and its rewards are beta * pc, beta * pr (spec section 3; TRL's own
    loss_type would use a reference model)."""
    model, data = model_and_data
    beta = 0.5
    result = _train("--trainer", "trl", "--model", str(model), "--data", str(data), "--loss",
                    f"logistic(CPO, beta={beta})", "--steps", "4", "--batch-size", "1",
                    "--eval-every", "4", "--lr", "1e-2", "--out", str(tmp_path / "cpo"))
    assert result.exit_code == 0, result.output
    steps = [r for r in _records(tmp_path / "cpo") if "loss" in r]
    assert len(steps) == 4
    for r in steps:
        x = beta * (r["logps/chosen"] - r["logps/rejected"])
        assert r["loss"] == pytest.approx(math.log1p(math.exp(-x)), rel=1e-5, abs=1e-6)
        assert r["rewards/chosen"] == pytest.approx(beta * r["logps/chosen"], rel=1e-6)
        assert r["rewards/rejected"] == pytest.approx(beta * r["logps/rejected"], rel=1e-6)
    assert len({r["loss"] for r in steps}) > 1       # the model moved between steps


@pytest.mark.parametrize("extra,message", [
    (["--sft-steps", "5"], "cannot honour --sft-steps 5: TRL's DPOTrainer has no SFT"),
    (["--block-size", "32"], "cannot honour --block-size 32"),
    (["--resume"], "cannot honour --resume"),
    (["--batch-size", "4", "--grad-accum", "3"], "batch-size must be a multiple of grad-accum"),
])
def test_settings_trl_cannot_honour_are_usage_errors(tmp_path, model_and_data, extra, message):
    model, data = model_and_data
    result = _train("--trainer", "trl", "--model", str(model), "--data", str(data),
                    "--out", str(tmp_path / "x"), *extra)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "x" / "metrics.jsonl").exists()


def test_trl_needs_a_local_model_directory_and_a_data_file(tmp_path, model_and_data):
    model, data = model_and_data
    builtin_size = _train("--trainer", "trl", "--data", str(data), "--out", str(tmp_path / "a"))
    assert builtin_size.exit_code == 2
    assert "--model must be a local model directory" in " ".join(builtin_size.output.split())
    task = _train("--trainer", "trl", "--task", "sort", "--model", str(model),
                  "--out", str(tmp_path / "b"))
    assert task.exit_code == 2 and "cannot honour --task 'sort'" in " ".join(task.output.split())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_accelerate_launch_on_two_processes_equals_one_process_accumulating(tmp_path,
                                                                           model_and_data):
    """`accelerate launch -m logicpo train --trainer trl`: two CPU processes with two pairs
    each make the same steps as one process accumulating two micro-batches of two; only the
    main process writes the metrics."""
    model, data = model_and_data
    common = ["--trainer", "trl", "--model", str(model), "--data", str(data), "--loss",
              "sigmoid", "--steps", "3", "--batch-size", "4", "--warmup-steps", "0", "--lr",
              "1e-2", "--eval-every", "3", "--no-progress"]
    proc = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
         "--main_process_port", str(_free_port()), "-m", "logicpo", "train", *common,
         "--out", str(tmp_path / "two")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "TQDM_DISABLE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = _train(*common, "--grad-accum", "2", "--out", str(tmp_path / "one"))
    assert one.exit_code == 0, one.output
    two, single = _records(tmp_path / "two"), _records(tmp_path / "one")
    assert [r["step"] for r in two] == [r["step"] for r in single] == [0, 1, 2, 3, 3]
    assert len({r["loss"] for r in two if "loss" in r}) > 1            # it trained
    # all-reduce and accumulation sum the gradients in another order; Adam turns those
    # float32 roundings into ~1e-4 relative differences after a few steps. Another split of
    # the data (each process on the same pairs, say) changes the log-probs by whole nats.
    for a, b in zip(two, single, strict=True):
        assert sorted(a) == sorted(b)
        for key, value in b.items():
            assert a[key] == pytest.approx(value, rel=1e-3, abs=1e-5), key


def test_trl_run_never_replaces_a_run_and_refuses_a_loss_without_gradient(tmp_path,
                                                                          model_and_data):
    """Before: `--trainer trl` wrote into an existing run directory without asking, and
    trained a loss that does not depend on the policy."""
    model, data = model_and_data
    common = ["--trainer", "trl", "--model", str(model), "--data", str(data), "--steps", "1",
              "--batch-size", "2", "--eval-every", "1", "--val-fraction", "0.2"]
    out = tmp_path / "run"
    assert _train(*common, "--loss", "sigmoid", "--out", str(out)).exit_code == 0
    before = (out / "metrics.jsonl").read_bytes()
    again = _train(*common, "--loss", "CPO", "--out", str(out))
    assert again.exit_code == 2 and "already holds a run" in again.output
    assert (out / "metrics.jsonl").read_bytes() == before          # nothing was touched
    assert json.loads((out / "config.json").read_text())["loss_spec"] == "sigmoid"
    replaced = _train(*common, "--loss", "CPO", "--out", str(out), "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((out / "config.json").read_text())["loss_spec"] == "CPO"
    (tmp_path / "refonly.lpo").write_text("structure refonly { core: Ref(yl) -> Ref(yw) }\n")
    refused = _train(*common, "--loss", f"{tmp_path / 'refonly.lpo'}:refonly",
                     "--out", str(tmp_path / "none"))
    assert refused.exit_code == 1 and "cannot train" in refused.output
    assert not (tmp_path / "none").exists()


def test_overwrite_removes_trls_checkpoints_and_they_alone_make_a_run(tmp_path, model_and_data):
    """Before: --overwrite removed logicpo's files only, so a 2-step run's checkpoint-2 sat
    beside a new 1-step run's checkpoint-1 (and TRL's resume_from_checkpoint would pick the
    stale one); a directory holding only TRL checkpoints was written into without asking."""
    model, data = model_and_data
    out = tmp_path / "run"
    common = ["--trainer", "trl", "--model", str(model), "--data", str(data), "--batch-size",
              "2", "--eval-every", "1", "--val-fraction", "0.2", "--ckpt-every", "1",
              "--loss", "sigmoid", "--out", str(out)]
    assert _train(*common, "--steps", "2").exit_code == 0
    assert {"checkpoint-1", "checkpoint-2"} <= {p.name for p in out.iterdir()}
    replaced = _train(*common, "--steps", "1", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    names = {p.name for p in out.iterdir()}
    assert "checkpoint-1" in names and "checkpoint-2" not in names
    for name in ("config.json", "metrics.jsonl", "summary.json"):
        (out / name).unlink()
    refused = _train(*common, "--steps", "1")
    assert refused.exit_code == 2 and "checkpoint-1" in refused.output
    assert (out / "checkpoint-1").is_dir()
