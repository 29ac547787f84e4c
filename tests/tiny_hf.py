"""A tiny Hugging Face world built in memory, for tests that run TRL or transformers.

No download: the tokenizer is trained here with the ``tokenizers`` library (one token per
word), the model is a one-layer Llama built from a config, and the preference data is a
handful of arithmetic-like pairs with responses of different lengths (so length
normalisation matters). Importing this module switches the Hugging Face hub off.
"""

from __future__ import annotations

import copy
import functools
import os

os.environ["HF_HUB_OFFLINE"] = "1"            # nothing is ever fetched
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"  # TRL pings the hub when a trainer starts
os.environ.setdefault("TQDM_DISABLE", "1")

PROMPTS = ["sort 3 1 2 =", "add 2 3 =", "sort 5 4 =", "rev a b c =",
           "add 1 1 =", "sort 9 7 8 6 =", "rev x y =", "add 4 4 ="]
# responses start with a space: TRL tokenizes prompt + response as one text
CHOSEN = [" 1 2 3", " 5", " 4 5", " c b a", " 2", " 6 7 8 9", " y x", " 8"]
REJECTED = [" 3 2 1 1", " 6 6", " 5 4", " a b", " 3 3 3", " 9 8", " x y x y", " 4 4 4 4 4"]


@functools.cache
def tokenizer():
    """A word-level ``PreTrainedTokenizerFast`` with ``<pad>`` and ``<eos>``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(PROMPTS + CHOSEN + REJECTED,
                            trainers.WordLevelTrainer(special_tokens=["<pad>", "<eos>", "<unk>"]))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<unk>")


@functools.cache
def _model(seed: int, moe: bool):
    import torch
    import transformers

    tok = tokenizer()
    shape = dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                 num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                 pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None)
    if moe:  # two experts, one per token, with the load-balancing loss switched on
        config = transformers.MixtralConfig(num_local_experts=2, num_experts_per_tok=1,
                                            router_aux_loss_coef=0.05, output_router_logits=True,
                                            **shape)
        architecture = transformers.MixtralForCausalLM
    else:
        config, architecture = transformers.LlamaConfig(**shape), transformers.LlamaForCausalLM
    torch.manual_seed(seed)
    return architecture(config)


def model(seed: int = 0, moe: bool = False):
    """A fresh copy of the tiny Llama (or Mixtral: ``moe``) initialised with ``seed``."""
    return copy.deepcopy(_model(seed, moe))


def preferences(n: int = len(PROMPTS)):
    """The first ``n`` pairs as a ``datasets.Dataset`` with prompt, chosen, rejected."""
    from datasets import Dataset

    return Dataset.from_dict({"prompt": PROMPTS[:n], "chosen": CHOSEN[:n],
                              "rejected": REJECTED[:n]})


def dpo_config(out, **overrides):
    """The smallest ``DPOConfig`` that trains on a CPU, deterministic and quiet.

    ``bf16=False`` is the one setting a CPU machine needs (TRL turns bf16 on by default and
    transformers refuses it without a GPU unless ``use_cpu=True``); the rest keep tests
    fast and free of files: no checkpoints, no logging integrations, every step logged.
    Plain SGD, so that equal gradients give equal weights to float32 rounding: Adam divides
    by the root of the second moment, which magnifies rounding in near-zero gradients.
    """
    from trl import DPOConfig

    settings = dict(output_dir=str(out), bf16=False, report_to=[], save_strategy="no",
                    logging_steps=1, per_device_train_batch_size=2, per_device_eval_batch_size=2,
                    gradient_accumulation_steps=2, max_steps=2, optim="sgd", learning_rate=0.1,
                    gradient_checkpointing=False, seed=0, disable_tqdm=True)
    settings.update(overrides)
    return DPOConfig(**settings)


def preference_rows(n: int = len(PROMPTS)) -> list[dict]:
    """``n`` rows ``{prompt, chosen, rejected}``: the pairs above, repeated as needed."""
    k = len(PROMPTS)
    return [{"prompt": PROMPTS[i % k], "chosen": CHOSEN[i % k], "rejected": REJECTED[i % k]}
            for i in range(n)]


def write_jsonl(rows: list[dict], path):
    """``rows`` as a JSONL preference file (what ``--data FILE`` reads); returns ``path``."""
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def model_dir(path, seed: int = 0):
    """The tiny Llama and its tokenizer saved to ``path``, as a user's local model directory
    (what ``--model DIR`` and ``from_pretrained(DIR)`` read); returns ``path``."""
    model(seed).save_pretrained(path)
    tokenizer().save_pretrained(path)
    return path
