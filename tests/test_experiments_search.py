"""logicpo search on a tiny budget: deterministic, resumable, never the same function twice."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import logicpo
from logicpo.cli import main
from logicpo.experiments.search import Budget, search
from logicpo.training.config import TrainConfig

torch.set_num_threads(1)
TINY = dict(task="sort", task_train=32, task_val=8, model="nano", block_size=32, batch_size=4,
            sft_steps=2, warmup_steps=1, eval_every=2, eval_generate=4, ckpt_every=2,
            threads=1, steps=2)
SEARCH = dict(start="CPO", budget=Budget(runs=30), seeds=[0, 1], short_steps=1, rounds=2)


def board_view(board: dict) -> list:
    """A leaderboard without paths (two searches in two directories)."""
    return [(r["name"], r["round"], r["parent"], r["rung"], r["difference"], r["verdict"],
             r["definition"]) for r in board["candidates"]]


@pytest.fixture(scope="module")
def cpo_search(tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "cpo"
    return search(TrainConfig(**TINY, out=str(out)), **SEARCH)


def test_search_explores_two_rounds_within_its_budget(cpo_search):
    board = cpo_search
    assert board["runs_used"] <= 30 and board["complete"]
    rounds = {r["round"] for r in board["candidates"] if r["rung"] is not None}
    assert rounds == {1, 2}
    assert board["start"] == "logistic(CPO, beta=0.1)"
    assert all("logistic(" in r["definition"] and "beta=0.1" in r["definition"]
               for r in board["candidates"])
    named = {r["name"]: r["same_loss_as"] for r in board["candidates"]}
    # CPO with FF counted against it is sCE, with TT only for it cCPO (spec section 5)
    assert named["CPO_FF_bad"] == ["sCE"]
    assert named["CPO_TT_ok"] == ["cCPO"]
    rung1 = [r for r in board["candidates"] if r["rung"] == 1]
    assert rung1 and all(r["difference"]["n"] == 2 for r in rung1)


def test_leaderboard_differences_are_paired_by_seed_from_the_runs_on_disk(cpo_search):
    """The difference of a rung-1 candidate, recomputed from the summaries: with two seeds
    the t half-width is t(0.975, 1) * |d0 - d1| / 2 = 12.7062 * |d0 - d1| / 2."""
    out = Path(cpo_search["out"])
    r = next(r for r in cpo_search["candidates"] if r["rung"] == 1)

    def reward(name, seed):
        path = out / "runs" / name / f"rung1-seed{seed}" / "summary.json"
        return json.loads(path.read_text())["final_eval"]["eval_task_reward"]

    d = [reward(r["name"], s) - reward("CPO_start", s) for s in (0, 1)]
    assert r["difference"]["mean"] == pytest.approx(sum(d) / 2)
    assert r["difference"]["high"] - r["difference"]["mean"] == pytest.approx(
        12.7062 * abs(d[0] - d[1]) / 2, rel=1e-4, abs=1e-12)


def test_no_two_evaluated_losses_compute_the_same_function(cpo_search):
    """Every candidate that was trained (and the start) as a loss module, evaluated at
    random log-probs (per-token, where 1 - w is not 1) in float64: no two agree everywhere."""
    start = Path(cpo_search["out"]) / "losses" / "CPO_start.lpo"
    specs = [f"{start}:CPO_start_loss"] + [r["spec"] for r in cpo_search["candidates"]
                                           if r["rung"] is not None]
    gen = torch.Generator().manual_seed(0)
    pc, pr = (-3 * torch.rand(16, generator=gen, dtype=torch.float64) for _ in range(2))
    values = [logicpo.loss(spec)(pc, pr).losses for spec in specs]
    for (i, a), (j, b) in itertools.combinations(enumerate(values), 2):
        assert not torch.allclose(a, b, rtol=1e-9, atol=1e-12), (specs[i], specs[j])
    # round 2 starts from a neighbour of CPO, one of whose 12 own neighbours (the edit
    # back) is CPO itself: that one is not a candidate again
    round2 = [r for r in cpo_search["candidates"] if r["round"] == 2]
    assert 0 < len(round2) <= 11


def test_search_is_deterministic_for_a_fixed_seed(cpo_search, tmp_path):
    again = search(TrainConfig(**TINY, out=str(tmp_path / "again")), **SEARCH)
    assert board_view(again) == board_view(cpo_search)


def test_rerunning_a_search_trains_nothing_and_says_when_nothing_beats_the_start(cpo_search):
    out = Path(cpo_search["out"])
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("summary.json")}
    res = CliRunner().invoke(main, ["search", "--start", "CPO", "--budget", "30", "--seeds",
                                    "0,1", "--short-steps", "1", "--rounds", "2",
                                    "--out", str(out), "--no-progress", "--json",
                                    *[a for k, v in TINY.items() for a in
                                      (f"--{k.replace('_', '-')}", str(v))]],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    board = json.loads(res.output)
    assert board_view(board) == board_view(cpo_search)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("summary.json")} == stamps
    assert (out / "search.png").is_file()
    if not any(r["verdict"] == "better" for r in board["candidates"]):
        assert board["conclusion"].startswith("no candidate beat logistic(CPO, beta=0.1) on "
                                              "task reward beyond noise")


def test_search_refuses_a_sweep_directory_and_other_settings(cpo_search, tmp_path):
    out = Path(cpo_search["out"])
    with pytest.raises(logicpo.LogicpoError, match="other settings"):
        search(TrainConfig(**TINY, out=str(out)), **{**SEARCH, "seeds": [0]})
    sweep_dir = tmp_path / "s"
    sweep_dir.mkdir()
    (sweep_dir / "manifest.json").write_text(json.dumps({"command": "sweep", "settings": {},
                                                         "runs": {}}))
    with pytest.raises(logicpo.LogicpoError, match="`logicpo sweep` directory"):
        search(TrainConfig(**TINY, out=str(sweep_dir)), **SEARCH)


def test_budget_parsing_refuses_nonsense():
    assert Budget.parse("12runs") == Budget(runs=12)
    for bad in ("0", "1", "-3m", "soon", "infm"):
        with pytest.raises(logicpo.LogicpoError, match="budget"):
            Budget.parse(bad)


def test_an_interrupted_search_continues_to_the_same_leaderboard(cpo_search, tmp_path):
    cfg = TrainConfig(**TINY, out=str(tmp_path / "cut"))
    seen = []

    def ctrl_c(kind, rec):  # Ctrl-C inside the 9th run's training
        seen.append(kind)
        if seen.count("run") == 9 and kind == "step":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        search(cfg, **SEARCH, on_event=ctrl_c)
    assert board_view(search(cfg, **SEARCH)) == board_view(cpo_search)


def test_confirm_retrains_the_best_on_fresh_seeds_and_concludes_from_them(tmp_path):
    """--confirm 2 with seeds 0, 1: the two best rung-1 candidates and the start again on
    seeds 2 and 3; the confirmation is their paired difference, recomputed here from the
    rung-2 summaries (n = 2: half-width 12.7062 * |d2 - d3| / 2)."""
    out = tmp_path / "confirm"
    board = search(TrainConfig(**TINY, out=str(out)), **{**SEARCH, "budget": Budget(runs=14),
                                                         "rounds": 1}, confirm=2)
    tested = [r for r in board["candidates"] if "confirmation" in r]
    assert 1 <= len(tested) <= 2 and all(r["rung"] == 1 for r in tested)

    def reward(name, seed):
        path = out / "runs" / name / f"rung2-seed{seed}" / "summary.json"
        return json.loads(path.read_text())["final_eval"]["eval_task_reward"]

    for r in tested:
        c = r["confirmation"]
        d = [reward(r["name"], s) - reward("CPO_start", s) for s in (2, 3)]
        assert c["seeds"] == [2, 3] and c["mean"] == pytest.approx(sum(d) / 2)
        assert c["high"] - c["mean"] == pytest.approx(12.7062 * abs(d[0] - d[1]) / 2,
                                                      rel=1e-4, abs=1e-12)
    assert "on fresh seeds [2, 3]" in board["conclusion"]
    assert board["runs_used"] > 14  # the confirmation comes after the budget, and says so
    assert any("confirmation" in n for n in board["notes"])
