"""The ``logicpo`` command line: the only place that prints, reads arguments or exits.

Commands live in one module per area, each exposing ``register(group)``:
``logic_cmds`` (check, show, compare, lattice), ``loss_cmds`` (compile, eval, plot,
export), ``landscape_cmds`` (decompile, neighbors, census), ``train_cmds``
(data, train, plot-run) and ``experiment_cmds`` (sweep, search). Library errors become a
message and exit code 1 (bad usage: 2), never a traceback.

A command's module is imported when the command runs (``check`` never loads the modules of
the training commands); ``--help`` and an unknown name load them all.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from logicpo import __version__
from logicpo.cli import common
from logicpo.cli.common import LogicpoGroup

AREAS = ("logic_cmds", "loss_cmds", "landscape_cmds", "train_cmds", "experiment_cmds")
#: Which area registers each command (tests/test_fast_startup.py keeps this table true).
COMMAND_AREAS = {
    "check": "logic_cmds", "show": "logic_cmds", "compare": "logic_cmds",
    "lattice": "logic_cmds",
    "compile": "loss_cmds", "eval": "loss_cmds", "plot": "loss_cmds", "export": "loss_cmds",
    "docs": "loss_cmds",
    "decompile": "landscape_cmds", "neighbors": "landscape_cmds", "census": "landscape_cmds",
    "data": "train_cmds", "train": "train_cmds", "plot-run": "train_cmds",
    "sweep": "experiment_cmds", "search": "experiment_cmds",
}


class _LazyGroup(LogicpoGroup):
    """The main group: each area's ``register(group)`` runs on first use of one of its
    commands."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()
        self.commands = _Commands(self)

    def _load(self, area: str) -> None:
        if area not in self._loaded:
            self._loaded.add(area)
            importlib.import_module(f"logicpo.cli.{area}").register(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for area in AREAS:
            self._load(area)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        area = COMMAND_AREAS.get(cmd_name)
        if area is not None:
            self._load(area)
        if cmd_name not in self.commands:  # a command the table does not know yet
            for other in AREAS:
                self._load(other)
        return super().get_command(ctx, cmd_name)


class _Commands(dict):
    """``group.commands``: looking a command up by name (``main.commands["export"]``) loads
    its area first."""

    def __init__(self, group: _LazyGroup) -> None:
        super().__init__()
        self._group = group

    def __missing__(self, name: str) -> click.Command:
        self._group.get_command(click.Context(self._group), name)
        if not dict.__contains__(self, name):
            raise KeyError(name)
        return dict.__getitem__(self, name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="logicpo")
def main() -> None:
    """logicpo: preference-optimisation losses (DPO and its variants) as logic.

    Write a loss as a propositional formula (.lpo files), see what it says,
    relate it to DPO and the other losses, and train with it.
    Every command takes --json for scripts.
    """


def run() -> None:
    """The process entry: the ``logicpo`` script and ``python -m logicpo``.

    ``main`` exits through ``SystemExit``. When the command kept what it built for the end
    of the process (:func:`~logicpo.cli.common.keep_until_exit`, ``lattice``), the output is
    flushed and the process leaves at once with the same exit code, without freeing those
    objects one by one; otherwise it exits as usual. ``main([...])`` and click's test runner
    never leave this way."""
    common.enter_process()
    try:
        main(prog_name="logicpo")
    except SystemExit as done:
        code = done.code
        if (code is None or isinstance(code, int)) and common.kept():
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):  # a closed pipe: nothing more can be written
                    code = code or 1
            os._exit(code or 0)
        raise
