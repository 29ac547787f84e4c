"""CLI commands of this area (filled in by the issue that owns them)."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add this area's commands to the main group."""
