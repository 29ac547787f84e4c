"""A sweep: every loss with every seed, same model and data; a table with intervals.

A sweep is a directory: ``OUT/manifest.json`` (the command's settings and its runs), one run
directory per loss and seed (``OUT/<label>/seed<S>/``), and the report (``sweep.json``,
``sweep.png``), which :func:`report` rebuilds from what is on disk. Rerunning the same
command on the same ``OUT`` skips finished runs and resumes interrupted ones; other settings
are refused (:mod:`logicpo.experiments.manifest`).

>>> run_name("0.8*sigmoid + 0.2*bco_pair")
'0.8_sigmoid_0.2_bco_pair'
>>> parse_seeds("3"), parse_seeds("0,4,7")
([0, 1, 2], [0, 4, 7])
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from pathlib import Path

from logicpo.errors import UsageError
from logicpo.experiments import manifest as manifest_file
from logicpo.experiments import report as report_rows
from logicpo.experiments.runner import Job, run_all, summary_of
from logicpo.files import write_atomic
from logicpo.training import run_dir
from logicpo.training.config import TrainConfig

#: What a sweep writes into its directory besides one run directory per loss and seed.
SWEEP_FILES = ("sweep.json", "sweep.png", manifest_file.MANIFEST_NAME)
#: Settings a rerun may change without changing the experiment.
_FREE = ("out", "seed", "loss", "loss_params", "threads", "device", "resume", "overwrite")


def run_name(spec: str) -> str:
    """A directory name for a loss spec (files keep their stem and the objective's name)."""
    name = re.sub(r"[^A-Za-z0-9.]+", "_", spec.replace(".lpo:", "_")).strip("_.")
    return name or "loss"


def parse_seeds(text: str | int) -> list[int]:
    """``--seeds K`` (the seeds 0 .. K-1) or a comma-separated list of seeds."""
    text = str(text).strip()
    try:
        if "," not in text:
            k = int(text)
            if k < 1:
                raise UsageError("--seeds K needs K >= 1")
            return list(range(k))
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--seeds takes a count K or a list such as 0,1,2, not {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise UsageError(f"--seeds needs distinct non-negative seeds, not {text!r}")
    return seeds


def settings_of(cfg: TrainConfig, losses: list[dict], seeds: list[int], baseline: str) -> dict:
    """What makes a sweep this sweep: a rerun with other settings is another experiment."""
    train = {k: v for k, v in run_dir.absolute_paths(cfg).identity().items() if k not in _FREE}
    return {"train": train, "loss_params": cfg.loss_params,
            "losses": [[x["label"], x["spec"]] for x in losses], "seeds": seeds,
            "baseline": baseline}


def plan(cfg: TrainConfig, specs: list[str], labels: list[str] | None, seeds: list[int],
         baseline: str | None) -> tuple[list[dict], list[Job], str]:
    """The losses (label, spec, run name), the jobs and the baseline label of a sweep."""
    if not specs:
        raise UsageError("--losses needs at least one loss")
    labels = list(labels) if labels else list(specs)
    names = [run_name(label) for label in labels]
    if len(set(names)) != len(names):
        raise UsageError("two losses of the sweep map to the same run directory",
                         hint="give them labels: --losses a=SPEC,b=SPEC")
    baseline = labels[0] if baseline is None else baseline
    if baseline not in labels:
        # the baseline may be given by its spec as well as by its label
        by_spec = [label for label, spec in zip(labels, specs, strict=True) if spec == baseline]
        if not by_spec:
            raise UsageError(f"--baseline {baseline!r} is not one of the sweep's losses "
                             f"({', '.join(labels)})")
        baseline = by_spec[0]
    losses = [{"label": label, "spec": spec, "name": name}
              for label, spec, name in zip(labels, specs, names, strict=True)]
    jobs = [Job(f"{x['label']}/seed{s}",
                cfg.replace(loss=x["spec"], seed=s, out=str(Path(cfg.out) / x["name"] / f"seed{s}")),
                {"loss": x["label"], "seed": s})
            for x in losses for s in seeds]
    return losses, jobs, baseline


def sweep(cfg: TrainConfig, specs: list[str], *, labels: list[str] | None = None,
          seeds: list[int] | None = None, baseline: str | None = None, workers: int = 1,
          backend: str = "local", address: str | None = None,
          on_event: Callable[[str, dict], None] | None = None,
          finish: Callable[[dict], None] | None = None) -> dict:
    """Train every loss with every seed into ``cfg.out``; return the report.

    Everything is checked before the first run trains: the losses compile, the directory
    is free, or holds this same sweep (which is then continued), or ``cfg.overwrite``.
    The directory is locked while the sweep runs; the report goes to ``OUT/sweep.json``
    and ``finish(report)`` (the CLI's picture) runs under that lock."""
    from logicpo.training import distributed

    if cfg.resume:
        raise UsageError("sweep continues by itself: rerun the same command (without "
                         "--resume) and finished runs are skipped, interrupted ones resumed")
    seeds = list(seeds) if seeds is not None else [cfg.seed]
    cfg.validate()
    losses, jobs, baseline = plan(cfg, specs, labels, seeds, baseline)
    for x in losses:  # a mistyped last loss stops the sweep before the first run
        x.update(report_rows.loss_info(x["spec"], cfg.loss_params))
    settings = settings_of(cfg, losses, seeds, baseline)
    _check_free(cfg, jobs)
    manifest = manifest_file.claim(cfg.out, "sweep", settings, overwrite=cfg.overwrite)
    manifest["losses"] = losses
    main = distributed.is_main_process()
    with run_dir.RunLock(cfg.out) if main else contextlib.nullcontext():
        if cfg.overwrite and main:
            run_dir.clear_run(cfg.out, extra=SWEEP_FILES)
            for job in jobs:
                run_dir.clear_run(job.cfg.out)
        jobs = [j.__class__(j.key, j.cfg.replace(overwrite=False), j.meta) for j in jobs]
        if main:
            manifest_file.write(cfg.out, manifest)

        def done(job: Job, summary: dict) -> None:
            manifest["runs"][job.key] = {**job.meta, "out": job.cfg.out, "status": "done"}
            if main:
                manifest_file.write(cfg.out, manifest)

        run_all(jobs, workers=workers, backend=backend, address=address, on_event=on_event,
                on_done=done)
        out = report(cfg.out) if main else {}
        if main:
            write_atomic(Path(cfg.out) / "sweep.json", json.dumps(out, indent=2) + "\n")
        if finish is not None and main:
            finish(out)
    return out


def _check_free(cfg: TrainConfig, jobs: list[Job]) -> None:
    """Refuse a directory that holds something this sweep would not continue."""
    run_dir.check_out(cfg.out, resume=not cfg.overwrite, overwrite=cfg.overwrite)  # a file?
    if cfg.overwrite or manifest_file.read(cfg.out) is not None:
        return
    found = run_dir.existing_files(cfg.out, SWEEP_FILES)
    found += [str(Path(j.cfg.out).relative_to(cfg.out)) for j in jobs
              if run_dir.existing_files(j.cfg.out)]
    if found:
        raise UsageError(f"'{cfg.out}' already holds runs that no sweep manifest describes "
                         f"({', '.join(found[:4])}); nothing was changed",
                         hint="replace them with --overwrite, or choose another --out")


def report(out: str | Path) -> dict:
    """The table of the sweep in ``out``, from the runs on disk (``sweep --report DIR``)."""
    m = manifest_file.read(out)
    if m is None or m.get("command") != "sweep":
        raise UsageError(f"'{out}' holds no sweep (no {manifest_file.MANIFEST_NAME} written "
                         "by `logicpo sweep`)")
    settings, losses = m["settings"], m["losses"]
    seeds = settings["seeds"]
    summaries = {}
    for x in losses:
        for s in seeds:
            path = Path(out) / x["name"] / f"seed{s}"
            if (path / "summary.json").is_file():
                summaries[(x["label"], s)] = summary_of(path)
    rows = report_rows.rows(losses, seeds, summaries, settings["baseline"])
    missing = [f"{x['label']}/seed{s}" for x in losses for s in seeds
               if (x["label"], s) not in summaries]
    train = settings["train"]
    return {"task": train.get("task"), "data": train.get("data"), "steps": train.get("steps"),
            "seeds": seeds, "baseline": settings["baseline"],
            "interval": "Student-t 95% over seeds; differences paired by seed",
            "runs": rows, "missing": missing, "out": str(out)}
