"""A run directory: what it holds, who may write it, and what ``--resume`` rebuilds from it.

``OUT/`` holds ``config.json`` (the configuration and the resolved loss, written before the
SFT warm-up), ``metrics.jsonl``, ``ckpt.pt``, ``sampled.jsonl`` when it drew responses from
its reference (``--sample-ys``), and, at the end, ``summary.json``. A run never
writes into a directory that already holds another run's files unless it continues it
(``resume``) or was told to replace it (``overwrite``); while it writes, it holds a lock on
the directory, so a second run into the same directory is refused instead of interleaving
its files with the first one's.

The loss is recorded, not just named: its spec, the resolved DSL source, the text of every
user definition it depends on and a digest of the generated code. A resume compiles the
recorded definitions, so it neither reads the ``.lpo`` file again (which may have been
edited, or be relative to another working directory) nor changes what the run trains.

>>> import tempfile
>>> out = Path(tempfile.mkdtemp()) / "run"
>>> check_out(out, resume=False, overwrite=False)        # nothing there yet
>>> with RunLock(out):
...     sorted(p.name for p in out.iterdir())
['.lock']
>>> out.exists()                                         # the lock made it; it leaves none
False
>>> record, loss_fn = resolve_loss("sigmoid", {})
>>> record["loss_source"], record["loss_program"]
('logistic(DPO, beta=0.1)', '')
>>> rebuild_loss(record, "ckpt.pt").source
'logistic(DPO, beta=0.1)'
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from logicpo.errors import LogicpoError, UsageError
from logicpo.files import OutputError, check_input, file_in_the_way, prepare_output, read_text
from logicpo.training.checkpoint import CHECKPOINT_NAME, CheckpointError, load_checkpoint
from logicpo.training.config import TrainConfig

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
METRICS_NAME = "metrics.jsonl"
SUMMARY_NAME = "summary.json"
#: The responses ys a run drew from its reference (``--sample-ys``; training/sampling.py).
SAMPLES_NAME = "sampled.jsonl"
LOCK_NAME = ".lock"
#: The files a run writes; ``overwrite`` removes these and nothing else.
RUN_FILES = (CHECKPOINT_NAME, METRICS_NAME, CONFIG_NAME, SUMMARY_NAME, SAMPLES_NAME)


class RunDirectoryBusy(LogicpoError):
    """Another process is writing the run directory."""


class ResumeMismatch(UsageError):
    """What ``--resume`` was given does not match the run it continues."""


# ------------------------------------------------------------ where a run may write


def check_out(out: str | Path, *, resume: bool, overwrite: bool,
              extra: tuple[str, ...] = (), resumable: bool = True) -> None:
    """Refuse an ``out`` that cannot be a run directory, or holds a run and neither
    ``resume`` nor ``overwrite`` was asked for. ``extra``: more file names that count as
    a run's (a sweep's ``sweep.json``); ``resumable``: whether to suggest ``--resume``.
    Writes nothing."""
    out = Path(out)
    TrainConfig.check_out_mode(resume, overwrite)
    blocker = file_in_the_way(out)
    if blocker is not None:
        which = "--out" if blocker == out else f"'{blocker}', a parent of --out,"
        raise OutputError(f"cannot use '{out}' as a run directory: {which} is a file, "
                          "not a directory")
    if resume:
        return
    found = existing_files(out, extra)
    if found and not overwrite:
        raise UsageError(f"'{out}' already holds a run ({', '.join(found)}); nothing was "
                         "changed", hint=("continue it with --resume, " if resumable else "")
                         + "replace it with --overwrite, or choose another --out")


def existing_files(out: str | Path, extra: tuple[str, ...] = ()) -> list[str]:
    """The run files (and ``extra`` names) present in ``out``. An ``extra`` name with a
    ``*`` is a pattern (TRL's ``checkpoint-*`` directories)."""
    out = Path(out)
    found = []
    for name in (*RUN_FILES, *extra):
        if "*" in name:
            found += sorted(p.name for p in out.glob(name)) if out.is_dir() else []
        elif os.path.lexists(out / name):
            found.append(name)
    return found


def clear_run(out: str | Path, extra: tuple[str, ...] = ()) -> None:
    """Remove a previous run's files from ``out`` (for ``overwrite``), and nothing else."""
    for name in existing_files(out, extra):
        path = Path(out) / name
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)  # a checkpoint directory (TRL's checkpoint-N)
            else:
                path.unlink()
        except OSError as exc:
            raise OutputError(f"cannot remove '{Path(out) / name}' to overwrite the run: "
                              f"{exc.strerror or exc}") from None


class RunLock:
    """An exclusive lock on a run directory while one process writes it.

    The lock is an ``flock`` on ``OUT/.lock``, which holds the owner's process id for the
    message a second run gets. The kernel drops the lock when its process ends, however it
    ends, so a lock file left by a killed run never blocks the next one. The directory is
    created if needed; on release the lock file is removed, and the directory too if this
    lock created it and nothing else was written (a run that failed on its input leaves
    nothing behind).
    """

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.path = self.out / LOCK_NAME
        self.fd: int | None = None
        self.created = False

    def __enter__(self) -> RunLock:
        self.created = not self.out.exists()
        prepare_output(self.path)
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise OutputError(f"cannot lock '{self.out}': {exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise OutputError(f"cannot lock '{self.out}': {exc.strerror}") from None
                raise RunDirectoryBusy(
                    f"'{self.out}' is in use by another run (process {holder}); nothing was "
                    "changed", hint="wait until it ends, or choose another --out") from None
            # the previous owner may have removed the file between our open and our lock
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = os.read(fd, 64).decode("ascii", "replace").strip()
        if previous:
            log.info("%s: took over the lock of process %s, which ended without releasing "
                     "it", self.out, previous)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)  # while still holding the lock: see the inode check above
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None
        if self.created:
            try:
                self.out.rmdir()  # only if empty
            except OSError:
                pass


# ------------------------------------------------------------ what a run records


def absolute_paths(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with its data file and local model directory as absolute paths, so that a
    resume does not depend on the working directory."""
    from logicpo.training.model import is_local_model_dir

    changes = {}
    if cfg.data is not None:
        changes["data"] = os.path.abspath(cfg.data)
    if is_local_model_dir(cfg.model):
        changes["model"] = os.path.abspath(cfg.model)
    return cfg.replace(**changes) if changes else cfg


def data_digest(path: str | Path) -> str:
    """The SHA-256 of a data file, read in blocks."""
    digest = hashlib.sha256()
    with open(check_input(path, "preference file"), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_loss(spec: str, params: dict):
    """``(record, loss module)`` for a loss spec: the record holds what rebuilds it."""
    from logicpo.api import split_spec
    from logicpo.logic.diagnostics import require_trainable
    from logicpo.numbers.api import compile_spec, instantiate
    from logicpo.program import load, zoo

    spec = spec.strip()
    short, path = split_spec(spec)
    program = load([path]) if path is not None else zoo()
    compiled = compile_spec(spec, params, program=program)
    require_trainable(compiled.objective)  # a loss without a gradient is refused up front
    record = {"version": _version(), "loss_spec": spec, "loss_source": compiled.source,
              "loss_program": program.user_source([short]) if path is not None else "",
              "loss_code_sha256": _sha(compiled.generated.code)}
    return record, instantiate(compiled)


def rebuild_loss(record: dict, where: str):
    """The loss module a run recorded (``where``: the file it came from, for messages)."""
    from logicpo.numbers.api import compile_spec, instantiate
    from logicpo.program import load_text

    program = load_text(record["loss_program"], f"{where} (recorded loss)")
    params = record.get("config", {}).get("loss_params", {})
    compiled = compile_spec(record["loss_spec"], params, program=program)
    if _sha(compiled.generated.code) != record["loss_code_sha256"]:
        raise ResumeMismatch(
            f"the loss recorded in {where} ({record['loss_source']}) compiles to different "
            f"code with this logicpo ({_version()}) than it did when the run started "
            f"({record.get('version', 'unknown version')}); resuming would change the loss",
            hint="resume with the logicpo version that started the run, or start a new run")
    return instantiate(compiled)


def check_same_loss(record: dict, spec: str, params: dict, where: str) -> None:
    """Refuse ``spec`` given again on resume if it no longer means the recorded loss (its
    ``.lpo`` file was edited, or it resolves against another working directory)."""
    fresh, _ = resolve_loss(spec, params)
    if (fresh["loss_program"], fresh["loss_code_sha256"]) != \
            (record["loss_program"], record["loss_code_sha256"]):
        raise ResumeMismatch(
            f"--loss {spec} is no longer the loss this run trained with: its definitions "
            f"changed since the run started (recorded in {where}: {record['loss_source']})",
            hint="leave out --loss to continue with the recorded loss, or start a new run "
                 "in another --out")


def stored_run(out: str | Path) -> dict:
    """What the run in ``out`` recorded: its checkpoint, or, when it was interrupted before
    the first checkpoint (during the SFT warm-up), its ``config.json`` (without a step)."""
    out = Path(out)
    if os.path.lexists(out / CHECKPOINT_NAME):
        state = load_checkpoint(out / CHECKPOINT_NAME)
        if "loss_code_sha256" not in state or "config" not in state:
            raise CheckpointError(
                f"{out / CHECKPOINT_NAME} was written before logicpo recorded a run's loss in "
                "its checkpoint, so a resume could not know which loss it trained",
                hint="start a new run (with --overwrite to replace this one)")
        return state
    if not os.path.lexists(out / CONFIG_NAME):
        raise CheckpointError(f"no run to resume in '{out}': it has no {CHECKPOINT_NAME} and "
                              f"no {CONFIG_NAME}")
    text = read_text(out / CONFIG_NAME, "run configuration")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{out / CONFIG_NAME} is damaged ({exc.msg} at line "
                              f"{exc.lineno})") from None
    if not isinstance(record, dict) or not {"config", "loss_code_sha256"} <= set(record):
        raise CheckpointError(f"{out / CONFIG_NAME} is not a logicpo run configuration")
    return record


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _version() -> str:
    import logicpo

    return logicpo.__version__
