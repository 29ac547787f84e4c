"""The training commands: data, train, sweep, plot-run (through click's CliRunner)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from logicpo.cli import main
from logicpo.training.config import TrainConfig

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--task-train", "32", "--task-val", "8", "--model", "nano", "--block-size", "32",
        "--batch-size", "4", "--sft-steps", "2", "--warmup-steps", "1", "--eval-every", "2",
        "--eval-generate", "4", "--threads", "1", "--no-progress"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_data_exports_a_task_split_that_loads_back(tmp_path):
    out = tmp_path / "sort.jsonl"
    res = run("data", "sort", "-o", out, "-n", 20, "--seed", 3, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {"task": "sort", "split": "train", "rows": 20, "seed": 3,
                                      "file": str(out)}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 20 and set(rows[0]) == {"prompt", "chosen", "rejected"}
    again = tmp_path / "again.jsonl"
    run("data", "sort", "-o", again, "-n", 20, "--seed", 3)
    assert again.read_text() == out.read_text()
    check = run("data", "--check", out, "--json")
    assert json.loads(check.output)["rows"] == 20


def test_data_list_and_unknown_task(tmp_path):
    names = [t["name"] for t in json.loads(run("data", "--list", "--json").output)]
    assert {"sort", "add", "reverse"} <= set(names)
    res = run("data", "sorting", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2 and "unknown task 'sorting'" in res.output
    assert not (tmp_path / "x.jsonl").exists()


def test_data_check_reports_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": 1}\n')
    res = run("data", "--check", bad)
    assert res.exit_code == 1
    assert f"{bad}:2:1: field 'prompt' must be a string" in res.output.replace("\n", "")


def test_train_help_documents_every_config_field():
    text = run("train", "--help").output
    for f in dataclasses.fields(TrainConfig):
        if f.name != "loss_params":
            assert "--" + f.name.replace("_", "-") in text, f.name
    assert "--param" in text and "torchrun" in text


def test_train_json_then_resume_then_plot(tmp_path):
    out = tmp_path / "run"
    res = run("train", "--task", "sort", "--loss", "CPO", "--steps", 4, "--out", out, *TINY,
              "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["steps"] == 4 and summary["loss"] == "CPO"
    assert {"ckpt.pt", "metrics.jsonl", "summary.json", "config.json"} <= \
        {p.name for p in out.iterdir()}
    more = run("train", "--out", out, "--resume", "--steps", 6, "--json")
    assert more.exit_code == 0, more.output
    assert json.loads(more.output)["steps"] == 6
    clash = run("train", "--out", out, "--resume", "--steps", 6, "--loss", "sigmoid")
    assert clash.exit_code == 2 and "in the checkpoint" in clash.output
    png = tmp_path / "run.png"
    res = run("plot-run", out, "-o", png, "--label", "cpo")
    assert res.exit_code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_table_output_and_plot(tmp_path):
    res = run("train", "--task", "add", "--loss", "simpo", "--steps", 2, "--out",
              tmp_path / "r", *TINY, "--plot", tmp_path / "r.png")
    assert res.exit_code == 0, res.output
    assert "eval_rewards/accuracies" in res.output and "metrics:" in res.output
    assert (tmp_path / "r.png").is_file()


def test_train_usage_errors_write_nothing(tmp_path):
    out = tmp_path / "never"
    res = run("train", "--loss", "CPO", "--steps", 2, "--out", out, *TINY)
    assert res.exit_code == 2 and "exactly one of --data FILE and --task NAME" in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "chosen": "", "rejected": "c"}\n')
    res = run("train", "--data", bad, "--loss", "CPO", "--steps", 2, "--out", out, *TINY)
    assert res.exit_code == 1 and f"{bad}:1:1:" in res.output.replace("\n", "")
    res = run("train", "--task", "sort", "--loss", "CPOO", "--steps", 2, "--out", out, *TINY)
    assert res.exit_code in (1, 2) and "CPOO" in res.output
    res = run("train", "--task", "sort", "--steps", 2, "--out", out, "--batch-size", "3",
              "--grad-accum", "2")
    assert res.exit_code == 2 and "multiple of grad-accum" in res.output
    assert not out.exists()


def test_sweep_compares_losses_with_commas_inside_parentheses(tmp_path):
    out = tmp_path / "sweep"
    losses = "CPO,ccpo=logistic(cCPO, beta=1, normalize=length)"
    res = run("sweep", "--losses", losses, "--task", "sort", "--steps", 2, "--out", out, *TINY,
              "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert [r["label"] for r in report["runs"]] == ["CPO", "ccpo"]
    assert report["runs"][1]["spec"] == "logistic(cCPO, beta=1, normalize=length)"
    assert Path(report["runs"][1]["runs"][0]) == out / "ccpo" / "seed0"
    assert report["runs"][1]["normalize"] == "length"
    for row in report["runs"]:
        assert row["winner_falls"] in ("0/1", "1/1")
        assert 0 <= row["metrics"]["task_reward"]["mean"] <= 1
        assert Path(row["runs"][0], "metrics.jsonl").is_file()
    assert Path(report["plot"]).is_file() and (out / "sweep.json").is_file()


def test_registering_and_helping_the_training_commands_imports_no_torch():
    code = ("import sys; from click.testing import CliRunner; from logicpo.cli import main; "
            "r = CliRunner().invoke(main, ['train', '--help']); assert r.exit_code == 0; "
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.stdout.strip() == "False", proc.stderr


@pytest.mark.parametrize("text, parts", [
    ("a,b", ["a", "b"]),
    ("hinge(CPO), 0.5*sigmoid + sft ,x.lpo:mine", ["hinge(CPO)", "0.5*sigmoid + sft", "x.lpo:mine"]),
])
def test_loss_lists_split_outside_parentheses(text, parts):
    from logicpo.cli.train_cmds import _split_losses

    assert _split_losses(text) == parts


def test_resume_from_a_truncated_checkpoint_is_a_clear_error(tmp_path):
    out = tmp_path / "run"
    assert run("train", "--task", "sort", "--loss", "CPO", "--steps", 2, "--out", out, *TINY,
               "--json").exit_code == 0
    data = (out / "ckpt.pt").read_bytes()
    (out / "ckpt.pt").write_bytes(data[: len(data) // 3])
    res = run("train", "--out", out, "--resume")
    assert res.exit_code == 1
    assert "is truncated or not a checkpoint" in res.output.replace("\n", "")


def test_plot_run_needs_metrics_and_matching_labels(tmp_path):
    res = run("plot-run", tmp_path, "-o", tmp_path / "x.png")
    assert res.exit_code == 2 and "no metrics at" in res.output
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n')
    res = run("plot-run", tmp_path, "-o", tmp_path / "x.png", "--label", "a", "--label", "b")
    assert res.exit_code == 2 and "2 labels for 1 runs" in res.output
    assert not (tmp_path / "x.png").exists()


def test_data_to_standard_output_is_jsonl():
    res = run("data", "add", "-o", "-", "-n", 3, "--seed", 1)
    rows = [json.loads(line) for line in res.output.splitlines()]
    assert len(rows) == 3 and all(r["prompt"].startswith("add:") for r in rows)
