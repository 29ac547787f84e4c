"""Intervals and paired differences against numbers computed by hand (and t tables)."""

from __future__ import annotations

import math

import pytest

from logicpo.experiments.report import METRICS, describe_loss, rows
from logicpo.experiments.stats import mean_interval, paired_difference, t_cdf, t_quantile


@pytest.mark.parametrize(("df", "table"), [(1, 12.7062), (2, 4.3027), (3, 3.1824),
                                           (4, 2.7764), (9, 2.2622), (29, 2.0452)])
def test_t_quantiles_match_the_printed_table(df, table):
    """97.5% points of Student's t, from any statistics textbook's table (4 decimals)."""
    assert t_quantile(0.975, df) == pytest.approx(table, abs=6e-5)
    assert t_cdf(table, df) == pytest.approx(0.975, abs=1e-5)
    assert t_quantile(0.025, df) == pytest.approx(-table, abs=6e-5)


def test_t_with_many_degrees_of_freedom_approaches_the_normal():
    assert t_quantile(0.975, 100_000) == pytest.approx(1.959964, abs=1e-4)
    assert t_cdf(0.0, 5) == pytest.approx(0.5, abs=1e-12)


def test_mean_interval_of_four_values_by_hand():
    """x = 0.50, 0.55, 0.60, 0.65: mean 0.575; squared deviations sum to
    2 * 0.075^2 + 2 * 0.025^2 = 0.0125, s^2 = 0.0125 / 3, s = 0.0645497,
    standard error s / 2 = 0.0322749, t(0.975, 3) = 3.182446, half-width 0.102714."""
    iv = mean_interval([0.50, 0.55, 0.60, 0.65])
    assert iv.mean == pytest.approx(0.575, abs=1e-12)
    assert iv.sd == pytest.approx(0.0645497, abs=1e-7)
    assert iv.low == pytest.approx(0.575 - 0.102714, abs=1e-6)
    assert iv.high == pytest.approx(0.575 + 0.102714, abs=1e-6)
    assert iv.text() == "0.575 ± 0.103"


def test_paired_difference_that_includes_zero_by_hand():
    """d = (0.62-0.55, 0.58-0.54, 0.71-0.60) = (0.07, 0.04, 0.11): mean 0.073333,
    squared deviations 0.0000111 + 0.0011111 + 0.0013444 = 0.0024667, s = 0.0351188,
    s/sqrt(3) = 0.0202759, t(0.975, 2) = 4.302653: half-width 0.087240, so the interval
    (-0.01391, 0.16057) holds 0."""
    d = paired_difference([0.62, 0.58, 0.71], [0.55, 0.54, 0.60])
    assert d.mean == pytest.approx(0.0733333, abs=1e-6)
    assert d.low == pytest.approx(-0.013907, abs=1e-5)
    assert d.high == pytest.approx(0.160573, abs=1e-5)
    assert d.verdict() == "not distinguishable"


def test_paired_difference_that_excludes_zero_by_hand():
    """d = (0.05, 0.06, 0.04, 0.05, 0.05): mean 0.05, squared deviations sum to 0.0002,
    s = sqrt(0.00005) = 0.0070711, s/sqrt(5) = 0.0031623, t(0.975, 4) = 2.776445:
    half-width 0.0087798, interval (0.041220, 0.058780): better, and worse when lower is
    better."""
    x = [0.55, 0.61, 0.44, 0.35, 0.80]
    y = [a - b for a, b in zip(x, [0.05, 0.06, 0.04, 0.05, 0.05], strict=True)]
    d = paired_difference(x, y)
    assert d.low == pytest.approx(0.041220, abs=1e-5)
    assert d.high == pytest.approx(0.058780, abs=1e-5)
    assert d.verdict() == "better"
    assert d.verdict(higher_is_better=False) == "worse"
    assert paired_difference(y, x).verdict() == "worse"


def test_one_seed_has_no_interval_and_no_verdict():
    iv = mean_interval([0.3])
    assert (iv.mean, iv.low, iv.high) == (0.3, None, None)
    assert iv.verdict() == "one seed"
    with pytest.raises(ValueError, match="equal lengths"):
        paired_difference([1.0], [1.0, 2.0])


def test_pairing_removes_the_variation_both_losses_share():
    """Seeds that move both losses alike: unpaired intervals overlap widely, the paired one
    excludes 0 (d = 0.02 every seed but one, 0.03)."""
    base = [0.2, 0.5, 0.8, 0.35]
    mine = [0.22, 0.52, 0.83, 0.37]
    a, b = mean_interval(mine), mean_interval(base)
    assert a.low < b.high  # overlapping
    assert paired_difference(mine, base).verdict() == "better"


def _summary(out, task, d_chosen):
    return {"out": out, "first_eval": {"eval_logps/chosen": -5.0, "eval_logps/rejected": -9.0},
            "final_eval": {"eval_task_reward": task, "eval_exact_match": 0.0,
                           "eval_rewards/accuracies": 1.0,
                           "eval_logps/chosen": -5.0 + d_chosen, "eval_logps/rejected": -12.0}}


def test_rows_pair_by_seed_and_leave_out_missing_runs():
    """Baseline b: task rewards 0.4, 0.5, 0.6 (seeds 0, 1, 2); loss a: 0.45, 0.56 with
    seed 2 missing, so the pair is over seeds 0 and 1: d = (0.05, 0.06), mean 0.055,
    s = 0.0070711, s/sqrt(2) = 0.005, t(0.975, 1) = 12.7062: half-width 0.063531."""
    losses = [{"label": "b", "spec": "sigmoid"}, {"label": "a", "spec": "CPO"}]
    summaries = {("b", 0): _summary("b0", 0.4, -1.0), ("b", 1): _summary("b1", 0.5, 1.0),
                 ("b", 2): _summary("b2", 0.6, -2.0), ("a", 0): _summary("a0", 0.45, 0.5),
                 ("a", 1): _summary("a1", 0.56, -0.5)}
    base, mine = rows(losses, [0, 1, 2], summaries, "b")
    assert base["seeds"] == [0, 1, 2] and base["vs_baseline"] == {}
    assert base["winner_falls"] == "2/3" and mine["winner_falls"] == "1/2"
    d = mine["vs_baseline"]["task_reward"]
    assert d["seeds"] == [0, 1] and d["mean"] == pytest.approx(0.055)
    assert d["high"] - d["mean"] == pytest.approx(0.063531, abs=1e-5)
    assert d["verdict"] == "not distinguishable"
    assert mine["metrics"]["task_reward"]["mean"] == pytest.approx(0.505)
    # the loser's log-prob has no "better", only a direction; here it fell by 3 for all
    assert mine["vs_baseline"]["delta_logp_rejected"]["verdict"] == "not distinguishable"
    assert mine["vs_baseline"]["delta_logp_chosen"]["verdict"] == "not distinguishable"
    assert {m.key for m in METRICS} <= set(base["metrics"])
    assert not math.isnan(base["metrics"]["delta_logp_chosen"]["mean"])


def test_reward_definitions_name_reference_beta_and_normalisation():
    assert describe_loss({"beta": 0.1}, uses_reference=True, needs_lengths=False) == \
        "0.1*(logp - ref logp), summed"
    assert describe_loss({"beta": 2.0}, uses_reference=False, needs_lengths=True) == \
        "2*logp, per token"
