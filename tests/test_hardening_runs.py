"""Issue 10, the runs: no run is lost, replaced or continued with something else.

Each test here failed on the code before the fix: a resume that read an edited ``.lpo``
file or failed in another working directory, ``--out`` that silently replaced a run or gave
a traceback on a file, a warm-up that could not be resumed, ``seconds`` that counted only
the preference loop, two runs writing one directory at once, ``--lr inf`` accepted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import ctrl_c_at

from logicpo.cli import main
from logicpo.errors import LogicpoError, UsageError
from logicpo.training.checkpoint import load_checkpoint
from logicpo.training.config import TrainConfig
from logicpo.training.loop import resume_config, train

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--task-train", "32", "--task-val", "8", "--model", "nano", "--block-size", "32",
        "--batch-size", "4", "--sft-steps", "2", "--warmup-steps", "1", "--eval-every", "2",
        "--eval-generate", "4", "--ckpt-every", "2", "--threads", "1", "--no-progress"]
# Two structures that train differently: the file is edited from the first to the second.
MINE = "structure mine { core: M(yl) -> M(yw) }\n"
EDITED = "structure mine { core: M(yw) }\n"


def tiny(out, **kw) -> TrainConfig:
    base = dict(task="sort", task_train=32, task_val=8, model="nano", block_size=32,
                loss="sigmoid", steps=6, batch_size=4, sft_steps=3, warmup_steps=2,
                eval_every=2, eval_generate=4, ckpt_every=2, out=str(out), threads=1, seed=0)
    return TrainConfig(**{**base, **kw})


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def said(res) -> str:
    """The command's output with the terminal's line breaks undone."""
    return " ".join(res.output.split())


def records(out) -> list[dict]:
    return [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]


def snapshot(out) -> dict:
    return {p.name: p.read_bytes() for p in Path(out).iterdir()}


# ------------------------------------------------------------ item 3: resume and the loss


def test_resume_trains_the_recorded_loss_after_the_file_is_edited(tmp_path, monkeypatch):
    """Interrupt a run of mine.lpo:mine, edit the file, resume without --loss: the metrics
    equal an uninterrupted run of the original file (the edited loss would train otherwise),
    and the recorded loss source is the original one."""
    monkeypatch.chdir(tmp_path)
    Path("mine.lpo").write_text(MINE)
    train(tiny("full", loss="mine.lpo:mine", steps=6))
    cut = tiny("cut", loss="mine.lpo:mine", steps=6)
    with pytest.raises(KeyboardInterrupt):
        train(cut, ctrl_c_at("step", "step", 3))
    Path("mine.lpo").write_text(EDITED)
    train(resume_config("cut").replace(resume=True))
    assert records("cut") == records("full")
    state = load_checkpoint(Path("cut", "ckpt.pt"))
    assert state["loss_program"] == MINE.strip()
    assert state["loss_source"] == "logistic(mine, beta=1)"
    # the edited file's loss really is another one: a fresh run of it differs
    train(tiny("edited", loss="mine.lpo:mine", steps=6))
    assert records("edited") != records("full")


def test_resume_refuses_the_same_spec_when_its_file_was_edited(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("mine.lpo").write_text(MINE)
    assert run("train", "--task", "sort", "--loss", "mine.lpo:mine", "--steps", 2,
               "--out", "r", *TINY).exit_code == 0
    before = snapshot("r")
    Path("mine.lpo").write_text(EDITED)
    res = run("train", "--out", "r", "--resume", "--steps", 4, "--loss", "mine.lpo:mine")
    assert res.exit_code == 2, res.output
    assert "--loss mine.lpo:mine is no longer the loss this run trained with" in \
        said(res)
    assert snapshot("r") == before
    # given unchanged, the same spec is accepted
    Path("mine.lpo").write_text(MINE)
    res = run("train", "--out", "r", "--resume", "--steps", 4, "--loss", "mine.lpo:mine")
    assert res.exit_code == 0, res.output


def test_resume_from_another_working_directory(tmp_path, monkeypatch):
    """Relative --loss and --data paths, resumed from a sibling directory: the run goes on
    (it used to stop with 'file not found: mine.lpo') and equals the uninterrupted run."""
    from logicpo.training.data import save_preferences
    from logicpo.training.tasks import get_task

    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(work)
    Path("mine.lpo").write_text(MINE)
    save_preferences(get_task("add").examples("train", 24, seed=0), Path("prefs.jsonl"))
    args = ["--data", "prefs.jsonl", "--loss", "mine.lpo:mine", *TINY]
    assert run("train", *args, "--steps", 4, "--out", "full").exit_code == 0
    assert run("train", *args, "--steps", 2, "--out", "cut").exit_code == 0
    monkeypatch.chdir(tmp_path / "elsewhere")
    res = run("train", "--out", "../work/cut", "--resume", "--steps", 4)
    assert res.exit_code == 0, res.output
    assert records(work / "cut") == records(work / "full")
    assert resume_config(work / "cut").data == str(work / "prefs.jsonl")


def test_resume_refuses_a_changed_preference_file(tmp_path):
    from logicpo.training.data import save_preferences
    from logicpo.training.tasks import get_task

    data = tmp_path / "prefs.jsonl"
    save_preferences(get_task("add").examples("train", 24, seed=0), data)
    cfg = tiny(tmp_path / "r", task=None, data=str(data), steps=2)
    train(cfg)
    save_preferences(get_task("add").examples("train", 24, seed=1), data)
    with pytest.raises(UsageError, match="preference file .* changed since the run started"):
        train(cfg.replace(resume=True, steps=4))


# ------------------------------------------------------------ item 4: --out never replaces


def test_train_onto_an_existing_run_is_refused_and_changes_nothing(tmp_path):
    out = tmp_path / "r"
    assert run("train", "--task", "sort", "--loss", "CPO", "--steps", 2, "--out", out,
               *TINY).exit_code == 0
    before = snapshot(out)
    res = run("train", "--task", "sort", "--loss", "sigmoid", "--steps", 2, "--out", out, *TINY)
    assert res.exit_code == 2
    assert "already holds a run" in said(res) and "--overwrite" in said(res)
    assert snapshot(out) == before
    with pytest.raises(UsageError, match="already holds a run"):
        train(tiny(out, steps=2))
    assert snapshot(out) == before
    # --overwrite replaces it, and says so only by doing what was asked
    res = run("train", "--task", "sort", "--loss", "sigmoid", "--steps", 2, "--out", out,
              *TINY, "--overwrite", "--json")
    assert res.exit_code == 0, res.output
    assert load_checkpoint(out / "ckpt.pt")["loss_spec"] == "sigmoid"
    assert sorted(p.name for p in out.iterdir()) == \
        ["ckpt.pt", "config.json", "metrics.jsonl", "summary.json"]


def test_resume_and_overwrite_together_is_a_usage_error(tmp_path):
    res = run("train", "--task", "sort", "--steps", 2, "--out", tmp_path / "r", *TINY,
              "--resume", "--overwrite")
    assert res.exit_code == 2 and "give one of them" in said(res)


def test_sweep_onto_a_sweep_with_other_losses_is_refused_before_training(tmp_path):
    out = tmp_path / "s"
    assert run("sweep", "--losses", "CPO,sigmoid", "--task", "sort", "--steps", 2,
               "--out", out, *TINY, "--json").exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    res = run("sweep", "--losses", "simpo,sigmoid", "--task", "sort", "--steps", 2,
              "--out", out, *TINY)
    assert res.exit_code == 2 and "other settings" in said(res)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not (out / "simpo").exists()          # nothing trained before the refusal
    res = run("sweep", "--losses", "simpo", "--task", "sort", "--steps", 2, "--out", out,
              *TINY, "--overwrite", "--json")
    assert res.exit_code == 0, res.output
    assert [r["label"] for r in json.loads((out / "sweep.json").read_text())["runs"]] == ["simpo"]


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_out_that_is_a_file_is_a_clear_error(tmp_path, command):
    afile = tmp_path / "afile"
    afile.write_text("keep me\n")
    loss = ["--loss", "CPO"] if command == "train" else ["--losses", "CPO"]
    for out in (afile, afile / "sub"):
        res = run(command, "--task", "sort", *loss, "--steps", 2, "--out", out, *TINY)
        assert res.exit_code == 1, res.output
        assert "is a file, not a directory" in said(res)
    assert afile.read_text() == "keep me\n"


# ------------------------------------------------------------ item 8: Ctrl-C in the warm-up


def test_a_warm_up_interrupted_by_ctrl_c_is_resumed_by_redoing_it(tmp_path):
    train(tiny(tmp_path / "full"))
    cut = tiny(tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        train(cut, ctrl_c_at("sft", "sft_step", 2))
    assert not (tmp_path / "cut" / "ckpt.pt").exists()
    resumed = resume_config(cut.out)
    assert resumed == cut
    train(resumed.replace(resume=True))
    assert records(cut.out) == records(tmp_path / "full")


# ------------------------------------------------------------ item 9: the run's seconds


def test_summary_reports_the_whole_run_and_its_phases(tmp_path):
    """Phases are measured apart and add up to at most the whole run (the old `seconds` was
    the preference loop alone, less than the SFT warm-up of a long warm-up)."""
    result = train(tiny(tmp_path / "r", sft_steps=30, steps=2))
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    phases = summary["phases"]
    assert list(phases) == ["setup", "sft", "reference", "preference", "eval", "checkpoint"]
    assert all(v >= 0 for v in phases.values())
    assert sum(result.phases.values()) <= result.seconds
    assert summary["seconds"] == round(result.seconds, 3)
    assert result.seconds > result.phases["sft"] + result.phases["preference"]
    res = run("train", "--task", "sort", "--loss", "CPO", "--steps", 2, "--out",
              tmp_path / "cli", *TINY)
    assert res.exit_code == 0 and "setup" in said(res) and "SFT" in said(res)


# ------------------------------------------------------------ item 10: one run per directory


def test_a_second_run_into_a_directory_in_use_is_refused(tmp_path):
    """Another process holds the run directory: the second run stops before writing."""
    out = tmp_path / "r"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from logicpo.training.run_dir import RunLock\n"
         f"with RunLock({str(out)!r}):\n    print('locked', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        res = run("train", "--task", "sort", "--loss", "CPO", "--steps", 2, "--out", out, *TINY)
        assert res.exit_code == 1
        assert f"is in use by another run (process {holder.pid})" in said(res)
        assert sorted(p.name for p in out.iterdir()) == [".lock"]
    finally:
        holder.communicate("")
    assert not out.exists()                       # released, and the holder made the dir


def test_a_lock_left_by_a_dead_process_does_not_block(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (out / ".lock").write_text(f"{dead}\n")
    result = train(tiny(out, steps=2))
    assert result.steps == 2 and not (out / ".lock").exists()


@pytest.mark.parametrize("field, value, message", [
    ("lr", float("inf"), "lr must be a finite number, not inf"),
    ("sft_lr", float("-inf"), "sft-lr must be a finite number"),
    ("grad_clip", float("nan"), "grad-clip must be a finite number"),
    ("weight_decay", float("inf"), "weight-decay must be a finite number"),
    ("weight_decay", -0.1, "weight-decay must not be negative"),
    ("grad_clip", 0.0, "grad-clip must be positive"),
])
def test_non_finite_and_out_of_domain_numbers_are_refused_up_front(tmp_path, field, value,
                                                                   message):
    cfg = tiny(tmp_path / "r", **{field: value})
    with pytest.raises(UsageError, match=message):
        train(cfg)
    assert not (tmp_path / "r").exists()


def test_lr_inf_on_the_command_line(tmp_path):
    res = run("train", "--task", "sort", "--loss", "CPO", "--steps", 2, "--lr", "inf",
              "--out", tmp_path / "r", *TINY)
    assert res.exit_code == 2 and "lr must be a finite number, not inf" in said(res)
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------ files go through logicpo.files


def test_a_checkpoint_under_a_file_is_an_output_error(tmp_path):
    from logicpo.files import OutputError
    from logicpo.training.checkpoint import save_checkpoint

    (tmp_path / "afile").write_text("")
    with pytest.raises(OutputError, match="is a file, not a directory"):
        save_checkpoint(tmp_path / "afile" / "ckpt.pt", {"step": 1})
    assert issubclass(OutputError, LogicpoError)


def test_resume_needs_nothing_but_the_run_directory(tmp_path, monkeypatch):
    """The loss's definitions come from an imported file; both files are deleted before the
    resume, which still equals the uninterrupted run. Definitions the loss does not use are
    not recorded."""
    monkeypatch.chdir(tmp_path)
    Path("base.lpo").write_text("formula w = M(yw)\nstructure unused { core: M(yl) }\n")
    Path("mine.lpo").write_text('import "base.lpo"\nstructure mine { core: M(yl) -> w }\n'
                                "objective obj = logistic(ref(mine), beta=0.5) + 0.2*sft\n")
    train(tiny("full", loss="mine.lpo:obj"))
    with pytest.raises(KeyboardInterrupt):
        train(tiny("cut", loss="mine.lpo:obj"), ctrl_c_at("step", "step", 3))
    Path("base.lpo").unlink()
    Path("mine.lpo").unlink()
    train(resume_config("cut").replace(resume=True))
    assert records("cut") == records("full")
    assert load_checkpoint(Path("cut", "ckpt.pt"))["loss_program"] == (
        "formula w = M(yw)\nstructure mine { core: M(yl) -> w }\n"
        "objective obj = logistic(ref(mine), beta=0.5) + 0.2*sft")


def test_a_checkpoint_without_a_recorded_loss_is_not_resumed(tmp_path):
    from logicpo.training.checkpoint import CheckpointError, save_checkpoint

    out = tmp_path / "r"
    train(tiny(out, steps=2))
    state = load_checkpoint(out / "ckpt.pt")
    for key in ("loss_program", "loss_code_sha256"):
        del state[key]
    save_checkpoint(out / "ckpt.pt", state)
    with pytest.raises(CheckpointError, match="before logicpo recorded a run's loss"):
        train(tiny(out, steps=4, resume=True))


def test_a_local_model_directory_is_recorded_as_an_absolute_path(tmp_path, monkeypatch):
    from logicpo.training.run_dir import absolute_paths

    monkeypatch.chdir(tmp_path)
    Path("m").mkdir()
    Path("m", "config.json").write_text("{}")
    cfg = absolute_paths(TrainConfig(task="sort", model="m"))
    assert cfg.model == str(tmp_path / "m")
    assert absolute_paths(TrainConfig(task="sort", model="tiny")).model == "tiny"


def test_a_sweep_with_a_mistyped_loss_trains_nothing(tmp_path):
    out = tmp_path / "s"
    res = run("sweep", "--losses", "CPO,CPOO", "--task", "sort", "--steps", 2, "--out", out,
              *TINY)
    assert res.exit_code in (1, 2) and "CPOO" in said(res)
    assert not out.exists()
