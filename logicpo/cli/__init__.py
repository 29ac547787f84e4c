"""The ``logicpo`` command line: the only place that prints, reads arguments or exits.

Commands live in one module per area, each exposing ``register(group)``:
``logic_cmds`` (check, show, compare, lattice), ``loss_cmds`` (compile, eval, plot,
export), ``landscape_cmds`` (decompile, neighbors, census), ``train_cmds``
(data, train, plot-run) and ``experiment_cmds`` (sweep, search). Library errors become a message and exit code 1
(bad usage: 2), never a traceback.
"""

from __future__ import annotations

import sys

import click

from logicpo import __version__
from logicpo.cli import experiment_cmds, landscape_cmds, logic_cmds, loss_cmds, train_cmds
from logicpo.cli.common import LogicpoGroup


@click.group(cls=LogicpoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="logicpo")
def main() -> None:
    """logicpo: preference-optimisation losses (DPO and its variants) as logic.

    Write a loss as a propositional formula (.lpo files), see what it says,
    relate it to DPO and the other losses, and train with it.
    Every command takes --json for scripts.
    """


for _area in (logic_cmds, loss_cmds, landscape_cmds, train_cmds, experiment_cmds):
    _area.register(main)


def run() -> None:  # pragma: no cover - console entry for python -m
    sys.exit(main())
