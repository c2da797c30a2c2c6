"""Contrastive objectives: pure functions (``functional``) and sentence-transformers losses.

The names below are loaded on first use (the losses need torch), so that importing a light module of
this package (``signatures``, which the CLI reads for its flags) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fmicl_text.lazy import lazy_names

if TYPE_CHECKING:
    from fmicl_text.losses.alignment_uniformity import AlignmentUniformityLoss
    from fmicl_text.losses.base import ContrastiveLoss
    from fmicl_text.losses.dhel import DHELLoss
    from fmicl_text.losses.fmicl import FMICLLoss
    from fmicl_text.losses.generalized import GeneralizedContrastiveLoss
    from fmicl_text.losses.infonce import InfoNCELoss
    from fmicl_text.losses.kcl import KCLLoss
    from fmicl_text.losses.registry import LOSSES, build, hard_negative_losses, loss_class, loss_parameters

SOURCES = {
    "AlignmentUniformityLoss": "alignment_uniformity",
    "ContrastiveLoss": "base",
    "DHELLoss": "dhel",
    "FMICLLoss": "fmicl",
    "GeneralizedContrastiveLoss": "generalized",
    "InfoNCELoss": "infonce",
    "KCLLoss": "kcl",
    **dict.fromkeys(("LOSSES", "build", "hard_negative_losses", "loss_class", "loss_parameters"), "registry"),
}
__all__ = [
    "LOSSES",
    "AlignmentUniformityLoss",
    "ContrastiveLoss",
    "DHELLoss",
    "FMICLLoss",
    "GeneralizedContrastiveLoss",
    "InfoNCELoss",
    "KCLLoss",
    "build",
    "hard_negative_losses",
    "loss_class",
    "loss_parameters",
]
assert sorted(__all__) == sorted(SOURCES)

__getattr__, __dir__ = lazy_names(__name__, SOURCES)
