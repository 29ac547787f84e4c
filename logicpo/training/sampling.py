"""The response ``ys`` drawn from the reference model (SELM), and its record in a run.

SELM (Zhang et al. 2024, "Self-Exploring Language Models") reads ``M(ys)`` and ``Ref(ys)``
of a response ``ys`` sampled from the reference model. With ``--sample-ys reference`` the
trainer draws one for every training and validation row that has none, once the reference
is fixed (after the SFT warm-up): at temperature 1, up to ``max_new_tokens`` tokens (the
task's answer length, or what the context leaves after the prompt), from a generator
seeded by the run's seed and the split, so that the same seed gives the same samples.

The sample *is* the token sequence drawn, which the trainer scores as it was drawn (after
the same prompt tokens), so its ``Ref(ys)`` is exactly the reference's log-prob of
drawing it, recorded beside it. It ends with the reference's EOS, or is cut without one
at the length limit. Its text, decoded for the record (bytes that are not UTF-8 and
special tokens do not survive decoding), is for reading, not for training.

The samples go to ``OUT/sampled.jsonl`` (``run_dir.SAMPLES_NAME``, one object a line, written
atomically) before any reference log-prob is computed; a resumed run reads them back
and never draws again.

>>> import torch
>>> from logicpo.training.model import ByteTokenizer, build_model
>>> _ = torch.manual_seed(0)
>>> ref, tok = build_model("nano", block_size=32), ByteTokenizer()
>>> a = draw_samples(ref, tok, ["sort:21="], 4, 32, seed_key="0:train")
>>> a == draw_samples(ref, tok, ["sort:21="], 4, 32, seed_key="0:train")
True
>>> len(a[0].token_ids) <= 4 and a[0].logp < 0
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from logicpo.files import read_text, write_atomic
from logicpo.logic import atoms
from logicpo.training.checkpoint import CheckpointError
from logicpo.training.logprobs import _encode_within, _fit, generate_ids

#: The data field and the response the reference's samples fill (``sampled``, ``ys``).
FIELD = "sampled"
SAMPLED = atoms.DATA_FIELDS[FIELD]
@dataclass(frozen=True)
class Sample:
    """One response drawn from the reference for one prompt."""

    text: str                  # decoded, for reading: the token ids are the sample
    token_ids: tuple[int, ...]  # the tokens drawn, its EOS included if it ended with one
    logp: float                # the reference's log-prob of drawing exactly these tokens
    ended: bool                # whether the reference ended it (else cut at the limit)


def sampling_prompt(tokenizer, prompt: str, block_size: int) -> list[int]:
    """The prompt tokens a sample continues, and is scored after: those
    :func:`~logicpo.training.logprobs.encode_responses` scores a response after (a prompt
    that leaves no room for a token keeps its end, as there)."""
    ids = [tokenizer.bos_id, *_encode_within(tokenizer, prompt, block_size, keep_end=True)]
    return _fit(ids, [tokenizer.eos_id], block_size)[0]  # room for at least one token


def draw_samples(model, tokenizer, prompts: list[str], max_new_tokens: int, block_size: int,
                 device: torch.device | str = "cpu", *, seed_key: str,
                 batch_size: int = 64) -> list[Sample]:
    """One sample of ``model`` per prompt, at temperature 1, of at most ``max_new_tokens``
    tokens and within ``block_size`` with its prompt (see the module text).

    ``seed_key`` seeds the draws (the run's seed and the split): the same model, prompts
    and key give the same samples, on every process.
    """
    generator = torch.Generator().manual_seed(_seed_of(seed_key))

    def sample(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logps = torch.log_softmax(logits.float(), dim=-1)                # (G, V)
        # drawn on the CPU from its own generator: the same on every device and process
        nxt = torch.multinomial(logps.exp().cpu(), 1, generator=generator)[:, 0]
        nxt = nxt.to(logits.device)
        return nxt, logps.gather(1, nxt[:, None])[:, 0]                  # (G,), (G,)

    encoded = [sampling_prompt(tokenizer, p, block_size) for p in prompts]
    limit = min(block_size, getattr(model, "block_size", block_size))
    was_training = model.training
    model.eval()
    try:
        got = generate_ids(model, encoded, max_new_tokens, tokenizer.eos_id, sample, limit,
                           device, batch_size)
    finally:
        model.train(was_training)
    out = []
    for toks, logp in got:
        ended = bool(toks) and toks[-1] == tokenizer.eos_id
        out.append(Sample(tokenizer.decode(toks[:-1] if ended else toks), tuple(toks), logp,
                          ended))
    return out


def encoded_sample(tokenizer, prompt: str, block_size: int, sample: Sample
                   ) -> tuple[list[int], list[int]]:
    """A sample as the trainer scores it: ``(prompt ids, response ids)``, exactly the
    prompt it continued and the tokens drawn."""
    return sampling_prompt(tokenizer, prompt, block_size), list(sample.token_ids)


def write_samples(path: str | Path, drawn: dict[str, tuple[list[str], dict[int, Sample]]]
                  ) -> None:
    """Record the samples of each split (``{split: (its prompts, {row: sample})}``) in
    ``path``, one JSON object a line, atomically."""
    lines = []
    for split, (prompts, samples) in drawn.items():
        for row, s in sorted(samples.items()):
            lines.append(json.dumps({"split": split, "row": row, "prompt": prompts[row],
                                     "sampled": s.text, "token_ids": list(s.token_ids),
                                     "logp": s.logp, "ended": s.ended},
                                    ensure_ascii=False) + "\n")
    write_atomic(path, "".join(lines))


def read_samples(path: str | Path, wanted: dict[str, tuple[list[str], list[int]]]
                 ) -> dict[str, dict[int, Sample]]:
    """The samples recorded in ``path``, checked against what the run needs:
    ``{split: (its prompts, the rows that need a sample)}``. A record that does not hold
    exactly those rows and prompts is refused (:class:`CheckpointError`)."""
    path = Path(path)
    got: dict[str, dict[int, Sample]] = {split: {} for split in wanted}
    for n, line in enumerate(read_text(path, "recorded samples").splitlines(), start=1):
        try:
            rec = json.loads(line)
            split, row = rec["split"], rec["row"]
            ids = rec["token_ids"]
            if not isinstance(ids, list) or not ids or \
                    not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise ValueError
            sample = Sample(rec["sampled"], tuple(ids), float(rec["logp"]), bool(rec["ended"]))
            prompts, _ = wanted[split]
            if not isinstance(row, int) or not 0 <= row < len(prompts) or \
                    prompts[row] != rec["prompt"] or not isinstance(sample.text, str):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise CheckpointError(f"{path}:{n}: not a sample of this run's rows",
                                  hint="the run directory is damaged; start the run anew "
                                       "(--overwrite)") from None
        got[split][row] = sample
    for split, (_, rows) in wanted.items():
        if sorted(got[split]) != sorted(rows):
            raise CheckpointError(f"{path} holds {len(got[split])} samples of the {split} "
                                  f"split; the run needs {len(rows)}, one for each row "
                                  f"without a '{FIELD}' response",
                                  hint="the run directory is damaged; start the run anew "
                                       "(--overwrite)")
    return got


def _seed_of(key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"sample-ys:{key}".encode()).digest()[:8], "big")
