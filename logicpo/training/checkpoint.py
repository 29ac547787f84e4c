"""Checkpoints: written atomically, read without ever executing code from the file.

A checkpoint is a plain dict of tensors, numbers and strings saved with ``torch.save`` and
loaded with ``torch.load(weights_only=True)``, which refuses anything else. It is written
through :func:`logicpo.files.atomic_output` (a temporary file in the same directory, flushed
to disk, then renamed over the old one), so a crash or Ctrl-C mid-write leaves the previous
checkpoint intact.

>>> import tempfile, torch
>>> path = tempfile.mkdtemp() + "/ckpt.pt"
>>> save_checkpoint(path, {"step": 3, "model": {"w": torch.zeros(2)}})
>>> load_checkpoint(path)["step"]
3
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from logicpo.errors import LogicpoError
from logicpo.files import atomic_output

FORMAT = "logicpo-checkpoint/1"
CHECKPOINT_NAME = "ckpt.pt"


class CheckpointError(LogicpoError):
    """A checkpoint is missing, truncated, or not one that logicpo wrote."""


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write ``state`` (plus a format tag) atomically to ``path``."""
    with atomic_output(path, binary=True) as fh:
        torch.save({"format": FORMAT, **state}, fh)


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint on the CPU; a clear :class:`CheckpointError` for anything else."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path} is not a logicpo checkpoint: it holds objects other than tensors and "
            "plain values, and loading it could run code") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for damaged files
        raise CheckpointError(f"{path} is truncated or not a checkpoint ({_first_line(exc)})"
                              ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not a logicpo checkpoint",
                              hint=f"expected a dict tagged format={FORMAT!r}")
    return state


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__
