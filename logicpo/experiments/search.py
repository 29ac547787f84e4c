"""``logicpo search``: successive halving over the one-world-edit neighbours of a loss.

From a start loss ``f(S, params)`` (default ``logistic(DPO, beta=0.1)``, TRL's DPO), every
candidate is ``f(N, params)`` for a structure ``N`` one world-edit away from ``S``
(:func:`logicpo.reasoning.landscape.neighbours`): the same outer function and parameters,
so the only difference is the logic. Degenerate neighbours, neighbours that compute the
start's loss, and neighbours that compute the same function as a candidate already chosen
(equal reduced pairs, :func:`~logicpo.reasoning.landscape.loss_key`) are skipped, and so is
a neighbour the trainer refuses (no gradient for the policy).

Each **round** spends its share of the budget by successive halving: **rung 0** trains
every candidate (and the start) once, with ``seeds[0]`` and ``short_steps``; the best
``1/eta`` by task reward go to **rung 1**, trained with every seed for ``steps``, paired by
seed with the start's rung-1 runs. The next round explores the neighbours of the round's
best candidate (if the budget allows). The order of candidates in a round is a shuffle by
``seed``, so a budget too small for all of them takes a reproducible subset.

The search directory is resumable like a sweep (:mod:`logicpo.experiments.manifest`): the
decisions depend only on the runs' results, so rerunning the same command replays them
from the finished runs and continues where it stopped. With a budget in runs and a fixed
seed, the search is deterministic (on CPU).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from logicpo.errors import LogicpoError, UsageError
from logicpo.experiments import manifest as manifest_file
from logicpo.experiments.report import METRICS, PRIMARY
from logicpo.experiments.runner import Job, run_all
from logicpo.experiments.stats import paired_difference
from logicpo.experiments.sweep import run_name
from logicpo.files import write_atomic
from logicpo.training import run_dir
from logicpo.training.config import TrainConfig

SEARCH_FILES = ("search.json", "search.png", manifest_file.MANIFEST_NAME)
# (the seed stays: it orders the candidates of every round)
_FREE = ("out", "loss", "loss_params", "threads", "device", "resume", "overwrite", "steps")


@dataclass(frozen=True)
class Budget:
    """``runs`` (training runs, rung 0 and 1 alike) or ``minutes`` of wall-clock time."""

    runs: int | None = None
    minutes: float | None = None

    @staticmethod
    def parse(text: str) -> Budget:
        """``40`` or ``40runs``: forty runs; ``30m`` or ``30min``: thirty minutes.

        >>> Budget.parse("40"), Budget.parse("30m")
        (Budget(runs=40, minutes=None), Budget(runs=None, minutes=30.0))
        """
        t = str(text).strip().lower()
        try:
            for suffix in ("minutes", "min", "m"):
                if t.endswith(suffix):
                    minutes = float(t[: -len(suffix)])
                    if not (math.isfinite(minutes) and minutes > 0):
                        raise ValueError
                    return Budget(minutes=minutes)
            runs = int(t[:-4] if t.endswith("runs") else t)
        except ValueError:
            raise UsageError(f"--budget takes a number of runs (40) or minutes (30m), not "
                             f"{text!r}") from None
        if runs < 2:
            raise UsageError("--budget needs at least 2 runs (the start and one candidate)")
        return Budget(runs=runs)

    def text(self) -> str:
        return f"{self.runs} runs" if self.runs is not None else f"{self.minutes:g} minutes"


@dataclass
class Candidate:
    """A loss of the search: the start or a neighbour, its DSL text and its results."""

    name: str            # the structure's name, also the DSL objective's stem
    structure: object    # logicpo.logic.structure.Structure
    definition: str      # pasteable DSL: the structure and the objective
    spec: str            # FILE.lpo:NAME, the file in the search directory
    round: int
    parent: str | None
    edit: str | None
    relation: str | None
    key: tuple = ()
    rung0: dict | None = None                       # {seed: value} of the primary metric
    rung1: dict = field(default_factory=dict)       # {seed: summary}
    rung2: dict = field(default_factory=dict)       # {fresh seed: summary}: confirmation


def _term_text(family: str, name: str, params: tuple) -> str:
    from logicpo.logic.objective import Objective, Term

    return Objective("x", (Term(1.0, family, _Named(name), params),)).terms[0].text()


class _Named:
    """Just a name, for Term.text (which reads only ``structure.name``)."""

    def __init__(self, name: str) -> None:
        self.name = name


def same_loss_as(structure) -> list[str]:
    """The zoo structures (and reference versions of single-model ones) that compute the
    same loss function as ``structure``: equal reduced pairs, not just equal regions.

    >>> from logicpo.logic.structure import Structure
    >>> atoms = ("M(yw)", "M(yl)")                        # worlds TT, FT, TF, FF: 8, 4, 2, 1
    >>> same_loss_as(Structure.from_masks("x", atoms, 0b1010, 0b1101))  # CPO, FF -> bad
    ['sCE']
    >>> same_loss_as(Structure.from_masks("y", atoms, 0b1000, 0b1100))  # CPO, TF -> neither
    []
    """
    from logicpo.logic.structure import ref
    from logicpo.program import zoo
    from logicpo.reasoning.landscape import loss_key

    program = zoo()
    n = len(structure.atoms)
    key = loss_key(structure.ok_mask, structure.bad_mask, n)
    out = []
    for name in program.names_of("structure"):
        known = program.structure(name)
        options = [(name, known)]
        if known.single_model and n == 4:
            options.append((f"ref({name})", ref(known)))
        for label, k in options:
            if k.atoms == structure.atoms and k.degeneracy is None and \
                    loss_key(k.ok_mask, k.bad_mask, n) == key and label not in out:
                out.append(label)
    return out


def resolve_start(start: str, beta: float | None) -> tuple[object, str, tuple]:
    """``(structure, family, params)`` of the start loss: a structure (logistic, with
    ``beta``, default 0.1 as TRL's DPO and CPO), or an objective of one term of weight 1."""
    from logicpo.api import program_for

    program, (short,) = program_for([start])
    if program.kind(short) == "structure":
        s = program.structure(short)
        return s, "logistic", (("beta", 0.1 if beta is None else beta),)
    objective = program.objective(short)
    terms = objective.terms
    if len(terms) != 1 or terms[0].weight != 1:
        raise UsageError(f"the start loss {start} is {objective.text()}: search varies the "
                         "structure of one term, so start from a structure or an objective "
                         "of one term (sigmoid, simpo, ...)")
    params = dict(terms[0].params)
    if beta is not None:
        params["beta"] = beta
    return terms[0].structure, terms[0].family, tuple(params.items())


class Search:
    """The state of one search (see the module docstring); :meth:`run` does it."""

    def __init__(self, cfg: TrainConfig, *, start: str = "DPO", beta: float | None = None,
                 budget: Budget, seeds: list[int], short_steps: int | None = None,
                 eta: int = 3, rounds: int = 3, confirm: int = 0,
                 workers: int = 1, backend: str = "local",
                 address: str | None = None,
                 on_event: Callable[[str, dict], None] | None = None,
                 on_progress: Callable[[dict], None] | None = None) -> None:
        if cfg.resume:
            raise UsageError("search continues by itself: rerun the same command")
        if eta < 2:
            raise UsageError("--eta must be at least 2")
        if not seeds:
            raise UsageError("--seeds needs at least one seed")
        cfg.validate()
        self.cfg, self.budget, self.seeds, self.eta = cfg, budget, list(seeds), eta
        self.rounds = rounds
        if confirm < 0:
            raise UsageError("--confirm must not be negative")
        self.confirm = confirm
        # fresh seeds, never used for choosing: as many as the rung-1 seeds, after them
        self.confirm_seeds = [max(self.seeds) + 1 + i for i in range(len(self.seeds))]
        self.short_steps = short_steps or max(1, cfg.steps // 4)
        self.workers, self.backend, self.address = workers, backend, address
        self.on_event, self.on_progress = on_event, on_progress
        self.out = Path(cfg.out)
        self.start_structure, self.family, self.params = resolve_start(start, beta)
        self.start_text = _term_text(self.family, self.start_structure.name, self.params)
        self.settings = {
            "train": {k: v for k, v in run_dir.absolute_paths(cfg).identity().items()
                      if k not in _FREE},
            "start": self.start_text, "steps": cfg.steps, "short_steps": self.short_steps,
            "seeds": self.seeds, "eta": eta, "rounds": rounds, "confirm": confirm,
            "budget": {"runs": budget.runs, "minutes": budget.minutes}}
        self.candidates: dict[str, Candidate] = {}
        self.order: list[str] = []
        self.runs_used = 0
        self.t0 = time.perf_counter()
        self.seconds: dict[int, list[float]] = {0: [], 1: [], 2: []}  # runs trained here
        self.notes: list[str] = []

    # ------------------------------------------------------------ candidates
    def _add(self, structure, round_: int, parent: str | None, edit: str | None,
             relation: str | None, key: tuple, name: str | None = None) -> Candidate:
        loss_name = f"{name or structure.name}_loss"
        s = structure
        if name is not None:  # the start: self-contained text, whatever its file refers to
            s = structure.from_masks(name, structure.atoms, structure.ok_mask,
                                     structure.bad_mask, origin="neighbour")
        name = s.name
        from logicpo.logic.structure import definition_line
        definition = (f"{definition_line(s)}\n"
                      f"objective {loss_name} = {_term_text(self.family, name, self.params)}")
        path = self.out / "losses" / f"{run_name(name)}.lpo"
        write_atomic(path, definition + "\n")
        c = Candidate(name, structure, definition, f"{path}:{loss_name}", round_, parent, edit,
                      relation, key)
        self.candidates[name] = c
        self.order.append(name)
        return c

    def _neighbours_of(self, origin: Candidate, round_: int) -> list[Candidate]:
        from logicpo.reasoning.landscape import loss_key, neighbours

        seen = {c.key for c in self.candidates.values()}
        fresh = []
        for group in neighbours(origin.structure).groups:
            m = group.members[0]
            if group.degeneracy is not None:
                continue
            ok, bad = m.structure.ok_mask, m.structure.bad_mask
            key = loss_key(ok, bad, len(m.structure.atoms))
            if key in seen:
                continue
            seen.add(key)
            c = self._add(m.structure, round_, origin.name, m.edit, m.relation, key)
            try:
                run_dir.resolve_loss(c.spec, {})
            except LogicpoError as exc:
                self.notes.append(f"{c.name} skipped: {exc.message}")
                self.order.remove(c.name)
                continue
            fresh.append(c)
        random.Random(self.cfg.seed * 1000 + round_).shuffle(fresh)
        return fresh

    # ------------------------------------------------------------ runs
    def _job(self, c: Candidate, rung: int, seed: int) -> Job:
        steps = self.short_steps if rung == 0 else self.cfg.steps
        out = self.out / "runs" / run_name(c.name) / f"rung{rung}-seed{seed}"
        return Job(f"{c.name}/rung{rung}/seed{seed}",
                   self.cfg.replace(loss=c.spec, seed=seed, steps=steps, out=str(out),
                                    overwrite=False),
                   {"loss": c.name, "seed": seed, "rung": rung})

    def _fits(self, rung0: int, rung1: int) -> bool:
        """Whether ``rung0`` short and ``rung1`` full runs more fit in the budget (for a
        budget in minutes: at the mean seconds of the runs trained so far, a full run
        estimated from a short one by its steps until one has been timed)."""
        if self.budget.runs is not None:
            return self.runs_used + rung0 + rung1 <= self.budget.runs
        t0 = _mean(self.seconds[0]) or 30.0
        t1 = _mean(self.seconds[1]) or t0 * (self.cfg.sft_steps + self.cfg.steps) / (
            self.cfg.sft_steps + self.short_steps)
        need = (rung0 * t0 + rung1 * t1) / self.workers
        return time.perf_counter() - self.t0 + need <= self.budget.minutes * 60

    def _train(self, jobs: list[Job]) -> dict[str, dict]:
        jobs = [j for j in jobs if j.key not in self.done]
        if not jobs:
            return {}
        from logicpo.experiments.runner import state

        fresh = {j.key for j in jobs if state(j.cfg) == "new"}

        def finished(job: Job, summary: dict) -> None:
            self.done[job.key] = summary
            self.manifest["runs"][job.key] = {**job.meta, "out": job.cfg.out}
            manifest_file.write(self.out, self.manifest)
            if summary.get("resumed_from") is None and job.key in fresh:
                self.seconds[job.meta["rung"]].append(summary["seconds"])

        self.runs_used += len(jobs)
        return run_all(jobs, workers=self.workers, backend=self.backend,
                       address=self.address, on_event=self.on_event, on_done=finished)

    def _value(self, summary: dict) -> float | None:
        return next(m for m in METRICS if m.key == PRIMARY).of(summary)

    # ------------------------------------------------------------ the search
    def run(self) -> dict:
        """Search within the budget; return the leaderboard (also ``OUT/search.json``)."""
        self.manifest = manifest_file.claim(self.out, "search", self.settings,
                                            overwrite=self.cfg.overwrite)
        if not self.cfg.overwrite and manifest_file.read(self.out) is None and \
                run_dir.existing_files(self.out, SEARCH_FILES):
            raise UsageError(f"'{self.out}' already holds files no search manifest "
                             "describes; nothing was changed",
                             hint="choose another --out, or replace it with --overwrite")
        self.done: dict[str, dict] = {}
        with run_dir.RunLock(self.out):
            if self.cfg.overwrite:
                import shutil

                for sub in ("runs", "losses"):
                    shutil.rmtree(self.out / sub, ignore_errors=True)
                run_dir.clear_run(self.out, extra=SEARCH_FILES)
            manifest_file.write(self.out, self.manifest)
            from logicpo.reasoning.landscape import loss_key

            s = self.start_structure  # its neighbours keep its name: DPO_TFTF_ok, ...
            start = self._add(s, 0, None, None, None,
                              loss_key(s.ok_mask, s.bad_mask, len(s.atoms)),
                              name=f"{s.name}_start")
            self.start = start
            origin = start
            for round_ in range(1, self.rounds + 1):
                if round_ > 1 and not self._fits(1, len(self.seeds)):
                    self.notes.append(f"the budget ran out after round {round_ - 1}")
                    break
                fresh = self._neighbours_of(origin, round_)
                best = self._round(fresh, round_)
                self._publish()
                if best is None:
                    break
                origin = best
            if self.confirm:
                self._confirm()
            return self._publish(final=True)

    def _confirm(self) -> None:
        """Train the ``confirm`` best rung-1 candidates and the start again on fresh seeds
        (rung 2, after the budget): the rung-1 verdicts reuse the seed that chose the
        candidates and compare many candidates, so only this one is a clean test."""
        ranked = sorted((c for c in self.candidates.values()
                         if c is not self.start and c.rung1),
                        key=lambda c: -self._paired(c).mean)[: self.confirm]
        if not ranked:
            return
        self._train([self._job(c, 2, s) for c in [self.start, *ranked]
                     for s in self.confirm_seeds])
        for c in [self.start, *ranked]:
            c.rung2 = {s: self.done[f"{c.name}/rung2/seed{s}"] for s in self.confirm_seeds}
        self.notes.append(f"confirmation: the {len(ranked)} best of rung 1 and the start "
                          f"trained again on fresh seeds {self.confirm_seeds} (beyond the "
                          "budget)")

    def _round(self, fresh: list[Candidate], round_: int) -> Candidate | None:
        """Rung 0 then rung 1 over ``fresh``; the best rung-1 candidate (by mean paired
        difference to the start), or None when the budget ran out."""
        k_seeds = len(self.seeds)
        s0 = self.seeds[0]
        # the start's short run first: it also times a short run for a budget in minutes
        self._train([self._job(self.start, 0, s0)])
        start1 = sum(1 for s in self.seeds if f"{self.start.name}/rung1/seed{s}"
                     not in self.done)
        n = len(fresh)
        # the most candidates whose rung 0 and rung 1 both fit in what is left
        while n > 0 and not self._fits(n, start1 + math.ceil(n / self.eta) * k_seeds):
            n -= 1
        if n == 0:
            self.notes.append(f"round {round_}: the budget left is too small for a rung 0 "
                              "and a rung 1 of even one candidate; stopped")
            return None
        if n < len(fresh):
            self.notes.append(f"round {round_}: {n} of {len(fresh)} new candidates fit in "
                              "the budget (a seeded random subset)")
        chosen = fresh[:n]
        self._train([self._job(c, 0, s0) for c in chosen])
        base = self._value(self.done[f"{self.start.name}/rung0/seed{s0}"])
        for c in chosen:
            c.rung0 = {s0: self._value(self.done[f"{c.name}/rung0/seed{s0}"])}
        ranked = sorted(chosen, key=lambda c: -(c.rung0[s0] - base))
        survivors = ranked[: math.ceil(n / self.eta)]
        self._train([self._job(self.start, 1, s) for s in self.seeds]
                    + [self._job(c, 1, s) for c in survivors for s in self.seeds])
        for c in [self.start, *survivors]:
            c.rung1 = {s: self.done[f"{c.name}/rung1/seed{s}"] for s in self.seeds}
        scored = [(self._paired(c).mean, i, c) for i, c in enumerate(survivors)]
        return max(scored)[2] if scored else None

    def _paired(self, c: Candidate, rung: int = 1):
        seeds = self.seeds if rung == 1 else self.confirm_seeds
        runs, base = (c.rung1, self.start.rung1) if rung == 1 else (c.rung2, self.start.rung2)
        return paired_difference([self._value(runs[s]) for s in seeds],
                                 [self._value(base[s]) for s in seeds])

    def leaderboard(self) -> list[dict]:
        rows = []
        s0 = self.seeds[0]
        base0 = self.done.get(f"{self.start.name}/rung0/seed{s0}")
        for name in self.order:
            c = self.candidates[name]
            if c is self.start:
                continue
            row = {"name": c.name, "round": c.round, "parent": c.parent, "edit": c.edit,
                   "relation": c.relation, "same_loss_as": same_loss_as(c.structure),
                   "definition": c.definition, "spec": c.spec,
                   "rung": None, "difference": None, "verdict": "not run"}
            if c.rung1 and self.start.rung1:
                d = self._paired(c)
                row.update(rung=1, difference=d.to_json(), verdict=d.verdict(),
                           task_reward=sum(self._value(c.rung1[s]) for s in self.seeds)
                           / len(self.seeds))
                if c.rung2 and self.start.rung2:
                    d2 = self._paired(c, 2)
                    row["confirmation"] = {**d2.to_json(), "seeds": self.confirm_seeds,
                                           "verdict": d2.verdict()}
            elif c.rung0 is not None and base0 is not None:
                v = c.rung0[s0]
                row.update(rung=0, difference={"mean": v - self._value(base0), "low": None,
                                               "high": None, "n": 1, "sd": None},
                           verdict="rung 0 only (one short run)", task_reward=v)
            rows.append(row)
        rank = {None: 2, 0: 1, 1: 0}
        rows.sort(key=lambda r: (rank[r["rung"]], -(r["difference"] or {"mean": -1e9})["mean"]))
        return rows

    def _publish(self, final: bool = False) -> dict:
        rows = self.leaderboard()
        start_reward = None
        if self.start.rung1:
            vals = [self._value(self.start.rung1[s]) for s in self.seeds]
            start_reward = sum(vals) / len(vals)
        better = [r for r in rows if r["verdict"] == "better"]
        confirmed = [r for r in rows if r.get("confirmation", {}).get("verdict") == "better"]
        tested = [r for r in rows if "confirmation" in r]
        if tested:
            conclusion = (
                f"{len(confirmed)} of the {len(tested)} best candidates beat "
                f"{self.start_text} on task reward beyond noise on fresh seeds "
                f"{self.confirm_seeds} (paired 95% t interval excludes 0)"
                + (f": {', '.join(r['name'] for r in confirmed)}" if confirmed else
                   "; none is confirmed, whatever rung 1 said"))
        elif better:
            conclusion = (f"{len(better)} candidate(s) beat {self.start_text} on task reward "
                          f"beyond noise (paired 95% t interval over {len(self.seeds)} seeds "
                          f"excludes 0): {', '.join(r['name'] for r in better)}")
        else:
            conclusion = (f"no candidate beat {self.start_text} on task reward beyond noise "
                          f"(no paired 95% t interval over {len(self.seeds)} seeds lies "
                          "above 0)")
        out = {"start": self.start_text, "start_structure": self.start.definition,
               "start_task_reward": start_reward, "task": self.cfg.task, "data": self.cfg.data,
               "steps": self.cfg.steps, "short_steps": self.short_steps, "seeds": self.seeds,
               "eta": self.eta, "budget": self.budget.text(), "runs_used": self.runs_used,
               "runs_trained_or_read": len(self.done), "candidates": rows,
               "conclusion": conclusion, "notes": self.notes, "complete": final,
               "minutes": round((time.perf_counter() - self.t0) / 60, 2),
               "interval": "Student-t 95% over seeds; differences paired by seed",
               "out": str(self.out)}
        write_atomic(self.out / "search.json", json.dumps(out, indent=2) + "\n")
        if self.on_progress is not None:
            self.on_progress(out)
        return out


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def search(cfg: TrainConfig, **kw) -> dict:
    """Run :class:`Search` (see the module docstring); return its leaderboard."""
    return Search(cfg, **kw).run()
