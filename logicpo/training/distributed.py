"""Data-parallel training under ``torchrun``: process group, device, and reductions.

Without torchrun's environment (``WORLD_SIZE`` unset or 1) everything here is a no-op and
the run is a plain single process. With it, ranks join a process group (gloo on CPU, nccl
on CUDA), each takes its share of every batch, and only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from logicpo.errors import UsageError


@dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def is_main_process() -> bool:
    """Whether this process is rank 0 of torchrun's job (or runs alone); readable before
    the process group exists."""
    return int(os.environ.get("RANK", "0")) == 0


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("--device cuda was asked for, but no CUDA device is available",
                             hint="use --device cpu or --device auto")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def setup(device: str) -> Context:
    """Join torchrun's process group if there is one; pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world <= 1:
        return Context(0, 1, dev)
    if not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return Context(dist.get_rank(), dist.get_world_size(), dev)


def teardown(ctx: Context) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def mean_over_ranks(values: torch.Tensor, ctx: Context) -> torch.Tensor:
    """The average of a tensor of statistics over all processes (identical on every rank)."""
    if ctx.distributed:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        values /= ctx.world_size
    return values


def barrier(ctx: Context) -> None:
    if ctx.distributed:
        dist.barrier()
