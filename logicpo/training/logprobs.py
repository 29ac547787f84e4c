"""Sequence log-probabilities of responses: the numbers every preference loss consumes.

A pair is encoded as ``[BOS] prompt response [EOS]``; only response tokens (and the EOS,
so the policy learns where to stop) count. Each response gets the *sum* of its token
log-probs and its token *count*, so a loss can length-normalise (``logp / |y|``).

>>> import torch
>>> from logicpo.training.model import ByteTokenizer, build_model
>>> from logicpo.training.data import PreferenceExample
>>> tok = ByteTokenizer()
>>> pairs = encode_pairs([PreferenceExample("sort:21=", "12", "2")], tok, block_size=32)
>>> ids, mask = collate(pairs, [0])
>>> ids.shape, mask.sum(dim=1).tolist()   # chosen then rejected; "12"+EOS and "2"+EOS
(torch.Size([2, 12]), [3, 2])
>>> _ = torch.manual_seed(0)
>>> logps, counts = sequence_logprobs(build_model("nano", block_size=32), ids, mask)
>>> logps.shape, counts.tolist()
(torch.Size([2]), [3.0, 2.0])
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodedPair:
    """Token ids of one pair; each response keeps its own (possibly truncated) prompt."""

    chosen_prompt: list[int]
    chosen: list[int]
    rejected_prompt: list[int]
    rejected: list[int]


def _fit(prompt: list[int], response: list[int], block_size: int) -> tuple[list[int], list[int]]:
    """Keep the end of the prompt and the start of the response within the context."""
    if len(prompt) + len(response) <= block_size:
        return prompt, response
    prompt = prompt[-max(1, min(len(prompt), block_size // 2)):]
    return prompt, response[: block_size - len(prompt)]  # a new list: counted as truncated


#: Tokens beyond the context that a cut text must still give, so that where the cut falls
#: (possibly inside a word) cannot change the tokens that are kept.
CUT_MARGIN = 16


def _encode_within(tokenizer, text: str, block_size: int, *, keep_end: bool) -> list[int]:
    """The tokens of ``text``, or of enough of its start (its end: ``keep_end``) to fill the
    context, without tokenising all of a long text.

    The text is cut to ``block_size + CUT_MARGIN`` characters and the cut doubled until it
    gives that many tokens, at most ``block_size`` of which :func:`_fit` keeps. A token
    never holds less than one character's byte, so the byte tokenizer needs one cut, and the
    tokens of a prefix (suffix) of a text are a prefix (suffix) of its tokens: the kept
    tokens are exactly those of the whole text.
    """
    need = limit = block_size + CUT_MARGIN
    while len(text) > limit:
        ids = tokenizer.encode(text[-limit:] if keep_end else text[:limit])
        if len(ids) >= need:
            return ids
        limit *= 2
    return tokenizer.encode(text)


def encode_pairs(examples, tokenizer, block_size: int) -> list[EncodedPair]:
    """Tokenise once, before training (truncated pairs are counted and logged). Text beyond
    what the context can hold is cut before tokenising (:func:`_encode_within`)."""
    def encode(text: str, keep_end: bool = False) -> list[int]:
        return _encode_within(tokenizer, text, block_size, keep_end=keep_end)

    out, truncated = [], 0
    for ex in examples:
        prompt = [tokenizer.bos_id, *encode(ex.prompt, keep_end=True)]
        pc, chosen = _fit(prompt, [*encode(ex.chosen), tokenizer.eos_id], block_size)
        pr, rejected = _fit(prompt, [*encode(ex.rejected), tokenizer.eos_id], block_size)
        truncated += pc is not prompt or pr is not prompt
        out.append(EncodedPair(pc, chosen, pr, rejected))
    if truncated:
        log.warning("%d of %d pairs were truncated to the %d-token context",
                    truncated, len(out), block_size)
    return out


#: One example's named responses, each as ``(prompt ids, response ids)``.
EncodedResponses = dict[str, tuple[list[int], list[int]]]


def encode_responses(examples, tokenizer, block_size: int, responses: tuple[str, ...]
                     ) -> list[EncodedResponses]:
    """Tokenise the named ``responses`` of every example once, as :func:`encode_pairs` does
    the winner and the loser (each response with its own possibly truncated prompt); only
    these responses are tokenised. Every example must have them (the loop checks first).

    >>> from logicpo.training.model import ByteTokenizer
    >>> from logicpo.training.data import PreferenceExample
    >>> ex = PreferenceExample("sort:21=", "12", "2", (("yg", "12"),))
    >>> [sorted(e) for e in encode_responses([ex], ByteTokenizer(), 32, ("yg",))]
    [['yg']]
    """
    def encode(text: str, keep_end: bool = False) -> list[int]:
        return _encode_within(tokenizer, text, block_size, keep_end=keep_end)

    out, truncated = [], 0
    for ex in examples:
        prompt = [tokenizer.bos_id, *encode(ex.prompt, keep_end=True)]
        texts = ex.responses
        row = {r: _fit(prompt, [*encode(texts[r]), tokenizer.eos_id], block_size)
               for r in responses}
        truncated += any(p is not prompt for p, _ in row.values())
        out.append(row)
    if truncated:
        log.warning("%d of %d examples were truncated to the %d-token context",
                    truncated, len(out), block_size)
    return out


def collate_responses(encoded: list[EncodedResponses], indices, responses: tuple[str, ...],
                      pad_id: int = 258) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``(R*B, T)`` and response mask ``(R*B, T)`` of ``R`` named responses of
    ``B`` examples: the ``B`` rows of the first response, then those of the next, ..."""
    rows = [encoded[i][r] for r in responses for i in indices]
    return _pad(rows, pad_id)


def collate(pairs: list[EncodedPair], indices, pad_id: int = 258, rejected: bool = True
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``(2B, T)`` and response mask ``(2B, T)``: chosen rows, then rejected rows
    (only the ``B`` chosen rows with ``rejected=False``, for SFT)."""
    rows = [(pairs[i].chosen_prompt, pairs[i].chosen) for i in indices]
    if rejected:
        rows += [(pairs[i].rejected_prompt, pairs[i].rejected) for i in indices]
    return _pad(rows, pad_id)


def _pad(rows: list[tuple[list[int], list[int]]], pad_id: int
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(prompt, response)`` rows as padded ids and a mask of the response tokens."""
    T = max(len(p) + len(r) for p, r in rows)
    ids = torch.full((len(rows), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.bool)
    for n, (p, r) in enumerate(rows):
        ids[n, : len(p) + len(r)] = torch.tensor(p + r)
        mask[n, len(p): len(p) + len(r)] = True
    return ids, mask


def sequence_logprobs(model, ids: torch.Tensor, mask: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of response-token log-probs ``(N,)`` and response token counts ``(N,)``."""
    logits = model(ids[:, :-1]).float()                        # (N, T-1, V)
    targets, keep = ids[:, 1:], mask[:, 1:]                     # (N, T-1)
    token_logps = -F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    token_logps = token_logps.masked_fill(~keep, 0.0)
    return token_logps.sum(dim=1), keep.sum(dim=1).to(token_logps.dtype)


@torch.no_grad()
def greedy_generate(model, tokenizer, prompts: list[str], max_new_tokens: int,
                    device: torch.device | str = "cpu", batch_size: int = 64) -> list[str]:
    """Greedy continuations, stopping at EOS. Prompts of equal length share a batch."""
    encoded = [[tokenizer.bos_id, *tokenizer.encode(p)] for p in prompts]
    limit = getattr(model, "block_size", 10**9)

    def greedy(logits: torch.Tensor) -> tuple[torch.Tensor, None]:
        return logits.argmax(dim=-1), None

    answers = []
    for toks, _ in generate_ids(model, encoded, max_new_tokens, tokenizer.eos_id, greedy,
                                limit, device, batch_size):
        cut = toks.index(tokenizer.eos_id) if tokenizer.eos_id in toks else len(toks)
        answers.append(tokenizer.decode(toks[:cut]))
    return answers


#: Picks the next tokens ``(G,)`` from last-position logits ``(G, V)``, and their log-probs
#: ``(G,)`` (or None, when the caller does not want them).
Choose = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


@torch.no_grad()
def generate_ids(model, prompts: list[list[int]], max_new_tokens: int, eos_id: int,
                 choose: Choose, limit: int, device: torch.device | str = "cpu",
                 batch_size: int = 64) -> list[tuple[list[int], float]]:
    """Continue token-id prompts, ``choose`` picking each next token, until EOS, at most
    ``max_new_tokens`` and at most ``limit`` tokens in all (prompt and continuation). Each
    prompt gets its new tokens (up to and including its EOS, if one came) and the sum of
    their log-probs (0.0 when ``choose`` gives none). Prompts of equal length share a batch.
    """
    by_length: dict[int, list[int]] = {}
    for i, e in enumerate(prompts):
        by_length.setdefault(len(e), []).append(i)
    results: list[tuple[list[int], float]] = [([], 0.0)] * len(prompts)
    for length, members in by_length.items():
        for start in range(0, len(members), batch_size):
            group = members[start: start + batch_size]
            ids = torch.tensor([prompts[i] for i in group], device=device)
            done = torch.zeros(len(group), dtype=torch.bool, device=device)
            total = torch.zeros(len(group), dtype=torch.float64, device=device)
            new = []
            for _ in range(min(max_new_tokens, limit - length)):
                nxt, logp = choose(model(ids)[:, -1, :])          # (G,), (G,) or None
                if logp is not None:  # the log-prob of tokens after EOS does not count
                    total += logp.double().masked_fill(done, 0.0)
                nxt = nxt.masked_fill(done, eos_id)
                new.append(nxt)
                done |= nxt == eos_id
                ids = torch.cat([ids, nxt[:, None]], dim=1)
                if bool(done.all()):
                    break
            gen = torch.stack(new, dim=1).tolist() if new else [[] for _ in group]
            for i, toks, lp in zip(group, gen, total.tolist(), strict=True):
                cut = toks.index(eos_id) + 1 if eos_id in toks else len(toks)
                results[i] = (toks[:cut], lp)
    return results
