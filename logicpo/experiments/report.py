"""One row per loss from the summaries of its runs: means, intervals, paired differences.

A row says what its loss is (the resolved objective, ``beta``, the normalisation) and which
reward definition its reward columns use, so that rows with different definitions are
never read as comparable. Every metric is the mean over seeds with a t interval
(:mod:`logicpo.experiments.stats`); against the baseline loss, the paired difference over
the seeds both have, its interval and a verdict.

>>> describe_loss({"beta": 0.1, "normalize": None}, uses_reference=True, needs_lengths=False)
'0.1*(logp - ref logp), summed'
>>> describe_loss({"beta": 1.0, "normalize": "length"}, uses_reference=False, needs_lengths=True)
'1*logp, per token'
"""

from __future__ import annotations

from dataclasses import dataclass

from logicpo.experiments.stats import Interval, mean_interval, paired_difference


@dataclass(frozen=True)
class Metric:
    key: str             # the key of a row's metric (and of sweep.json)
    title: str           # the table's column
    higher_is_better: bool | None   # None: a direction is no verdict (log-probs of the loser)

    def of(self, summary: dict) -> float | None:
        first, final = summary.get("first_eval", {}), summary.get("final_eval", {})
        if self.key == "task_reward":
            return final.get("eval_task_reward")
        if self.key == "exact_match":
            return final.get("eval_exact_match")
        if self.key == "accuracy":
            return final.get("eval_rewards/accuracies")
        side = {"delta_logp_chosen": "chosen", "delta_logp_rejected": "rejected"}[self.key]
        k = f"eval_logps/{side}"
        return final[k] - first[k] if k in final and k in first else None


METRICS = (Metric("task_reward", "task reward", True), Metric("exact_match", "exact match", True),
           Metric("accuracy", "pref. accuracy", True),
           Metric("delta_logp_chosen", "Δ logp winner", True),
           Metric("delta_logp_rejected", "Δ logp loser", None))
#: The metric a verdict is about unless the caller asks for another.
PRIMARY = "task_reward"


def describe_loss(params: dict, *, uses_reference: bool, needs_lengths: bool) -> str:
    """The reward definition of a loss's ``rewards/*`` columns (see docs/api.md#rewards)."""
    beta = params.get("beta", 1.0)
    beta = f"{beta:g}"
    core = f"{beta}*(logp - ref logp)" if uses_reference else f"{beta}*logp"
    return f"{core}, {'per token' if needs_lengths else 'summed'}"


def loss_info(spec: str, params: dict | None = None) -> dict:
    """What a row shows of a loss: resolved source, beta, normalisation, reward definition
    (compiles the loss: imports torch)."""
    from logicpo.training.run_dir import resolve_loss

    record, module = resolve_loss(spec, params or {})
    p = dict(module.params)
    return {"source": record["loss_source"], "beta": p.get("beta"),
            "normalize": p.get("normalize") or "none",
            "reward": describe_loss(p, uses_reference=module.uses_reference,
                                    needs_lengths=module.needs_lengths)}


def rows(losses: list[dict], seeds: list[int], summaries: dict[tuple[str, int], dict],
         baseline: str) -> list[dict]:
    """One row per entry of ``losses`` (``{"label", "spec", ...loss_info}``), from the
    summaries of its runs (keyed by ``(label, seed)``; missing runs are left out)."""
    values = {(loss["label"], m.key): {s: m.of(summaries[(loss["label"], s)]) for s in seeds
                                       if (loss["label"], s) in summaries}
              for loss in losses for m in METRICS}
    out = []
    for loss in losses:
        label = loss["label"]
        row = {**loss, "seeds": [s for s in seeds if (label, s) in summaries],
               "runs": [summaries[(label, s)]["out"] for s in seeds if (label, s) in summaries],
               "metrics": {}, "vs_baseline": {}}
        falls = [s for s in row["seeds"] if (values[(label, "delta_logp_chosen")][s] or 0) < 0]
        row["winner_falls"] = f"{len(falls)}/{len(row['seeds'])}"
        for m in METRICS:
            mine = {s: v for s, v in values[(label, m.key)].items() if v is not None}
            if mine:
                row["metrics"][m.key] = mean_interval(list(mine.values())).to_json()
            if label == baseline:
                continue
            base = {s: v for s, v in values[(baseline, m.key)].items() if v is not None}
            common = [s for s in seeds if s in mine and s in base]
            if not common:
                continue
            diff = paired_difference([mine[s] for s in common], [base[s] for s in common])
            row["vs_baseline"][m.key] = {
                **diff.to_json(), "seeds": common,
                "verdict": diff.verdict(m.higher_is_better) if m.higher_is_better is not None
                else _direction(diff)}
        out.append(row)
    return out


def _direction(diff: Interval) -> str:
    if diff.low is None:
        return "one seed"
    return "higher" if diff.low > 0 else "lower" if diff.high < 0 else "not distinguishable"


def interval(d: dict | None) -> Interval | None:
    """An :class:`Interval` back from its JSON."""
    if not d:
        return None
    return Interval(d["mean"], d["low"], d["high"], d["n"], d["sd"])
