"""The landscape of losses: the neighbours of a structure and the census of all structures.

Two structures compute the same loss function exactly when ``WMC(ok)/WMC(bad)`` are equal
rational functions of the atom weights (spec section 3). This module decides that exactly,
with no polynomial arithmetic at run time, from one fact about the polynomials involved:

* ``WMC(m)`` is multilinear, so a factorisation ``WMC(m) = g * h`` puts the atoms of ``g``
  and of ``h`` in disjoint sets, and in the world basis the coefficient table of ``m`` is then
  an outer product of two 0/1 vectors: ``m`` is a *rectangle* ``A x B``. Splitting rectangles
  until no split is left gives the unique factorisation of ``WMC(m)`` into irreducible
  factors, each the WMC of a region (a *factor cylinder*: a mask over all atoms that depends
  exactly on its block of atoms).
* Dividing ``WMC(ok)`` and ``WMC(bad)`` by their common factors therefore leaves the WMCs of
  two regions again: every ratio has a *reduced pair* ``(ok', bad')`` of coprime regions, and
  two coprime pairs with equal ratios are equal (``t1*b2 = t2*b1`` with ``t1, b1`` coprime
  forces ``t1 = c*t2``, and ``c = 1`` because both have 0/1 coefficients).

So the reduced pair is a canonical form of the loss function, and the number of distinct
non-degenerate loss functions is the number of coprime pairs (see ``docs/landscape.md``).

>>> [bin(f) for f in factors(0b1000, 2)]   # TT alone: M(yw) & M(yl) = w_pc * w_pr
['0b1010', '0b1100']
>>> [bin(m) for m in reduced_pair(0b1000, 0b0100, 2)]   # (TT, FT): w_pr cancels, CE is left
['0b1010', '0b101']
>>> census(2).distinct
186
"""

from __future__ import annotations

import itertools
import json
import random
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from logicpo.files import InputError, parse_json, read_text, write_atomic
from logicpo.logic.formulas import ATOMS_REF, ATOMS_SINGLE
from logicpo.logic.structure import Degeneracy, Structure, definition_line
from logicpo.logic.truth import World, atom_mask, display_order, full_mask
from logicpo.reasoning.bitmask import structure_entails_masks
from logicpo.reasoning.census import count_census

# ---------------------------------------------------------------- factorisation of regions


@cache
def _atom_masks(n: int) -> tuple[int, ...]:
    return tuple(atom_mask(i, n) for i in range(n))


def _exists(m: int, i: int, n: int) -> int:
    """``exists atom_i. m``: the cylinder over atom ``i`` of region ``m``."""
    a = _atom_masks(n)[i]
    step = 1 << i
    return m | ((m & a) >> step) | ((m & ~a & full_mask(n)) << step)


def _keep(m: int, block: tuple[int, ...], n: int) -> int:
    """Project ``m`` onto the atoms in ``block`` (the others quantified away)."""
    for i in range(n):
        if i not in block:
            m = _exists(m, i, n)
    return m


def support(m: int, n: int) -> tuple[int, ...]:
    """The atoms ``WMC(m)`` depends on."""
    return tuple(i for i in range(n) if _exists(m, i, n) != m)


def factors(m: int, n: int) -> tuple[int, ...]:
    """The irreducible factors of ``WMC(m)``, each as its factor cylinder (a region mask).

    ``m`` is the conjunction of its factor cylinders; the empty tuple is the constant 1
    (``m`` is every world); ``m = 0`` (the zero polynomial) has no factorisation.
    """
    if m == 0:
        raise ValueError("the empty region has no factorisation")
    out = []
    rest = support(m, n)
    while rest:
        first, others = rest[0], rest[1:]
        for size in range(len(others) + 1):
            block = next((b for b in itertools.combinations(others, size)
                          if _splits(m, (first, *b), rest, n)), None)
            if block is not None:
                block = (first, *block)
                break
        out.append(_keep(m, block, n))
        rest = tuple(i for i in rest if i not in block)
        m = _keep(m, rest, n)
    return tuple(sorted(out))


def _splits(m: int, block: tuple[int, ...], rest: tuple[int, ...], n: int) -> bool:
    if len(block) == len(rest):
        return True
    other = tuple(i for i in rest if i not in block)
    return m == _keep(m, block, n) & _keep(m, other, n)


def reduced_pair(ok: int, bad: int, n: int) -> tuple[int, int]:
    """``(ok', bad')``: the coprime regions with ``WMC(ok')/WMC(bad') = WMC(ok)/WMC(bad)``."""
    return _cancel(factors(ok, n), factors(bad, n), full_mask(n))


def _cancel(fo: tuple[int, ...], fb: tuple[int, ...], full: int) -> tuple[int, int]:
    """Drop the common factors; each side is the conjunction of its remaining cylinders."""
    ok_r, bad_r = full, full
    for f in fo:
        if f not in fb:
            ok_r &= f
    for f in fb:
        if f not in fo:
            bad_r &= f
    return ok_r, bad_r


def loss_key(ok: int, bad: int, n: int) -> tuple:
    """A canonical key of the loss function of ``(ok, bad)``: equal keys, equal losses."""
    deg = _degeneracy(ok, bad)
    if deg is not None:
        return ("degenerate", deg.name)
    return ("ratio", *reduced_pair(ok, bad, n))


def _degeneracy(ok: int, bad: int) -> Degeneracy | None:
    """``Structure.degeneracy`` from two masks, without building (and simplifying) a Structure."""
    if ok == 0 and bad == 0:
        return Degeneracy.UNDEFINED
    if ok == 0:
        return Degeneracy.INFINITE
    if bad == 0:
        return Degeneracy.ZERO
    if ok == bad:
        return Degeneracy.CONSTANT
    return None


# ---------------------------------------------------------------- neighbours

STATES = ("ok", "bad", "both", "neither")


@dataclass(frozen=True)
class Neighbour:
    """A structure one world-edit away from ``origin``."""

    structure: Structure
    world: World
    before: str  # how the origin counts the world: ok, bad, both, neither
    after: str
    relation: str  # stronger (it entails the origin), weaker, or incomparable
    degeneracy: Degeneracy | None
    same_as: tuple[str, ...]  # zoo structures with exactly these regions
    same_loss_as_origin: bool

    @property
    def edit(self) -> str:
        return f"{self.world.short}: {self.before} -> {self.after}"

    @property
    def definition(self) -> str:
        """The neighbour as one line of the DSL, ready to paste into a ``.lpo`` file
        (``cond: true`` and ``add: false`` are the defaults and are left out)."""
        return definition_line(self.structure)


#: The keys of :meth:`Structure.to_json` that a neighbour's JSON carries.
_MEMBER_KEYS = ("name", "ok", "bad", "core", "cond", "add")


@dataclass(frozen=True)
class NeighbourGroup:
    """Neighbours that compute one and the same loss function."""

    members: tuple[Neighbour, ...]
    closed_form: str

    @property
    def degeneracy(self) -> Degeneracy | None:
        return self.members[0].degeneracy

    def to_json(self) -> dict:
        first = self.members[0].structure.to_json(full=False)
        return {
            "closed_form": self.closed_form,
            "degenerate": self.degeneracy.name.lower() if self.degeneracy else None,
            "same_loss_as_origin": self.members[0].same_loss_as_origin,
            "members": [{
                "edit": m.edit, "world": m.world.bits, "before": m.before, "after": m.after,
                "relation": m.relation, "same_as": list(m.same_as),
                **{k: v for k, v in m.structure.to_json(full=False).items() if k in _MEMBER_KEYS},
                "definition": m.definition,
            } for m in self.members],
            "ok": first["ok"], "bad": first["bad"],
        }


@dataclass(frozen=True)
class Neighbourhood:
    origin: Structure
    groups: tuple[NeighbourGroup, ...]

    @property
    def neighbours(self) -> list[Neighbour]:
        return [m for g in self.groups for m in g.members]

    def to_json(self) -> dict:
        ok, bad = self.origin.regions()
        counts = {r: sum(1 for m in self.neighbours if m.relation == r)
                  for r in ("stronger", "weaker", "incomparable")}
        return {"name": self.origin.name, "atoms": list(self.origin.atoms), "ok": ok, "bad": bad,
                "neighbours": len(self.neighbours), "distinct_losses": len(self.groups),
                "degenerate": sum(1 for m in self.neighbours if m.degeneracy is not None),
                "relations": counts, "groups": [g.to_json() for g in self.groups]}


def _state(ok: int, bad: int, k: int) -> str:
    return {(1, 1): "both", (1, 0): "ok", (0, 1): "bad", (0, 0): "neither"}[
        (ok >> k) & 1, (bad >> k) & 1]


def _set_state(ok: int, bad: int, k: int, state: str) -> tuple[int, int]:
    bit = 1 << k
    ok, bad = ok & ~bit, bad & ~bit
    if state in ("ok", "both"):
        ok |= bit
    if state in ("bad", "both"):
        bad |= bit
    return ok, bad


def neighbours(origin: Structure, known: list[Structure] = ()) -> Neighbourhood:
    """Every structure one world-edit away from ``origin``, classified and merged.

    An edit moves one world between ok, bad, both and neither (``3 * 2^n`` edits). Each
    neighbour is compared with the bitmask order (stronger: it entails ``origin``), marked
    when degenerate, named after any structure in ``known`` with the same regions, and
    neighbours with equal loss functions (equal reduced pairs) are merged into one group.

    >>> from logicpo.program import zoo
    >>> hood = neighbours(zoo().structure("CPO"), [zoo().structure("cCPO")])
    >>> len(hood.neighbours), len(hood.groups)
    (12, 12)
    >>> [(m.edit, m.relation) for m in hood.neighbours if m.same_as]
    [('TT: both -> ok', 'weaker')]
    """
    from logicpo.logic.closed_form import closed_form

    n = len(origin.atoms)
    ok0, bad0 = origin.ok_mask, origin.bad_mask
    by_regions: dict[tuple[int, int], list[str]] = {}
    for s in known:
        if s.atoms == origin.atoms:
            by_regions.setdefault((s.ok_mask, s.bad_mask), []).append(s.name)
    origin_key = loss_key(ok0, bad0, n)
    groups: dict[tuple, list[Neighbour]] = {}
    for k in display_order(n):
        world = World(origin.atoms, k)
        before = _state(ok0, bad0, k)
        for after in STATES:
            if after == before:
                continue
            ok, bad = _set_state(ok0, bad0, k, after)
            stronger = structure_entails_masks(ok, bad, ok0, bad0) == 0
            weaker = structure_entails_masks(ok0, bad0, ok, bad) == 0
            relation = "stronger" if stronger else "weaker" if weaker else "incomparable"
            same = tuple(by_regions.get((ok, bad), ()))
            # A DSL identifier naming the edit (not a zoo name, which a paste would shadow).
            name = f"{origin.name}_{world.short}_{after}"
            s = Structure.from_masks(name, origin.atoms, ok, bad, origin="neighbour")
            key = loss_key(ok, bad, n)
            groups.setdefault(key, []).append(Neighbour(
                s, world, before, after, relation, s.degeneracy, same, key == origin_key))
    out = [NeighbourGroup(tuple(ms), closed_form(ms[0].structure).text)
           for ms in groups.values()]
    return Neighbourhood(origin, tuple(out))


# ---------------------------------------------------------------- census

# Fingerprints are evaluations modulo this prime (2^31 - 1, so products fit in int64).
PRIME = 2_147_483_647
FINGERPRINT_POINTS = 2


@dataclass
class CensusResult:
    """The census of the ``4^(2^n)`` pairs ``(ok, bad)`` over ``n`` atoms."""

    atoms: int
    pairs: int
    degenerate: int
    nondegenerate: int
    distinct: int  # distinct non-degenerate loss functions (= coprime pairs)
    distinct_with_degenerate: int  # plus the degenerate functions: inf, 0, log 2, undefined
    distinct_by_inclusion_exclusion: int  # the same number, counted (reasoning.census)
    targets: dict[str, dict[str, int]]  # pairs computing exactly a named structure
    reduction_violations: int  # reduced pairs not coprime, or failing the fingerprint
    fingerprint_error_bound: float
    rows_done: int
    rows_total: int
    seconds: float
    peak_rss_mib: float
    workers: int
    method: str = "enumerate every ok row; reduce the pairs sharing a factor, the rest are coprime"
    resumed_rows: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.rows_done == self.rows_total

    def to_json(self) -> dict:
        out = asdict(self)
        out["complete"] = self.complete
        return out


@cache
def factor_table(n: int) -> tuple[tuple[int, ...] | None, ...]:
    """``factors(m, n)`` for every region ``m`` (None for the empty region)."""
    return tuple(None if m == 0 else factors(m, n) for m in range(1 << (1 << n)))


def census_targets(n: int) -> dict[str, tuple[int, int]]:
    """The zoo structures over ``n`` atoms whose multiplicity the census reports."""
    if n not in (2, 4):
        return {}
    from logicpo.program import zoo

    program = zoo()
    atoms = ATOMS_SINGLE if n == 2 else ATOMS_REF
    out = {}
    for name in program.names_of("structure"):
        s = program.structure(name)
        if s.atoms == atoms and s.degeneracy is None:
            out[name] = (s.ok_mask, s.bad_mask)
    return out


class _Tables:
    """Per-process tables for the census of one ``n`` (built once, inherited by fork).

    Almost every pair is coprime, so a row is handled as: the few ``b`` sharing a factor
    with ``t`` (looked up from an index of factor -> regions holding it) are reduced and
    checked one by one; all the others are coprime and each is its own canonical form.
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.size = 1 << (1 << n)
        self.full = self.size - 1
        self.table = factor_table(n)
        self.holders: dict[int, list[int]] = {}
        for m, fs in enumerate(self.table):
            for f in fs or ():
                self.holders.setdefault(f, []).append(m)
        rng = random.Random(seed)
        # WMC(m) at random points mod PRIME for every region m: the sum of its world weights,
        # built from m without its lowest world.
        self.wmc = []
        for _ in range(FINGERPRINT_POINTS):
            x = [rng.randrange(2, PRIME - 1) for _ in range(n)]
            world = []
            for k in range(1 << n):
                w = 1
                for i in range(n):
                    w = w * (x[i] if (k >> i) & 1 else 1 - x[i]) % PRIME
                world.append(w)
            h = [0] * self.size
            for m in range(1, self.size):
                h[m] = (h[m & (m - 1)] + world[(m & -m).bit_length() - 1]) % PRIME
            self.wmc.append(h)
        # Regions by their fingerprint at the first point, to find b with t*B = T*b fast.
        self.by_print: dict[int, list[int]] = {}
        for m, v in enumerate(self.wmc[0]):
            self.by_print.setdefault(v, []).append(m)
        self.targets = {name: (ok, bad, *reduced_pair(ok, bad, n))
                        for name, (ok, bad) in census_targets(n).items()}

    def _same_ratio(self, t: int, b: int, t2: int, b2: int) -> bool:
        """``WMC(t)*WMC(b2) = WMC(t2)*WMC(b)`` at every fingerprint point."""
        return all(h[t] * h[b2] % PRIME == h[t2] * h[b] % PRIME for h in self.wmc)

    def row(self, t: int) -> dict[str, int]:
        """Counts for every pair ``(t, b)``, b over all regions."""
        out = {"degenerate": 0, "coprime": 0, "violations": 0}
        if t == 0:
            out["degenerate"] = self.size
            for name in self.targets:
                out[f"{name}:canonical"] = out[f"{name}:fingerprint"] = 0
            return out
        out["degenerate"] = 2  # b = 0 and b = t
        ft = self.table[t]
        sharing = set().union(*(self.holders[f] for f in ft)) - {t}
        # Every b outside `sharing` (and not 0 or t) is coprime with t.
        out["coprime"] = self.size - 2 - len(sharing)
        reduced = {}
        for b in sharing:
            ok_r, bad_r = _cancel(ft, self.table[b], self.full)
            reduced[b] = (ok_r, bad_r)
            if (set(self.table[ok_r]) & set(self.table[bad_r])
                    or not self._same_ratio(t, b, ok_r, bad_r)):
                out["violations"] += 1
        for name, (tok, tbad, rok, rbad) in self.targets.items():
            canon = int(t == rok) + sum(1 for r in reduced.values() if r == (rok, rbad))
            out[f"{name}:canonical"] = canon
            # Independent of the factorisation: WMC(t)*WMC(target bad) = WMC(target ok)*WMC(b).
            h0 = self.wmc[0]
            inv = pow(h0[tok], PRIME - 2, PRIME)
            want = h0[t] * h0[tbad] % PRIME * inv % PRIME
            out[f"{name}:fingerprint"] = sum(
                1 for b in self.by_print.get(want, ()) if b not in (0, t)
                and self._same_ratio(t, b, tok, tbad))
        return out


_TABLES: _Tables | None = None


def _init_worker(n: int, seed: int) -> None:
    global _TABLES
    if _TABLES is None or _TABLES.n != n:
        _TABLES = _Tables(n, seed)


def _run_chunk(args: tuple[int, int, int, int]) -> tuple[int, dict[str, int]]:
    n, seed, start, stop = args
    _init_worker(n, seed)
    total: dict[str, int] = {}
    for t in range(start, stop):
        for k, v in _TABLES.row(t).items():
            total[k] = total.get(k, 0) + v
    return start, total


def _read_state(path: Path, settings: dict) -> dict[str, dict[str, int]]:
    """The finished chunks saved in a census state file written with the same ``settings``."""
    try:
        saved = parse_json(read_text(path, "census state file"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not a census state file (invalid JSON: {exc.msg}); "
                         "delete it or pass another --state") from None
    chunks = saved.get("chunks") if isinstance(saved, dict) else None
    if not isinstance(chunks, dict) or not all(
            isinstance(k, str) and k.isdigit() and isinstance(v, dict) for k, v in chunks.items()):
        raise InputError(f"{path} is not a census state file; delete it or pass another --state")
    mine = {k: saved.get(k) for k in settings}
    if mine != settings:
        theirs = ", ".join(f"{k}={v}" for k, v in mine.items())
        raise InputError(f"{path} holds a census with other settings ({theirs}); resuming "
                         "would replace it: pass another --state")
    return chunks


def census(n: int, *, workers: int = 1, state: Path | None = None, chunk: int | None = None,
           seed: int = 20251124, max_seconds: float | None = None,
           progress: Callable[[int, int], None] | None = None) -> CensusResult:
    """Count the degenerate pairs and the distinct loss functions over ``n`` atoms.

    Every pair ``(ok, bad)`` is accounted for, one ok row at a time: a pair is degenerate
    when ok or bad is empty or ok = bad; otherwise it is a new loss function exactly when
    it is coprime (its own canonical form). In a row ``t`` only the regions sharing a factor
    with ``t`` (found through an index) are reduced one by one; every other region is
    coprime with ``t`` and is counted without being visited. Every reduction is checked: the
    reduced pair must be coprime, and ``WMC(t)*WMC(b') = WMC(t')*WMC(b)`` must hold at
    ``FINGERPRINT_POINTS`` random points modulo ``PRIME``. The count of distinct losses is
    recomputed without enumerating (:func:`logicpo.reasoning.census.count_census`) as a
    cross-check.

    ``state`` makes the run resumable: finished chunks of rows are saved there as they
    complete and skipped on the next call. ``max_seconds`` stops early (the result then says
    ``complete: False``). ``progress(done_rows, total_rows)`` is called as chunks finish.

    >>> r = census(2)
    >>> r.pairs, r.degenerate, r.distinct, r.targets["CPO"]["canonical"]
    (256, 46, 186, 1)
    """
    start_time = time.perf_counter()
    size = 1 << (1 << n)
    chunk = chunk or max(1, min(256, size // 64))
    done: dict[str, dict[str, int]] = {}
    if state is not None and Path(state).exists():
        done = _read_state(state, {"atoms": n, "seed": seed, "chunk": chunk})
    resumed = sum(min(chunk, size - int(s)) for s in done)
    todo = [(n, seed, s, min(size, s + chunk)) for s in range(0, size, chunk)
            if str(s) not in done]
    rows_done = resumed
    if progress:
        progress(rows_done, size)

    def save() -> None:
        if state is None:
            return
        write_atomic(state, json.dumps({"atoms": n, "seed": seed, "chunk": chunk,
                                        "chunks": done}))

    def record(start: int, counts: dict[str, int]) -> bool:
        nonlocal rows_done
        done[str(start)] = counts
        rows_done += min(chunk, size - start)
        save()
        if progress:
            progress(rows_done, size)
        return max_seconds is not None and time.perf_counter() - start_time > max_seconds

    if workers <= 1 or len(todo) <= 1:
        for job in todo:
            if record(*_run_chunk(job)):
                break
    else:
        import multiprocessing

        # Build the tables once here; forked workers inherit them.
        _init_worker(n, seed)
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(n, seed)) as pool:
            for result in pool.imap_unordered(_run_chunk, todo):
                if record(*result):
                    pool.terminate()
                    break

    totals: dict[str, int] = {}
    for counts in done.values():
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
    targets: dict[str, dict[str, int]] = {}
    for key, v in totals.items():
        if ":" in key:
            name, how = key.split(":")
            targets.setdefault(name, {})[how] = v
    complete = rows_done == size
    degenerate = totals.get("degenerate", 0)
    coprime = totals.get("coprime", 0)
    scanned = rows_done * size
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    # Schwartz-Zippel: a non-zero polynomial of degree <= 2n vanishes at a random point
    # mod PRIME with probability <= 2n/PRIME; all points must vanish for a wrong answer.
    bound = scanned * (2 * n / PRIME) ** FINGERPRINT_POINTS
    degenerate_classes = 4  # undefined, +inf, 0, log 2: all occur for every n >= 1
    return CensusResult(
        atoms=n, pairs=size * size, degenerate=degenerate,
        nondegenerate=scanned - degenerate, distinct=coprime,
        distinct_with_degenerate=coprime + degenerate_classes,
        distinct_by_inclusion_exclusion=count_census(n).distinct,
        targets=targets, reduction_violations=totals.get("violations", 0),
        fingerprint_error_bound=bound, rows_done=rows_done, rows_total=size,
        seconds=time.perf_counter() - start_time, peak_rss_mib=peak, workers=max(1, workers),
        resumed_rows=resumed,
        notes=[] if complete else [f"partial: {rows_done} of {size} ok rows done"])
