"""Training: a recipe in, a saved sentence-transformers model out.

``train`` (a whole run), ``build_trainer`` and ``finalize_run`` (its two halves, for your own code
around the trainer) and ``TrainResult`` are loaded on first use (the trainer needs torch), so that
importing a light module of this package (``sweep``, ``search``, ``bases``) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fmicl_text.lazy import lazy_names

if TYPE_CHECKING:
    from fmicl_text.training.trainer import TrainResult, build_trainer, finalize_run, train

__all__ = ["TrainResult", "build_trainer", "finalize_run", "train"]

__getattr__, __dir__ = lazy_names(__name__, dict.fromkeys(__all__, "trainer"))
