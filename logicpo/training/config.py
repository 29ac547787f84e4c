"""The configuration of a training run: one dataclass, no globals (as in nanoGPT).

>>> cfg = TrainConfig(task="sort", loss="sigmoid", steps=10, out="runs/x")
>>> cfg.validate()
>>> cfg.tokens_per_step_hint
'batch_size=16 x grad_accum=1'
>>> TrainConfig.from_dict(cfg.to_dict()) == cfg
True
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
import time
from dataclasses import dataclass, field

from logicpo.errors import UsageError

DEVICES = ("auto", "cpu", "cuda")
REFERENCE_MODES = ("precompute", "online")
SFT_ON = ("chosen", "both")
#: Where a response ``ys`` that the loss reads and a row lacks comes from: nowhere (the
#: row is refused), or a sample of the reference model (SELM; see training/sampling.py).
SAMPLE_YS = ("off", "reference")


def default_threads() -> int:
    """The torch CPU threads of a run given ``--threads 0``: the physical cores this process
    may use that other work is not keeping busy *now*, at least 1, at most
    ``OMP_NUM_THREADS`` when that is set (torch's own default reads it too).

    Cores are the CPUs of the process's affinity mask divided by the hardware threads per
    core. "Busy now" is the number of other runnable threads on the machine, read from
    Linux's ``/proc/loadavg`` (its fourth field counts the runnable threads at this instant,
    this one included) a few times over about 50 ms, the median taken. Spinning threads that
    compete for a core with other processes are what made torch's default several times
    slower than one thread on a shared 2-core machine (issue 14): there this gives 1, on an
    idle machine every core. The 1-minute load average, read before, lags by a minute: right
    after other heavy work ended it still said "busy" and gave 1 thread where 2 ran 1.3x
    faster (make bench, 2026-12-03). Without ``/proc/loadavg`` (not Linux) the load average
    stands in, and with neither, nothing is taken as busy.

    >>> 1 <= default_threads() <= (os.cpu_count() or 1)
    True
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    cores = max(1, cpus // _threads_per_core())
    return threads_for(cores, _busy_elsewhere(), _omp_threads() or cores)


def _omp_threads() -> int | None:
    """``OMP_NUM_THREADS`` as a positive count, or None when unset or not one. (Not
    ``torch.get_num_threads()``: that is whatever the process last set, not a cap.)"""
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        return None
    return n if n > 0 else None


def threads_for(cores: int, busy: float, most: int) -> int:
    """The threads to use on ``cores`` physical cores while other work keeps ``busy`` of
    them running, at least 1 and at most ``most``.

    >>> threads_for(2, 0.0, 2), threads_for(2, 1.0, 2), threads_for(2, 3.0, 2)
    (2, 1, 1)
    >>> threads_for(8, 0.4, 4), threads_for(8, 2.6, 8)
    (4, 5)
    """
    return max(1, min(cores - int(busy + 0.5), most))


def _busy_elsewhere(samples: int = 5, gap: float = 0.012) -> float:
    """How many threads of other processes are runnable: the median over ``samples``
    readings of ``/proc/loadavg``'s instantaneous count less this process's own runnable
    threads (the reader, and torch's worker threads that spin for a while after work); the
    1-minute load average less one where that file is missing; 0 when neither is available."""
    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg") as f:
                counts.append(max(0, running_threads(f.read()) - _own_running()))
        except (OSError, ValueError):
            break
        if i + 1 < samples:
            time.sleep(gap)
    if counts:
        return float(statistics.median(counts))
    try:
        return max(0.0, os.getloadavg()[0] - 1.0)
    except (AttributeError, OSError):  # no load average on this platform
        return 0.0


def _own_running() -> int:
    """This process's runnable threads (state ``R`` in ``/proc/self/task/*/stat``), at
    least 1: the one reading."""
    count = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                state = f.read().rpartition(")")[2].split(None, 1)[0]
        except (OSError, IndexError):  # the thread ended meanwhile
            continue
        count += state == "R"
    return max(1, count)


def running_threads(loadavg: str) -> int:
    """The runnable threads of a ``/proc/loadavg`` line (its fourth field, ``running/total``).

    >>> running_threads("0.08 0.02 0.01 3/245 1234")
    3
    """
    fields = loadavg.split()
    if len(fields) < 4 or "/" not in fields[3]:
        raise ValueError(f"not a /proc/loadavg line: {loadavg!r}")
    return int(fields[3].split("/", 1)[0])


def _threads_per_core() -> int:
    """Hardware threads per core (2 with SMT), from Linux's CPU topology; 1 if unknown."""
    try:
        with open("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list") as f:
            text = f.read().strip()
    except OSError:
        return 1
    count = 0
    for part in text.split(","):
        low, _, high = part.partition("-")
        count += int(high) - int(low) + 1 if high else 1
    return max(1, count)


@dataclass
class TrainConfig:
    """Everything that defines a run. Checkpoints store it; ``--resume`` reads it back."""

    # what to learn from: a preference file or a built-in task (exactly one)
    data: str | None = None
    task: str | None = None
    task_train: int = 512          # examples generated for the task's train split
    task_val: int = 64             # ... and for its validation split
    task_responses: int = 2        # ranked responses a task row gives (yw, yl, yl2, ...)
    task_gold: bool = False        # ... and a gold response yg (the answer; see tasks.py)
    val_fraction: float = 0.1      # with --data: the share held out for evaluation
    # the loss: anything logicpo.loss accepts, and its parameters
    loss: str = "sigmoid"
    loss_params: dict = field(default_factory=dict)
    # the model: a built-in size ("nano", "tiny", "small") or a local Hugging Face directory
    model: str = "tiny"
    block_size: int = 64           # context length of the built-in model (tokens)
    # preference optimisation
    steps: int = 200
    batch_size: int = 16           # preference pairs per optimiser step (over all processes)
    grad_accum: int = 1
    lr: float = 3e-5                # measured on every built-in task: docs/training.md#defaults
    min_lr_ratio: float = 0.1      # the cosine schedule ends at lr * min_lr_ratio
    warmup_steps: int = 10
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    # SFT warm-up on the chosen responses, so the reference model knows the task
    sft_steps: int = 100
    sft_lr: float = 3e-3
    sft_on: str = "chosen"         # "chosen", or "both" responses (a reference unsure of which)
    reference: str = "precompute"  # "precompute" (once, default) or "online"
    sample_ys: str = "off"         # "reference": draw ys from the reference where rows lack it
    # evaluation, logging and checkpoints
    eval_every: int = 25
    eval_generate: int = 64        # validation prompts answered greedily for the task reward
    ckpt_every: int = 50
    out: str = "runs/run"
    # machinery
    seed: int = 0
    device: str = "auto"
    threads: int = 0               # torch CPU threads; 0: default_threads() for this machine
    resume: bool = False           # continue the run in ``out`` from its checkpoint
    overwrite: bool = False        # replace a previous run in ``out`` (never without this)

    # What --resume may change; everything else must match the checkpoint's config.
    RESUMABLE = ("steps", "device", "threads", "resume", "overwrite", "out")

    def validate(self) -> None:
        """Raise :class:`UsageError` for a configuration that cannot run.

        Every number is checked here, once, before anything runs: a non-finite float
        (``--lr inf``, ``--grad-clip nan``) or one outside its domain is refused.

        >>> TrainConfig(task="sort", lr=float("inf")).validate()
        Traceback (most recent call last):
        ...
        logicpo.errors.UsageError: lr must be a finite number, not inf
        """
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise UsageError(f"{f.name.replace('_', '-')} must be a finite number, "
                                 f"not {value}")
        self.check_out_mode(self.resume, self.overwrite)
        if (self.data is None) == (self.task is None):
            raise UsageError("give exactly one of --data FILE and --task NAME")
        if self.device not in DEVICES:
            raise UsageError(f"--device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.sft_on not in SFT_ON:
            raise UsageError(f"--sft-on must be one of {', '.join(SFT_ON)}, not {self.sft_on!r}")
        if self.reference not in REFERENCE_MODES:
            raise UsageError(f"--reference must be one of {', '.join(REFERENCE_MODES)}")
        if self.sample_ys not in SAMPLE_YS:
            raise UsageError(f"--sample-ys must be one of {', '.join(SAMPLE_YS)}, not "
                             f"{self.sample_ys!r}")
        positive = ("steps", "batch_size", "grad_accum", "eval_every", "ckpt_every", "block_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise UsageError(f"{name.replace('_', '-')} must be at least 1")
        for name in ("sft_steps", "warmup_steps", "eval_generate", "threads", "task_train"):
            if getattr(self, name) < 0:
                raise UsageError(f"{name.replace('_', '-')} must not be negative")
        if self.task is not None and self.task_val < 1:
            raise UsageError("task-val must be at least 1")
        if self.task is None and (self.task_responses != 2 or self.task_gold):
            raise UsageError("--task-responses and --task-gold shape a built-in task's rows; "
                             "with --data FILE the file says which responses a row has")
        from logicpo.training.tasks import check_responses  # no torch there either

        check_responses(self.task_responses)
        if not (self.lr > 0 and self.sft_lr > 0):
            raise UsageError("learning rates must be positive")
        if not self.weight_decay >= 0:
            raise UsageError("weight-decay must not be negative")
        if not self.grad_clip > 0:
            raise UsageError("grad-clip must be positive")
        if not 0 <= self.min_lr_ratio <= 1:
            raise UsageError("min-lr-ratio must be between 0 and 1")
        if not 0 < self.val_fraction < 1:
            raise UsageError("val-fraction must be between 0 and 1")
        if self.batch_size % self.grad_accum:
            raise UsageError("batch-size must be a multiple of grad-accum")

    @staticmethod
    def check_out_mode(resume: bool, overwrite: bool) -> None:
        """``resume`` continues the run in ``out`` and ``overwrite`` replaces it: not both."""
        if resume and overwrite:
            raise UsageError("--resume continues the run in --out and --overwrite replaces it: "
                             "give one of them")

    @property
    def tokens_per_step_hint(self) -> str:
        return f"batch_size={self.batch_size} x grad_accum={self.grad_accum}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def identity(self) -> dict:
        """What a run records of its configuration: everything but how this command was
        asked to treat ``out`` (resume, overwrite)."""
        return self.replace(resume=False, overwrite=False).to_dict()

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)
