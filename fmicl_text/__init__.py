"""fmicl-text: contrastive sentence-embedding training (SimCSE, f-MICL, ...) on sentence-transformers.

Heavy libraries (torch, transformers) are imported on first use, so ``fmicl-text --help`` is fast.
"""

from __future__ import annotations

__version__ = "0.1.0"


def train(recipe):
    """Run a training recipe (see :mod:`fmicl_text.recipe`); returns a :class:`TrainResult`."""
    from fmicl_text.training import train as _train

    return _train(recipe)


__all__ = ["__version__", "train"]
