"""Training: a recipe in, a saved sentence-transformers model out.

``train`` and ``TrainResult`` are loaded on first use (the trainer needs torch), so that importing a light
module of this package (``sweep``, ``search``, ``bases``) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fmicl_text.lazy import lazy_names

if TYPE_CHECKING:
    from fmicl_text.training.trainer import TrainResult, train

__all__ = ["TrainResult", "train"]

__getattr__, __dir__ = lazy_names(__name__, "trainer", __all__)
