"""Pictures (matplotlib lives here and nowhere else). One module per kind of picture.

Figures are built as :class:`matplotlib.figure.Figure` objects through :func:`subplots`,
never through pyplot: importing a plot module leaves the backend alone (a notebook keeps
its own), and no figure is registered with pyplot, so none needs closing.

Every picture is written by :func:`save_figure`, so by the rule of :mod:`logicpo.files`:
the directory is created when missing, the file appears whole or not at all, with the
permissions of any other file the user creates.
"""

from __future__ import annotations

from pathlib import Path

from logicpo.errors import UsageError
from logicpo.files import write_with

FORMATS = (".png", ".svg", ".pdf")


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float],
             dpi: float | None = None, squeeze: bool = True):
    """``(figure, axes)`` as :func:`matplotlib.pyplot.subplots` gives them, without pyplot.

    >>> fig, ax = subplots(figsize=(2, 1))
    >>> type(fig).__name__, len(fig.axes)
    ('Figure', 1)
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def save_figure(fig, path: str | Path, dpi: int | None = 150, tight: bool = True) -> Path:
    """Save ``fig`` to ``path`` (format from the suffix) atomically.

    ``dpi=None`` keeps the figure's own; ``tight`` crops the white border.
    """
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise UsageError(f"cannot write '{path}': use one of {', '.join(FORMATS)}")
    options = {"dpi": dpi or "figure", "format": path.suffix[1:].lower()}
    if tight:
        options["bbox_inches"] = "tight"
    return write_with(path, lambda tmp: fig.savefig(tmp, **options))
