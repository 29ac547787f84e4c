"""Pictures (matplotlib lives here and nowhere else). One module per kind of picture.

Every picture is written by :func:`save_figure`, so by the rule of :mod:`logicpo.files`:
the directory is created when missing, the file appears whole or not at all, with the
permissions of any other file the user creates.
"""

from __future__ import annotations

from pathlib import Path

from logicpo.errors import UsageError
from logicpo.files import write_with

FORMATS = (".png", ".svg", ".pdf")


def save_figure(fig, path: str | Path, dpi: int | None = 150, tight: bool = True) -> Path:
    """Save ``fig`` to ``path`` (format from the suffix) atomically and close it.

    ``dpi=None`` keeps the figure's own; ``tight`` crops the white border.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        if path.suffix.lower() not in FORMATS:
            raise UsageError(f"cannot write '{path}': use one of {', '.join(FORMATS)}")
        options = {"dpi": dpi or "figure", "format": path.suffix[1:].lower()}
        if tight:
            options["bbox_inches"] = "tight"
        return write_with(path, lambda tmp: fig.savefig(tmp, **options))
    finally:
        plt.close(fig)
