"""Sweeps with seeds: the table, resuming after an interruption, --report, --jobs and Ray."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from logicpo.cli import main
from logicpo.experiments.sweep import report, sweep
from logicpo.training.config import TrainConfig

torch.set_num_threads(1)
TINY = dict(task="sort", task_train=32, task_val=8, model="nano", block_size=32, batch_size=4,
            sft_steps=2, warmup_steps=1, eval_every=2, eval_generate=4, ckpt_every=2,
            threads=1, steps=4)
TINY_ARGS = ["--task", "sort", "--task-train", "32", "--task-val", "8", "--model", "nano",
             "--block-size", "32", "--batch-size", "4", "--sft-steps", "2", "--warmup-steps",
             "1", "--eval-every", "2", "--eval-generate", "4", "--ckpt-every", "2",
             "--threads", "1", "--steps", "4", "--no-progress"]
LOSSES = ["sigmoid", "CPO"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def table(rep: dict) -> list:
    """What a reader compares: every row's metrics and paired differences."""
    return [(r["label"], r["seeds"], r["metrics"], r["vs_baseline"], r["winner_falls"])
            for r in rep["runs"]]


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


class Interrupt:
    """An on_event that raises KeyboardInterrupt (Ctrl-C) at the n-th event of a kind."""

    def __init__(self, kind: str, n: int) -> None:
        self.kind, self.n, self.seen = kind, n, 0

    def __call__(self, kind, rec):
        if kind == self.kind:
            self.seen += 1
            if self.seen == self.n:
                raise KeyboardInterrupt


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "sweep"
    return sweep(TrainConfig(**TINY, out=str(out)), LOSSES, seeds=[0, 1])


def test_a_sweep_with_seeds_reports_intervals_and_paired_differences(uninterrupted):
    rep = uninterrupted
    out = Path(rep["out"])
    assert rep["seeds"] == [0, 1] and rep["baseline"] == "sigmoid" and rep["missing"] == []
    base, cpo = rep["runs"]
    assert [r["label"] for r in rep["runs"]] == LOSSES
    assert base["runs"] == [str(out / "sigmoid" / "seed0"), str(out / "sigmoid" / "seed1")]
    # like for like: each row says what it trained and what its rewards are
    assert (base["source"], base["beta"], base["reward"]) == \
        ("logistic(DPO, beta=0.1)", 0.1, "0.1*(logp - ref logp), summed")
    assert (cpo["source"], cpo["beta"], cpo["reward"]) == ("logistic(CPO, beta=1)", 1.0,
                                                           "1*logp, summed")
    # the interval and the paired difference, recomputed here from the runs' summaries
    task = [json.loads((out / "CPO" / f"seed{s}" / "summary.json").read_text())
            ["final_eval"]["eval_task_reward"] for s in (0, 1)]
    dpo = [json.loads((out / "sigmoid" / f"seed{s}" / "summary.json").read_text())
           ["final_eval"]["eval_task_reward"] for s in (0, 1)]
    iv = cpo["metrics"]["task_reward"]
    half = 12.7062 * abs(task[0] - task[1]) / 2  # n = 2: s/sqrt(2) = |x0 - x1| / 2
    assert iv["mean"] == pytest.approx(sum(task) / 2)
    assert iv["high"] - iv["mean"] == pytest.approx(half, rel=1e-4)
    d = [a - b for a, b in zip(task, dpo, strict=True)]
    vs = cpo["vs_baseline"]["task_reward"]
    assert vs["mean"] == pytest.approx(sum(d) / 2)
    assert vs["high"] - vs["mean"] == pytest.approx(12.7062 * abs(d[0] - d[1]) / 2, rel=1e-4,
                                                    abs=1e-12)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "sweep" and len(manifest["runs"]) == 4


def test_rerunning_the_same_sweep_trains_nothing_and_gives_the_same_table(uninterrupted):
    out = Path(uninterrupted["out"])
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("summary.json")}
    events = []
    again = sweep(TrainConfig(**TINY, out=str(out)), LOSSES, seeds=[0, 1],
                  on_event=lambda kind, rec: events.append(kind))
    assert table(again) == table(uninterrupted)
    assert "run" not in events and events.count("skip") == 4
    assert {p: p.stat().st_mtime_ns for p in out.rglob("summary.json")} == stamps
    assert table(report(out)) == table(uninterrupted)


@pytest.mark.parametrize(("kind", "n"), [("run", 3),      # between runs: before the third
                                         ("step", 7)])    # inside the second run, at step 3
def test_an_interrupted_sweep_continues_to_the_same_table(tmp_path, uninterrupted, kind, n):
    cfg = TrainConfig(**TINY, out=str(tmp_path / "sweep"))
    with pytest.raises(KeyboardInterrupt):
        sweep(cfg, LOSSES, seeds=[0, 1], on_event=Interrupt(kind, n))
    assert report(cfg.out)["missing"]  # some runs are not finished yet
    resumed = sweep(cfg, LOSSES, seeds=[0, 1])
    assert table(resumed) == table(uninterrupted)
    full = Path(uninterrupted["out"])
    for run in ("sigmoid/seed0", "sigmoid/seed1", "CPO/seed0", "CPO/seed1"):
        assert records(tmp_path / "sweep" / run) == records(full / run)


def test_a_sweep_with_other_settings_or_made_by_another_command_is_refused(uninterrupted,
                                                                          tmp_path):
    out = Path(uninterrupted["out"])
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    res = run("sweep", "--losses", "sigmoid,simpo", "--seeds", "0,1", *TINY_ARGS, "--out", out)
    assert res.exit_code == 2 and "other settings" in res.output
    res = run("sweep", "--losses", "sigmoid,CPO", "--seeds", "3", *TINY_ARGS, "--out", out)
    assert res.exit_code == 2 and "seeds" in res.output
    assert {p: p.read_bytes() for p in out.rglob("*")
            if p.is_file() and p.name != ".lock"} == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"command": "search", "settings": {},
                                                     "runs": {}}))
    res = run("sweep", "--losses", "CPO", *TINY_ARGS, "--out", other)
    assert res.exit_code == 2 and "`logicpo search` directory" in res.output


def test_sweep_report_rebuilds_table_and_plot_from_disk(uninterrupted):
    out = Path(uninterrupted["out"])
    (out / "sweep.json").unlink()
    (out / "sweep.png").unlink(missing_ok=True)  # the library writes no picture
    res = run("sweep", "--report", out, "--json")
    assert res.exit_code == 0, res.output
    assert table(json.loads(res.output)) == table(uninterrupted)
    assert (out / "sweep.png").is_file() and (out / "sweep.json").is_file()
    res = run("sweep", "--report", out)
    assert res.exit_code == 0 and "mean ± 95% t interval" in res.output
    assert run("sweep", "--report", out.parent).exit_code == 2


def test_two_jobs_give_the_same_runs_as_one(tmp_path, uninterrupted):
    out = tmp_path / "jobs"
    res = run("sweep", "--losses", ",".join(LOSSES), "--seeds", 2, *TINY_ARGS, "--out", out,
              "--jobs", 2, "--json")
    assert res.exit_code == 0, res.output
    assert table(json.loads(res.output)) == table(uninterrupted)
    for run_ in ("sigmoid/seed0", "CPO/seed1"):
        assert records(out / run_) == records(Path(uninterrupted["out"]) / run_)


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmd:
            found.append(f"{pid}: {cmd[:120]}")
    return found


def test_the_ray_backend_gives_the_same_runs_and_leaves_no_process_behind(tmp_path,
                                                                          uninterrupted):
    """A local Ray started for the test (in its own temporary directory, so that its
    processes can be recognised), the same per-run metrics, and after shutdown no process
    that names that directory."""
    import ray  # the test environment has logicpo[ray] (Makefile): never skipped
    ray_tmp = tempfile.mkdtemp(prefix="lpo-ray-", dir="/tmp")  # short: socket path limit
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=ray_tmp,
             runtime_env={"env_vars": {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}})
    try:
        assert _processes_mentioning(ray_tmp)   # the test can see Ray's processes
        rep = sweep(TrainConfig(**TINY, out=str(tmp_path / "ray")), LOSSES, seeds=[0, 1],
                    backend="ray")
    finally:
        ray.shutdown()
    assert table(rep) == table(uninterrupted)
    assert records(tmp_path / "ray" / "CPO" / "seed1") == \
        records(Path(uninterrupted["out"]) / "CPO" / "seed1")
    deadline = time.time() + 20
    while _processes_mentioning(ray_tmp) and time.time() < deadline:
        time.sleep(0.2)
    assert _processes_mentioning(ray_tmp) == []
    subprocess.run(["rm", "-rf", ray_tmp], check=False)


def test_the_sweep_plot_never_overlays_margins_of_different_reward_definitions(uninterrupted):
    from logicpo.plots.runs import sweep_figure

    fig = sweep_figure(uninterrupted["runs"], title="t")
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    dpo = panels["reward margin, reward = 0.1*(logp - ref logp), summed"]
    cpo = panels["reward margin, reward = 1*logp, summed"]
    assert [t.get_text() for t in dpo.get_legend().get_texts()] == ["sigmoid (2 seeds)"]
    assert [t.get_text() for t in cpo.get_legend().get_texts()] == ["CPO (2 seeds)"]
    # comparable quantities share a panel: both losses, two thin lines and a mean each
    assert len(panels["task reward of greedy answers"].get_lines()) == 2 * (2 + 1)


def test_seed_and_seeds_together_are_refused(tmp_path):
    res = run("sweep", "--losses", "CPO", "--seeds", "2", "--seed", "3", *TINY_ARGS,
              "--out", tmp_path / "s")
    assert res.exit_code == 2 and "not both" in res.output
    assert not (tmp_path / "s").exists()
