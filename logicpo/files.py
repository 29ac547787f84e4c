"""Files in and out: the one rule every command follows when it reads or writes a file.

Writing: the parent directory is created when missing; the file is written to a temporary
file beside the target, flushed to disk and renamed over it, so an interrupted command never
leaves half a file behind; it gets the permissions of a file made with ``open`` (the umask's),
not the 0600 of a temporary file. Anything that stops this (the target is a directory, a
parent is a file, no permission) is an :class:`OutputError` naming the path.

Reading: only regular files are read (a directory, a FIFO, ``/dev/zero`` or a symlink loop is
an :class:`InputError` saying what it is); text is UTF-8, a leading byte-order mark is
dropped, and a size limit keeps a hostile file from taking the machine's memory. JSON read
from a file is decoded by :func:`parse_json_at`, for which nesting too deep for the decoder
is a ``json.JSONDecodeError`` like any other invalid JSON.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "new" / "dir" / "x.txt"
>>> write_atomic(out, "hello\\n") == out
True
>>> read_text(out)
'hello\\n'
>>> read_text(out.parent)
Traceback (most recent call last):
...
logicpo.files.InputError: file .../new/dir is a directory, not a file
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from logicpo.errors import LogicpoError

#: Largest text file read whole (``.lpo`` sources and preference files); larger is refused.
MAX_TEXT_BYTES = 64 * 1024 * 1024


class InputError(LogicpoError):
    """A file given as input cannot be read: missing, not a regular file, too big, not text."""


class OutputError(LogicpoError):
    """A file cannot be written where the user asked."""


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def file_in_the_way(directory: str | Path) -> Path | None:
    """The nearest existing path among ``directory`` and its parents, if it is not a
    directory (so ``directory`` cannot be created); ``None`` when nothing is in the way."""
    directory = Path(directory)
    for p in (directory, *directory.parents):
        if p.exists():
            return None if p.is_dir() else p
    return None


def prepare_output(path: str | Path) -> Path:
    """Check that ``path`` can be a file and create its parent directory; return it."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write '{path}': it is a directory")
    parent = path.parent
    blocker = file_in_the_way(parent)
    if blocker is not None:
        raise OutputError(f"cannot write '{path}': '{blocker}' is a file, not a directory")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create directory '{parent}': {exc.strerror or exc}") from None
    return path


@contextlib.contextmanager
def _replacing(path: str | Path, suffix: str = ".tmp") -> Iterator[tuple[Path, int, str]]:
    """The one atomic-replace protocol: a temporary file beside ``path`` (yielded as the
    target, an open descriptor and the temporary name) that replaces ``path`` with the
    umask's permissions when the block succeeds, and is removed whatever happens."""
    path = prepare_output(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write '{path}': {exc.strerror or exc}") from None
    try:
        yield path, fd, tmp
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write '{path}': {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_output(path: str | Path, *, binary: bool = False) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    The caller writes to the yielded handle; if the block raises, ``path`` is untouched and
    the temporary file is removed.
    """
    with _replacing(path) as (_, fd, _tmp), os.fdopen(
            fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically; return ``path``."""
    with atomic_output(path, binary=isinstance(data, bytes)) as fh:
        fh.write(data)
    return Path(path)


def write_with(path: str | Path, writer: Callable[[str], None]) -> Path:
    """Atomically write ``path`` by calling ``writer(tmp_path)`` (for libraries that want a
    file name, such as matplotlib's ``savefig``); return ``path``."""
    with _replacing(path, Path(path).suffix or ".tmp") as (target, fd, tmp):
        os.close(fd)
        writer(tmp)
    return target


def check_input(path: str | Path, what: str = "file") -> Path:
    """``path`` if it names a readable regular file; an :class:`InputError` saying why not."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{what} not found: {path}") from None
    except RuntimeError:  # pragma: no cover - older Pythons report symlink loops this way
        raise InputError(f"cannot read {what} {path}: a symbolic link loop") from None
    except OSError as exc:
        reason = "a symbolic link loop" if exc.errno == 40 else (exc.strerror or str(exc))
        raise InputError(f"cannot read {what} {path}: {reason}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{what} {path} is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise InputError(f"{what} {path} is {kind}, not a regular file")
    return path


def read_bytes(path: str | Path, what: str = "file", *, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes."""
    path = check_input(path, what)
    size = path.stat().st_size
    if size > limit:
        raise InputError(f"{what} {path} is {size:,} bytes; the limit is {limit:,}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def read_text(path: str | Path, what: str = "file", *, limit: int = MAX_TEXT_BYTES) -> str:
    """A regular file's UTF-8 text, a leading byte-order mark dropped."""
    data = read_bytes(path, what, limit=limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{what} {path} is not UTF-8 text (byte {exc.start + 1}, "
                         f"line {line})") from None
    return text[1:] if text.startswith("\ufeff") else text


_DECODER = json.JSONDecoder()


def parse_json_at(text: str, pos: int = 0) -> tuple[object, int]:
    """The JSON value starting at ``pos`` and the index after it (``JSONDecoder.raw_decode``);
    nesting deeper than the decoder's recursion limit is a ``json.JSONDecodeError``, not a
    ``RecursionError``.

    >>> parse_json_at('[1, 2] tail')
    ([1, 2], 6)
    >>> parse_json_at("[" * 100_000)
    Traceback (most recent call last):
    ...
    json.decoder.JSONDecodeError: nested too deep (arrays or objects inside each other): line 1 column 1 (char 0)
    """
    try:
        return _DECODER.raw_decode(text, pos)
    except RecursionError:
        raise json.JSONDecodeError("nested too deep (arrays or objects inside each other)",
                                   text, pos) from None


def parse_json(text: str) -> object:
    """The one JSON value that is all of ``text`` (``json.loads``, by :func:`parse_json_at`).

    >>> parse_json(' {"a": 1} ')
    {'a': 1}
    """
    skip = json.decoder.WHITESPACE.match
    value, end = parse_json_at(text, skip(text, 0).end())
    end = skip(text, end).end()
    if end < len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value
