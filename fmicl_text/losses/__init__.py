"""Contrastive objectives: pure functions (``functional``) and sentence-transformers losses."""

from fmicl_text.losses.alignment_uniformity import AlignmentUniformityLoss
from fmicl_text.losses.base import ContrastiveLoss
from fmicl_text.losses.dhel import DHELLoss
from fmicl_text.losses.fmicl import FMICLLoss
from fmicl_text.losses.generalized import GeneralizedContrastiveLoss
from fmicl_text.losses.infonce import InfoNCELoss
from fmicl_text.losses.kcl import KCLLoss
from fmicl_text.losses.registry import LOSSES, build, hard_negative_losses, loss_class, loss_parameters

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
