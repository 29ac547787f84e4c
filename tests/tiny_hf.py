"""A tiny Hugging Face causal LM and tokenizer, built offline for the TRL tests.

The tokenizer is a byte-level BPE trained here with the ``tokenizers`` library on the
preference pairs themselves; the model is a one-layer Llama made from a config. Both are
saved to a directory, as a user's local model would be: nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

from logicpo.training.tasks import get_task


def preference_rows(n: int = 24, seed: int = 0) -> list[dict]:
    """``{prompt, chosen, rejected}`` rows of the built-in sort task."""
    return [ex.to_json() for ex in get_task("sort").examples("train", n, seed, n_val=8)]


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def build_model_dir(path: Path, rows: list[dict], *, seed: int = 0) -> Path:
    """Train a tokenizer on ``rows``, build a one-layer Llama, save both to ``path``."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = [r[k] for r in rows for k in ("prompt", "chosen", "rejected")]
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<pad>", "<eos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>",
                                                pad_token="<pad>")
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
        eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id,
        bos_token_id=fast.eos_token_id)
    transformers.LlamaForCausalLM(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path
