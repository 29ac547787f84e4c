"""The policy: a byte tokenizer and a tiny causal transformer (after nanoGPT), or a local
Hugging Face causal LM (extra ``logicpo[hf]``, never downloading).

>>> tok = ByteTokenizer()
>>> tok.decode(tok.encode("sort:31="))
'sort:31='
>>> model = build_model("nano", vocab_size=tok.vocab_size, block_size=32)
>>> import torch
>>> model(torch.tensor([[tok.bos_id, *tok.encode("hi")]])).shape
torch.Size([1, 3, 259])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from logicpo.errors import UsageError, did_you_mean


class ByteTokenizer:
    """UTF-8 bytes 0..255, then BOS, EOS and PAD: no vocabulary file, nothing to download."""

    vocab_size = 259
    bos_id, eos_id, pad_id = 256, 257, 258

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class GPTConfig:
    n_layer: int
    n_head: int
    n_embd: int
    vocab_size: int = ByteTokenizer.vocab_size
    block_size: int = 64


SIZES = {
    "nano": dict(n_layer=1, n_head=2, n_embd=32),
    "tiny": dict(n_layer=2, n_head=4, n_embd=64),
    "small": dict(n_layer=4, n_head=4, n_embd=128),
}


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """A pre-norm decoder-only transformer with learned positions and tied embeddings."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.config = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled init of residual projections
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @property
    def block_size(self) -> int:
        return self.config.block_size

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T, vocab)`` for token ids ``(B, T)``."""
        T = idx.shape[1]
        if T > self.config.block_size:
            raise ValueError(f"sequence of {T} tokens exceeds block size {self.config.block_size}")
        pos = torch.arange(T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))

    def describe(self) -> dict:
        return {"kind": "gpt", **asdict(self.config),
                "parameters": sum(p.numel() for p in self.parameters())}


def build_model(size: str, vocab_size: int = ByteTokenizer.vocab_size,
                block_size: int = 64) -> GPT:
    """A freshly initialised built-in model of the named size (seed torch before calling)."""
    if size not in SIZES:
        hint = did_you_mean(size, SIZES) or f"the sizes are {', '.join(SIZES)}"
        raise UsageError(f"unknown model size {size!r} (or not a local model directory)",
                         hint=hint)
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=block_size, **SIZES[size]))


# ------------------------------------------------------------ Hugging Face (optional)
class HFCausalLM(nn.Module):
    """A Hugging Face causal LM seen as ``ids -> logits`` (like :class:`GPT`)."""

    def __init__(self, model) -> None:
        super().__init__()
        self.hf = model
        self.block_size = int(getattr(model.config, "max_position_embeddings", 1024))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.hf(input_ids=idx).logits

    def describe(self) -> dict:
        return {"kind": "hf", "model_type": self.hf.config.model_type,
                "parameters": sum(p.numel() for p in self.parameters())}


class HFTokenizer:
    """A Hugging Face tokenizer with the byte tokenizer's interface."""

    def __init__(self, tok) -> None:
        self.tok = tok
        self.vocab_size = len(tok)
        self.eos_id = tok.eos_token_id
        self.bos_id = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False)

    def decode(self, ids) -> str:
        return self.tok.decode([i for i in ids if i != self.pad_id], skip_special_tokens=True)


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model",
                   "spiece.model")


def is_local_model_dir(spec: str) -> bool:
    return Path(spec).is_dir() and (Path(spec) / "config.json").is_file()


def load_hf(path: str):
    """Model and tokenizer from a local directory; without a tokenizer there, the byte one.

    Nothing is ever downloaded (``local_files_only=True``).
    """
    try:
        import transformers
    except ImportError:
        raise UsageError(f"{path} is a Hugging Face model directory, but transformers is not "
                         "installed", hint="pip install 'logicpo[hf]'") from None
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load a causal LM from {path}: {exc}") from None
    has_tokenizer = any((Path(path) / name).is_file() for name in TOKENIZER_FILES)
    if has_tokenizer:
        try:
            tok = HFTokenizer(transformers.AutoTokenizer.from_pretrained(path,
                                                                         local_files_only=True))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot load the tokenizer in {path}: {exc}") from None
        if not tok.encode("a") or tok.eos_id is None:
            raise UsageError(f"the tokenizer in {path} has no vocabulary or no EOS token")
    else:  # a bare model directory: bytes, if the vocabulary is large enough
        tok = ByteTokenizer()
        if model.config.vocab_size < tok.vocab_size:
            raise UsageError(f"{path} has no tokenizer and its vocabulary "
                             f"({model.config.vocab_size}) is smaller than the byte "
                             f"tokenizer's ({tok.vocab_size})")
    return HFCausalLM(model), tok


def load_policy(spec: str, block_size: int):
    """``(model, tokenizer)`` for a built-in size or a local Hugging Face directory."""
    if is_local_model_dir(spec):
        return load_hf(spec)
    tok = ByteTokenizer()
    return build_model(spec, tok.vocab_size, block_size), tok
