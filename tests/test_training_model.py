"""The tiny model, the byte tokenizer and sequence log-probs with the prompt masked."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from logicpo.errors import UsageError
from logicpo.training.data import PreferenceExample
from logicpo.training.logprobs import collate, encode_pairs, greedy_generate, sequence_logprobs
from logicpo.training.model import SIZES, ByteTokenizer, build_model, load_policy

torch.set_num_threads(1)
TOK = ByteTokenizer()


def model(size="nano", block=32):
    torch.manual_seed(0)
    return build_model(size, TOK.vocab_size, block).eval()


def test_byte_tokenizer_round_trips_unicode_and_drops_specials():
    text = "sort:3142= ✓"
    assert TOK.decode(TOK.encode(text)) == text
    assert TOK.decode([TOK.bos_id, *TOK.encode("ab"), TOK.eos_id, TOK.pad_id]) == "ab"


@pytest.mark.parametrize("size", sorted(SIZES))
def test_every_size_builds_and_predicts(size):
    m = model(size)
    assert m(torch.zeros((2, 5), dtype=torch.long)).shape == (2, 5, TOK.vocab_size)
    assert m.describe()["parameters"] > 0


def test_unknown_size_is_a_usage_error():
    with pytest.raises(UsageError) as info:
        build_model("tiiny")
    assert "did you mean 'tiny'" in info.value.hint


def test_logprobs_equal_a_hand_computation_over_response_tokens_only():
    """Sum over the response and EOS positions of log softmax(logits)[next token]."""
    m = model()
    pairs = encode_pairs([PreferenceExample("sort:21=", "12", "2")], TOK, 32)
    ids, mask = collate(pairs, [0], TOK.pad_id)
    logps, counts = sequence_logprobs(m, ids, mask)
    prompt_len = 1 + len("sort:21=")
    row = ids[0, : prompt_len + 3]                      # BOS prompt "1" "2" EOS
    logits = m(row[None, :-1])[0]
    expected = sum(F.log_softmax(logits[t - 1], -1)[row[t]] for t in range(prompt_len, len(row)))
    assert counts.tolist() == [3.0, 2.0]
    assert logps[0].item() == pytest.approx(expected.item(), abs=1e-5)


def test_padding_and_batch_neighbours_do_not_change_a_rows_logprobs():
    m = model()
    short = PreferenceExample("p=", "a", "b")
    long = PreferenceExample("a much longer prompt=", "abcdefgh", "x")
    alone = sequence_logprobs(m, *collate(encode_pairs([short], TOK, 32), [0]))[0]
    both = sequence_logprobs(m, *collate(encode_pairs([short, long], TOK, 32), [0, 1]))[0]
    assert torch.allclose(alone, both[[0, 2]], atol=1e-5)


def test_prompt_tokens_are_masked():
    m = model()
    a = encode_pairs([PreferenceExample("x=", "ab", "c")], TOK, 32)
    b = encode_pairs([PreferenceExample("a very different prompt=", "ab", "c")], TOK, 32)
    assert sequence_logprobs(m, *collate(a, [0]))[1].tolist() == \
        sequence_logprobs(m, *collate(b, [0]))[1].tolist() == [3.0, 2.0]


def test_pairs_longer_than_the_context_are_truncated_to_fit():
    pairs = encode_pairs([PreferenceExample("p" * 40, "r" * 40, "s")], TOK, block_size=16)
    p = pairs[0]
    assert len(p.chosen_prompt) + len(p.chosen) == 16
    assert len(p.rejected_prompt) + len(p.rejected) <= 16
    ids, mask = collate(pairs, [0])
    assert ids.shape[1] <= 16 and mask[0].sum() == 16 - len(p.chosen_prompt)


def test_greedy_generation_is_deterministic_and_stops_at_eos():
    m = model()
    prompts = ["sort:31=", "sort:2=", "sort:42="]
    a = greedy_generate(m, TOK, prompts, max_new_tokens=5)
    assert a == greedy_generate(m, TOK, prompts, max_new_tokens=5)
    assert len(a) == 3 and all(len(x.encode()) <= 5 for x in a)


def test_hugging_face_model_from_a_local_directory(tmp_path):
    # transformers comes with the trl extra that `make test` installs: a missing one fails here
    import transformers
    config = transformers.GPT2Config(vocab_size=300, n_positions=64, n_embd=32, n_layer=1,
                                     n_head=2)
    transformers.GPT2LMHeadModel(config).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["vocab_size"] == 300
    policy, tok = load_policy(str(tmp_path), block_size=64)
    assert isinstance(tok, ByteTokenizer)           # no tokenizer saved: bytes
    pairs = encode_pairs([PreferenceExample("sort:21=", "12", "2")], tok, policy.block_size)
    logps, counts = sequence_logprobs(policy, *collate(pairs, [0], tok.pad_id))
    assert counts.tolist() == [3.0, 2.0] and torch.isfinite(logps).all()

    from logicpo.training.config import TrainConfig
    from logicpo.training.loop import train

    result = train(TrainConfig(task="sort", task_train=16, task_val=4, model=str(tmp_path),
                               loss="sigmoid", steps=2, batch_size=4, sft_steps=1,
                               eval_every=2, eval_generate=2, out=str(tmp_path / "run")))
    assert result.steps == 2 and 0 <= result.final_eval["eval_task_reward"] <= 1
