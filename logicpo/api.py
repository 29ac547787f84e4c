"""Convenience entry points by name: ``logicpo.structure``, ``logicpo.compare``, ``logicpo.lattice``.

Names are looked up in the built-in zoo plus any ``files``; a name may also be
written ``path/to/file.lpo:name``.

>>> import logicpo
>>> logicpo.compare("DPO", "refcCPO").relation.value
'stronger'
>>> sorted(logicpo.lattice(["CPO", "cCPO", "ORPO"]).edges)
[('CPO', 'cCPO'), ('ORPO', 'cCPO')]
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from logicpo.logic.structure import Structure
from logicpo.program import Program, load
from logicpo.reasoning.lattice import Lattice
from logicpo.reasoning.order import Comparison
from logicpo.reasoning.order import compare as _compare

SINGLE_MODEL_ZOO = ("CE", "CEUnl", "CPO", "ORPO", "cCPO", "unCPO", "cfUnl", "qfUnl",
                    "fUnl", "cUNL", "l20", "sCE")


def split_spec(name: str) -> tuple[str, Path | None]:
    """``"dir/f.lpo:CPO"`` -> ``("CPO", Path("dir/f.lpo"))``; plain names have no path."""
    if ":" in name:
        path, _, short = name.rpartition(":")
        if path.endswith(".lpo"):
            return short, Path(path)
    return name, None


def program_for(names: Iterable[str], files: Iterable[str | Path] = ()) -> tuple[Program, list[str]]:
    """Load the zoo, ``files`` and any files named in ``names``; return the short names."""
    paths = [Path(f) for f in files]
    shorts = []
    for n in names:
        short, path = split_spec(n)
        shorts.append(short)
        if path is not None and path not in paths:
            paths.append(path)
    return load(paths), shorts


def structure(name: str | Structure, files: Iterable[str | Path] = ()) -> Structure:
    """The structure called ``name`` in the zoo or ``files``."""
    if isinstance(name, Structure):
        return name
    program, (short,) = program_for([name], files)
    return program.structure(short)


def compare(a: str | Structure, b: str | Structure, files: Iterable[str | Path] = (), *,
            engine: str = "z3") -> Comparison:
    """How ``a`` relates to ``b`` (spec section 4), decided by z3 by default."""
    files = list(files)
    return _compare(structure(a, files), structure(b, files), engine=engine)


def lattice(names: Iterable[str | Structure] | None = None,
            files: Iterable[str | Path] = ()) -> Lattice:
    """The Hasse diagram of the named structures (default: the twelve single-model ones)."""
    files = list(files)
    names = list(names) if names is not None else list(SINGLE_MODEL_ZOO)
    return Lattice.build([structure(n, files) for n in names])
