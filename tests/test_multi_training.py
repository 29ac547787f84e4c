"""Training with more than two responses (issue 13): the data format, scoring exactly the
responses a loss reads, a gold-response loss that trains, the refusal of other models, and
the built-in tasks' gold and ranked rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from click.testing import CliRunner
from torch import nn

from logicpo.numbers.module import LossOutput
from logicpo.training import loop, run_dir
from logicpo.training.config import TrainConfig
from logicpo.training.data import DataError, PreferenceExample, load_preferences, save_preferences
from logicpo.training.loop import train
from logicpo.training.scoring import UnsupportedLossError
from logicpo.training.tasks import MAX_RESPONSES, TASKS, get_task

torch.set_num_threads(1)


# ------------------------------------------------------------ hand-written losses
class HandLoss(nn.Module):
    """A loss over any atoms, written by hand with the interface of a compiled one: it
    names its atoms and responses and takes ``logps=`` / ``lengths=``. ``formula`` maps the
    log-probs (by atom) and token counts (by response) to per-example losses."""

    uses_reference = False
    needs_lengths = True

    def __init__(self, atoms, formula, name="hand") -> None:
        super().__init__()
        self.atoms = tuple(atoms)
        self.responses = tuple(dict.fromkeys(a[a.index("(") + 1:-1] for a in self.atoms))
        self.uses_reference = any(a.startswith("Ref(") for a in self.atoms)
        self.formula, self.source, self.spec = formula, name, name
        self.calls = []

    def forward(self, *positional, logps=None, lengths=None):
        assert not positional, "a loss over more responses is called by name"
        assert set(logps) == set(self.atoms), (sorted(logps), self.atoms)
        assert set(lengths) == set(self.responses)
        shapes = {t.shape for t in (*logps.values(), *lengths.values())}
        assert len(shapes) == 1
        self.calls.append(sorted(logps))
        losses = self.formula(logps, lengths)                      # (B,)
        first = logps[self.atoms[0]].detach()
        return LossOutput(losses, first, logps[self.atoms[-1]].detach())


def tpo_formula(beta=1.0, alpha=1.0):
    """TPO (Saeidi et al. 2024) as its paper writes it: -logsigmoid(beta*(pc - pr)) -
    alpha * pg / ng, the logistic CPO term plus the length-normalised NLL of the gold."""
    def f(lp, n):
        return -F.logsigmoid(beta * (lp["M(yw)"] - lp["M(yl)"])) - alpha * lp["M(yg)"] / n["yg"]
    return f


def use_loss(monkeypatch, module):
    """Train ``module`` whatever --loss says (until .lpo files can declare responses)."""
    def resolve(spec, params):
        record = {"version": "test", "loss_spec": spec, "loss_source": module.source,
                  "loss_program": "", "loss_code_sha256": "0" * 64}
        return record, module
    monkeypatch.setattr(run_dir, "resolve_loss", resolve)
    return module


def config(tmp_path, name="run", **kw) -> TrainConfig:
    base = dict(model="nano", block_size=32, loss="hand", steps=4, batch_size=4,
                sft_steps=2, warmup_steps=1, eval_every=2, eval_generate=0, ckpt_every=2,
                out=str(tmp_path / name), threads=1, seed=0)
    return TrainConfig(**{**base, **kw})


def records(run) -> list[dict]:
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]


# ------------------------------------------------------------ the data format
def ranked(*texts, ranks=None):
    return [{"text": t, "rank": r} for t, r in zip(texts, ranks or range(1, len(texts) + 1),
                                                   strict=True)]


GOOD_ROWS = [
    {"prompt": "a", "chosen": "w", "rejected": "l", "gold": "g"},
    {"prompt": "b", "responses": ranked("w", "l", "l2"), "sampled": "s"},
]

BAD_ROWS = [  # (row, words of the message)
    ({"prompt": "p", "responses": ranked("x", "y", ranks=[1, 1])},
     "item 2 has rank 1, as item 1 does"),
    ({"prompt": "p", "responses": ranked("x", "y", ranks=[1, 3])},
     "has ranks 1, 3, without rank 2"),
    ({"prompt": "p", "responses": ranked("x", "y", ranks=[1, 2.5])},
     "item 2: 'rank' must be a whole number (1 = best), not 2.5"),
    ({"prompt": "p", "responses": ranked("x", "y", ranks=[1, "2"])},
     "'rank' must be a whole number"),
    ({"prompt": "p", "responses": ranked("x", "y", ranks=[0, 1])},
     "'rank' must be at least 1"),
    ({"prompt": "p", "responses": [{"text": "x", "rank": 1}, {"rank": 2}]},
     "item 2 has no 'text'"),
    ({"prompt": "p", "responses": [{"text": "x", "rank": 1}, {"text": "  ", "rank": 2}]},
     "item 2: 'text' is an empty response"),
    ({"prompt": "p", "responses": ranked("x")}, "a ranked list needs at least 2"),
    ({"prompt": "p", "responses": "x"}, "must be an array"),
    ({"prompt": "p", "chosen": "x", "responses": ranked("x", "y")},
     "gives both 'responses' and 'chosen'"),
    ({"prompt": "p", "chosen": "x", "rejected": "y", "gold": None},
     "field 'gold' must be a string, not null"),
    ({"prompt": "p", "chosen": "x", "rejected": "y", "sampled": ""},
     "field 'sampled' is an empty response"),
    ({"responses": ranked("x", "y")}, "no 'prompt' field"),
]


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_both_spellings_load_with_their_response_names(tmp_path):
    path = write_rows(tmp_path / "p.jsonl", GOOD_ROWS + [
        {"prompt": "c", "responses": ranked("B", "A", "C", ranks=[2, 1, 3]), "id": 3}])
    rows = load_preferences(path)
    assert [r.responses for r in rows] == [
        {"yw": "w", "yl": "l", "yg": "g"},
        {"yw": "w", "yl": "l", "yl2": "l2", "ys": "s"},
        {"yw": "A", "yl": "B", "yl2": "C"},                 # ordered by rank, not by place
    ]
    assert [r.line for r in rows] == [1, 2, 3]
    again = save_preferences(rows, tmp_path / "again.jsonl")
    assert again == 3 and load_preferences(tmp_path / "again.jsonl") == rows
    written = [json.loads(x) for x in (tmp_path / "again.jsonl").read_text().splitlines()]
    assert set(written[0]) == {"prompt", "chosen", "rejected", "gold"}
    assert written[2]["responses"] == ranked("A", "B", "C")


@pytest.mark.parametrize("row, words", BAD_ROWS)
def test_a_bad_multi_response_row_is_located_and_nothing_is_written(tmp_path, monkeypatch,
                                                                    row, words):
    use_loss(monkeypatch, HandLoss(("M(yw)", "M(yl)", "M(yg)"), tpo_formula()))
    path = write_rows(tmp_path / "bad.jsonl", [*GOOD_ROWS, row, GOOD_ROWS[0]])
    cfg = config(tmp_path, data=str(path))
    with pytest.raises(DataError) as info:
        train(cfg)
    assert words in info.value.message
    assert (info.value.span.file, info.value.span.line) == (str(path), 3)
    assert info.value.render().startswith(f"{path}:3:1: ")
    assert not Path(cfg.out).exists()


def test_the_cli_reports_a_bad_row_with_its_place_and_leaves_no_run(tmp_path):
    from logicpo.cli import main

    path = write_rows(tmp_path / "bad.jsonl", [GOOD_ROWS[1], BAD_ROWS[0][0]])
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["train", "--data", str(path), "--loss", "CPO",
                                    "--model", "nano", "--steps", "1", "--out", str(out)])
    assert res.exit_code == 1
    assert f"{path}:2:1: field 'responses', item 2 has rank 1" in res.output.replace("\n", "")
    assert not out.exists()


def test_a_row_without_a_response_the_loss_reads_is_named_before_training(tmp_path,
                                                                          monkeypatch):
    use_loss(monkeypatch, HandLoss(("M(yw)", "M(yl)", "M(yg)"), tpo_formula()))
    rows = [{"prompt": str(i), "chosen": "w", "rejected": "l", "gold": "g"} for i in range(6)]
    del rows[3]["gold"]
    path = write_rows(tmp_path / "p.jsonl", rows)
    cfg = config(tmp_path, data=str(path))
    with pytest.raises(DataError) as info:
        train(cfg)
    assert info.value.message == ("row has no response 'yg' (field 'gold'), which the loss "
                                  "reads (M(yg))")
    assert (info.value.span.file, info.value.span.line) == (str(path), 4)
    assert not Path(cfg.out).exists()


def test_a_task_without_the_response_says_which_option_gives_it(tmp_path, monkeypatch):
    use_loss(monkeypatch, HandLoss(("M(yw)", "M(yl)", "M(yl2)"), tpo_formula()))
    cfg = config(tmp_path, task="sort", task_train=8, task_val=2)
    with pytest.raises(DataError, match=r"row 1 of task 'sort' has no response 'yl2' "
                                        r"\(field rank 3 of 'responses'\)") as info:
        train(cfg)
    assert "--task-responses" in info.value.hint
    assert not Path(cfg.out).exists()


def test_a_response_no_field_fills_is_refused(tmp_path, monkeypatch):
    use_loss(monkeypatch, HandLoss(("M(yw)", "M(yx)"), tpo_formula()))
    with pytest.raises(DataError, match="no field of a preference row fills response 'yx'"):
        train(config(tmp_path, task="sort", task_train=8, task_val=2))
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------ scoring exactly what is read
class Seen:
    """Which responses each model scored: a forward hook that decodes every row."""

    def __init__(self, monkeypatch) -> None:
        self.rows: list[tuple[str, str]] = []   # (policy | reference, response letter)
        self.policy = None
        real = loop.load_policy

        def load(spec, block_size):
            policy, tok = real(spec, block_size)
            self.policy = policy

            def hook(module, args):
                who = "policy" if module is self.policy else "reference"
                for row in args[0].tolist():
                    text = tok.decode([i for i in row if i < 256])
                    self.rows.append((who, text.split(":", 1)[1][:1]))
            policy.register_forward_pre_hook(hook)
            return policy, tok
        monkeypatch.setattr(loop, "load_policy", load)

    def count(self, who: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for w, letter in self.rows:
            if w == who:
                out[letter] = out.get(letter, 0) + 1
        return out


def five_response_file(tmp_path, n=10):
    """Rows with every response: W (yw), L (yl), G (yg), S (ys), X (yl2), by first letter."""
    rows = [{"prompt": f"p{i}:", "responses": ranked(f"W{i}", f"L{i}", f"X{i}"),
             "gold": f"G{i}", "sampled": f"S{i}"} for i in range(n)]
    return write_rows(tmp_path / "five.jsonl", rows)


@pytest.mark.parametrize("reference", ["precompute", "online"])
def test_the_trainer_scores_exactly_the_responses_the_loss_reads(tmp_path, monkeypatch,
                                                                 reference):
    """The loss reads M(yw), M(yg) and Ref(ys): the policy scores only W and G rows (and W in
    the SFT warm-up), the reference only S rows; L and X (yl, yl2) are never scored.

    10 rows, val_fraction 0.1: 9 train, 1 val. 4 steps of batch 4, evaluations at steps 0,
    2, 4 on the 1 val row, 2 SFT steps of 4 chosen rows. Policy: W = 2*4 + 4*4 + 3*1 = 27,
    G = 4*4 + 3*1 = 19. Reference: precomputed once for 9 + 1 rows, or online per batch
    (4*4 + 3*1 = 19)."""
    seen = Seen(monkeypatch)
    loss = use_loss(monkeypatch, HandLoss(
        ("M(yw)", "M(yg)", "Ref(ys)"),
        lambda lp, n: -F.logsigmoid(lp["M(yw)"] - lp["M(yg)"] + lp["Ref(ys)"])))
    train(config(tmp_path, data=str(five_response_file(tmp_path)), reference=reference))
    assert seen.count("policy") == {"W": 27, "G": 19}
    assert seen.count("reference") == {"S": 10 if reference == "precompute" else 19}
    assert loss.calls and all(c == ["M(yg)", "M(yw)", "Ref(ys)"] for c in loss.calls)
    step = next(r for r in records(tmp_path / "run") if "loss" in r)
    assert {"logps/chosen", "logps/yg"} <= set(step) and "logps/rejected" not in step


def test_a_classic_loss_scores_yw_and_yl_only_and_ignores_the_other_responses(tmp_path,
                                                                             monkeypatch):
    """DPO on rows that also rank yl2 and give gold and sampled responses: the classic path,
    with exactly the metrics of the same rows written as chosen/rejected pairs."""
    seen = Seen(monkeypatch)
    five = five_response_file(tmp_path)
    pairs = [PreferenceExample(ex.prompt, ex.chosen, ex.rejected)
             for ex in load_preferences(five)]
    save_preferences(pairs, tmp_path / "pairs.jsonl")
    train(config(tmp_path, "five", data=str(five), loss="sigmoid"))
    assert set(seen.count("policy")) == {"W", "L"} and set(seen.count("reference")) == {"W", "L"}
    train(config(tmp_path, "pairs", data=str(tmp_path / "pairs.jsonl"), loss="sigmoid"))
    assert records(tmp_path / "five") == records(tmp_path / "pairs")


# ------------------------------------------------------------ a gold-response loss trains
def test_a_tpo_like_loss_with_a_gold_response_trains_and_its_loss_goes_down(tmp_path,
                                                                          monkeypatch):
    use_loss(monkeypatch, HandLoss(("M(yw)", "M(yl)", "M(yg)"), tpo_formula(), "TPO"))
    cfg = config(tmp_path, task="sort", task_train=64, task_val=16, task_gold=True,
                 steps=30, batch_size=8, sft_steps=0, lr=3e-3, eval_every=10,
                 eval_generate=4)
    result = train(cfg)
    evals = [r for r in records(cfg.out) if "eval_loss" in r]
    assert [r["step"] for r in evals] == [0, 10, 20, 30]
    assert evals[-1]["eval_loss"] < evals[0]["eval_loss"] - 0.5
    assert evals[-1]["eval_logps/yg"] > evals[0]["eval_logps/yg"]
    assert result.final_eval == evals[-1] and "eval_task_reward" in evals[-1]


def test_a_loss_over_a_third_model_is_refused_before_anything_is_written(tmp_path,
                                                                        monkeypatch):
    use_loss(monkeypatch, HandLoss(("M(yw)", "M(yl)", "Src(yw)"), tpo_formula(), "distil"))
    cfg = config(tmp_path, task="sort", task_train=8, task_val=2)
    with pytest.raises(UnsupportedLossError) as info:
        train(cfg)
    assert "reads Src(yw)" in info.value.message
    assert "not supported yet" in info.value.message
    assert not Path(cfg.out).exists()


def test_a_loss_that_reads_no_policy_log_prob_is_refused(tmp_path, monkeypatch):
    from logicpo.errors import UntrainableError

    use_loss(monkeypatch, HandLoss(("Ref(yw)", "Ref(yg)"), tpo_formula(), "frozen"))
    with pytest.raises(UntrainableError, match="reads no log-prob of the policy"):
        train(config(tmp_path, task="sort", task_train=8, task_val=2, task_gold=True))
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------ the built-in tasks
@pytest.mark.parametrize("name", sorted(TASKS))
@pytest.mark.parametrize("k", [3, 5, MAX_RESPONSES])
@pytest.mark.parametrize("gold", [False, True])
def test_a_task_ranks_k_distinct_responses_by_reward_and_its_gold_is_the_answer(name, k, gold):
    task = get_task(name)
    rows = task.examples("train", 40, seed=3, responses=k, gold=gold)
    assert rows == task.examples("train", 40, seed=3, responses=k, gold=gold)  # from the seed
    assert [r.prompt for r in rows] == [r.prompt for r in task.examples("train", 40, seed=3)]
    names = ["yw", "yl", *(f"yl{i}" for i in range(2, k))]
    for ex in rows:
        answer = task.answer(ex.prompt)
        assert set(ex.responses) == set(names) | ({"yg"} if gold else set())
        texts = [ex.responses[r] for r in names]
        assert len(set(texts)) == k and all(t.strip() for t in texts)
        rewards = [task.reward(ex.prompt, t) for t in texts]
        assert rewards == sorted(rewards, reverse=True)
        if gold:
            assert ex.responses["yg"] == answer and answer not in texts
        else:
            assert texts[0] == answer and answer not in texts[1:]
    pairs = [ex.to_json() for ex in rows]                       # what TRL's datasets get
    assert all(set(p) == {"prompt", "chosen", "rejected"} for p in pairs)
    assert [p["chosen"] for p in pairs] == [ex.responses["yw"] for ex in rows]


def test_task_rows_survive_the_jsonl_round_trip_and_the_data_command(tmp_path):
    from logicpo.cli import main

    out = tmp_path / "ranked.jsonl"
    res = CliRunner().invoke(main, ["data", "reverse", "-o", str(out), "-n", "12",
                                    "--responses", "4", "--gold", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["responses"] == ["yw", "yl", "yg", "yl2", "yl3"]
    rows = load_preferences(out)
    assert [r for r in rows] == get_task("reverse").examples("train", 12, responses=4,
                                                              gold=True)
    first = json.loads(out.read_text().splitlines()[0])
    assert set(first) == {"prompt", "responses", "gold"}
    assert [item["rank"] for item in first["responses"]] == [1, 2, 3, 4]
    check = CliRunner().invoke(main, ["data", "--check", str(out), "--json"])
    assert json.loads(check.output)["responses"] == {r: 12 for r in
                                                     ("yw", "yl", "yg", "yl2", "yl3")}


@pytest.mark.parametrize("kw, words", [
    (dict(task="sort", task_responses=1), "a task ranks 2 to 8 responses a row, not 1"),
    (dict(task="sort", task_responses=MAX_RESPONSES + 1), "not 9"),
    (dict(data="x.jsonl", task_gold=True), "--task-responses and --task-gold shape"),
])
def test_task_response_options_are_checked(kw, words):
    from logicpo.errors import UsageError

    with pytest.raises(UsageError, match=words):
        TrainConfig(**kw).validate()
