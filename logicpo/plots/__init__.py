"""Pictures (matplotlib lives here and nowhere else). One module per kind of picture.

Every picture is written atomically: to a temporary file beside the target, then
renamed, so an interrupted run never leaves half a PNG behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from logicpo.errors import UsageError

FORMATS = (".png", ".svg", ".pdf")


def save_figure(fig, path: str | Path, dpi: int = 150) -> Path:
    """Save ``fig`` to ``path`` (format from the suffix) atomically and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise UsageError(f"cannot write '{path}': use one of {', '.join(FORMATS)}")
    if not path.parent.exists():
        raise UsageError(f"cannot write '{path}': directory '{path.parent}' does not exist")
    fd, tmp = tempfile.mkstemp(suffix=path.suffix, dir=path.parent, prefix=".tmp-")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=path.suffix[1:].lower())
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
