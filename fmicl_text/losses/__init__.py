"""Contrastive objectives: pure functions (``functional``) and sentence-transformers losses."""

from fmicl_text.losses.infonce import InfoNCELoss
from fmicl_text.losses.registry import LOSSES, build, loss_class, loss_parameters

__all__ = ["LOSSES", "InfoNCELoss", "build", "loss_class", "loss_parameters"]
