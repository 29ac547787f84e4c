"""Run many training runs: in order, in ``jobs`` processes, or as Ray tasks.

Every run has its own directory. Before anything trains, each run is classified from what
its directory holds: **done** (a ``summary.json`` of a run with this configuration, read
back instead of training again), **interrupted** (a ``config.json`` or checkpoint of this
configuration without a summary: resumed with ``--resume``, which continues from the last
checkpoint exactly as an uninterrupted run would have gone on) or **new**. A directory
holding a run of another configuration is refused. The runs are independent and their
results do not depend on the backend: the same seed gives the same metrics in order, in
parallel processes and on Ray (on CPU, one torch thread per run).

Only the driver (the caller of :func:`run_all`) is told when runs finish
(``on_done``); it alone writes the manifest.

>>> cfg = TrainConfig(task="sort", steps=5, out="/nonexistent/run")
>>> state(cfg)
'new'
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from logicpo.errors import LogicpoError, UsageError
from logicpo.files import parse_json, read_text
from logicpo.training.config import TrainConfig

BACKENDS = ("local", "ray")
#: What a run's configuration may differ in from what its directory recorded.
_FREE = set(TrainConfig.RESUMABLE) - {"steps"}


class RunFailed(LogicpoError):
    """A run of a sweep or search stopped with an error (the others are kept)."""


@dataclass
class Job:
    """One run: a key for the manifest, its configuration, and what the caller attaches."""

    key: str
    cfg: TrainConfig
    meta: dict = field(default_factory=dict)


def _recorded(out: Path) -> dict | None:
    for name in ("summary.json", "config.json"):
        path = out / name
        if path.is_file():
            try:
                data = parse_json(read_text(path, "run file"))
            except json.JSONDecodeError:
                return None  # a damaged file: the run is resumed from its checkpoint
            if isinstance(data, dict):
                return data
    return None


def state(cfg: TrainConfig) -> str:
    """``done``, ``interrupted`` or ``new``: what ``cfg.out`` holds of this run."""
    out = Path(cfg.out)
    if (out / "summary.json").is_file():
        summary = _recorded(out)
        if summary is not None and summary.get("steps") == cfg.steps:
            _check_same(cfg, out)
            return "done"
    if any(os.path.lexists(out / n) for n in ("config.json", "ckpt.pt")):
        _check_same(cfg, out)
        return "interrupted"
    return "new"


def _check_same(cfg: TrainConfig, out: Path) -> None:
    from logicpo.training.run_dir import absolute_paths

    path = out / "config.json"
    if not path.is_file():
        return  # only a checkpoint: train --resume compares it with cfg itself
    try:
        stored = parse_json(read_text(path, "run configuration")).get("config", {})
    except (json.JSONDecodeError, AttributeError):
        return
    mine = absolute_paths(cfg).identity()
    clash = [k for k in mine if k not in _FREE and stored.get(k) != mine[k]]
    if clash:
        raise UsageError(f"'{out}' holds a run with other settings ({', '.join(clash)}) "
                         "than this command would train there; nothing was changed",
                         hint="choose another --out, or replace it with --overwrite")


def summary_of(out: str | Path) -> dict:
    """A finished run's ``summary.json``."""
    data = _recorded(Path(out))
    if data is None or "final_eval" not in data:
        raise UsageError(f"'{out}' holds no finished run (no summary.json)")
    return data


def execute(cfg_dict: dict) -> dict:
    """Train one run (a top-level function, so that processes and Ray can call it)."""
    from logicpo.training.loop import train

    return train(TrainConfig.from_dict(cfg_dict)).to_json()


def _prepared(job: Job, parallel: bool) -> dict:
    cfg = job.cfg.replace(resume=state(job.cfg) == "interrupted", overwrite=False)
    if parallel and cfg.threads == 0:
        cfg = cfg.replace(threads=1)  # N runs side by side: one torch thread each
    return cfg.to_dict()


def run_all(jobs: list[Job], *, workers: int = 1, backend: str = "local",
            address: str | None = None, on_event: Callable[[str, dict], None] | None = None,
            on_done: Callable[[Job, dict], None] | None = None) -> dict[str, dict]:
    """Bring every job to its end; return ``{key: summary}``.

    Finished runs are read, not trained; ``on_done(job, summary)`` is called in the
    driver for every run as it finishes (and for those already finished). A run that
    fails stops the others from being started and raises :class:`RunFailed` after the
    runs under way have finished (their results are kept)."""
    if backend not in BACKENDS:
        raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if workers < 1:
        raise UsageError("--jobs must be at least 1")
    emit = on_event or (lambda kind, record: None)
    results: dict[str, dict] = {}

    def finish(job: Job, summary: dict) -> None:
        results[job.key] = summary
        if on_done is not None:
            on_done(job, summary)

    todo = []
    for job in jobs:
        if state(job.cfg) == "done":
            finish(job, summary_of(job.cfg.out))
            emit("skip", {"key": job.key, "out": job.cfg.out})
        else:
            todo.append(job)
    if not todo:
        return results
    if backend == "ray":
        _run_ray(todo, address, workers, emit, finish)
    elif workers == 1:
        from logicpo.training.loop import train

        for job in todo:
            cfg = TrainConfig.from_dict(_prepared(job, parallel=False))
            emit("run", {"key": job.key, "out": cfg.out, "resume": cfg.resume, **job.meta})
            finish(job, train(cfg, on_event).to_json())
    else:
        _run_processes(todo, workers, emit, finish)
    return results


def _run_processes(todo: list[Job], workers: int, emit, finish) -> None:
    import concurrent.futures as cf
    import multiprocessing

    # spawn, not fork: the driver may hold torch threads and locks that a fork would copy
    ctx = multiprocessing.get_context("spawn")
    failures = []
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {}
        for job in todo:
            cfg = _prepared(job, parallel=True)
            emit("run", {"key": job.key, "out": cfg["out"], "resume": cfg["resume"],
                         **job.meta})
            futures[pool.submit(execute, cfg)] = job
        try:
            for fut in cf.as_completed(futures):
                job = futures[fut]
                try:
                    summary = fut.result()
                except Exception as exc:  # noqa: BLE001 - reported with the run's name below
                    failures.append((job, exc))
                    for other in futures:
                        other.cancel()
                    continue
                finish(job, summary)
                emit("done-run", {"key": job.key, **job.meta})
        except KeyboardInterrupt:
            for other in futures:
                other.cancel()
            raise
    _raise_failures(failures)


def _run_ray(todo: list[Job], address: str | None, workers: int, emit, finish) -> None:
    try:
        import ray
    except ImportError:
        raise UsageError("--backend ray needs Ray: pip install 'logicpo[ray]'") from None
    started = not ray.is_initialized()
    if started:
        # address None starts a local Ray with this machine's CPUs; "auto" or
        # "ray://host:10001" joins a running cluster
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 **({"num_cpus": workers} if address is None and workers > 1 else {}))
    failures = []
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(execute)
        refs = {}
        for job in todo:
            cfg = _prepared(job, parallel=True)
            emit("run", {"key": job.key, "out": cfg["out"], "resume": cfg["resume"],
                         **job.meta})
            refs[remote.remote(cfg)] = job
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            job = refs[done[0]]
            try:
                summary = ray.get(done[0])
            except Exception as exc:  # noqa: BLE001 - a task's error, reported below
                failures.append((job, getattr(exc, "cause", None) or exc))
                for ref in pending:
                    ray.cancel(ref)
                pending = []
                continue
            finish(job, summary)
            emit("done-run", {"key": job.key, **job.meta})
    finally:
        if started:
            ray.shutdown()
    _raise_failures(failures)


def _raise_failures(failures: list) -> None:
    if not failures:
        return
    job, exc = failures[0]
    if isinstance(exc, LogicpoError):
        raise RunFailed(f"run {job.key} ({job.cfg.out}) failed: {exc.message}",
                        hint=exc.hint) from None
    raise exc
