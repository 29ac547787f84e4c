"""A directory of runs and the manifest that owns it (``OUT/manifest.json``).

The manifest says which command made the directory (``sweep`` or ``search``), with which
settings, and which runs belong to it. Rerunning the same command on the same directory
continues it (finished runs are skipped, interrupted ones resumed); a directory made by
another command, or by the same command with other settings, is refused before anything
runs. Only the driver (the process that runs the command) writes the manifest, always
through :func:`logicpo.files.write_atomic`.

>>> import tempfile
>>> out = Path(tempfile.mkdtemp())
>>> m = claim(out, "sweep", {"steps": 10}, overwrite=False)
>>> m["runs"]
{}
>>> _ = write(out, m)
>>> claim(out, "search", {"steps": 10}, overwrite=False)
Traceback (most recent call last):
...
logicpo.experiments.manifest.ManifestMismatch: '...' holds a `logicpo sweep` directory, not a `logicpo search` one; nothing was changed
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from logicpo.errors import UsageError
from logicpo.files import parse_json, read_text, write_atomic

MANIFEST_NAME = "manifest.json"


class ManifestMismatch(UsageError):
    """The directory belongs to another command, or to the same one with other settings."""


def read(out: str | Path) -> dict | None:
    """The manifest in ``out``, or None when there is none."""
    path = Path(out) / MANIFEST_NAME
    if not os.path.lexists(path):
        return None
    try:
        data = parse_json(read_text(path, "manifest"))
    except json.JSONDecodeError as exc:
        raise ManifestMismatch(f"{path} is damaged ({exc.msg} at line {exc.lineno})",
                               hint="replace the directory with --overwrite") from None
    if not isinstance(data, dict) or not {"command", "settings", "runs"} <= set(data):
        raise ManifestMismatch(f"{path} is not a logicpo manifest",
                               hint="replace the directory with --overwrite")
    return data


def claim(out: str | Path, command: str, settings: dict, *, overwrite: bool) -> dict:
    """The manifest for ``command`` with ``settings`` in ``out``: the stored one when it
    matches, a new empty one when there is none (or ``overwrite``). Writes nothing."""
    stored = None if overwrite else read(out)
    if stored is None:
        return {"command": command, "version": _version(), "settings": settings, "runs": {}}
    if stored["command"] != command:
        raise ManifestMismatch(
            f"'{out}' holds a `logicpo {stored['command']}` directory, not a `logicpo "
            f"{command}` one; nothing was changed",
            hint="choose another --out, or replace it with --overwrite")
    settings = json.loads(json.dumps(settings))  # tuples become lists, as when stored
    if stored["settings"] != settings:
        diff = [f"{k}: {settings.get(k)!r} now, {stored['settings'].get(k)!r} there"
                for k in sorted(set(settings) | set(stored["settings"]))
                if settings.get(k) != stored["settings"].get(k)]
        raise ManifestMismatch(
            f"'{out}' holds a `logicpo {command}` with other settings ({'; '.join(diff)}); "
            "continuing it would mix two experiments, so nothing was changed",
            hint="rerun with the recorded settings to continue it, choose another --out, "
                 "or replace it with --overwrite")
    return stored


def write(out: str | Path, manifest: dict) -> Path:
    """Write the manifest atomically (the driver only)."""
    return write_atomic(Path(out) / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")


def _version() -> str:
    import logicpo

    return logicpo.__version__
