"""Writing matplotlib figures: a PNG written whole (temporary file, then rename), and the
``path=`` convention of every plotting function (save when given, return the axes)."""

from __future__ import annotations

import numpy as np

__all__ = ["save_figure", "saved"]


def save_figure(figure, path, *, dpi: int = 120):
    """Write a figure to ``path`` as PNG via a temporary file and a rename."""
    from probex._io import write_atomically

    return write_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=dpi,
                                                             bbox_inches="tight"))


def saved(axes, path):
    """Save the figure of ``axes`` (one axes or an array of them) to ``path`` when it is
    not None; return ``axes``."""
    if path is not None:
        save_figure(np.ravel(axes)[0].figure, path)
    return axes
