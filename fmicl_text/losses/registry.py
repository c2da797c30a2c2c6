"""One registry from loss names to sentence-transformers losses: it serves recipes, the CLI and
the loss benchmark."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from fmicl_text.errors import FmiclError, did_you_mean
from fmicl_text.losses.alignment_uniformity import AlignmentUniformityLoss
from fmicl_text.losses.dhel import DHELLoss
from fmicl_text.losses.fmicl import FMICLLoss
from fmicl_text.losses.generalized import GeneralizedContrastiveLoss
from fmicl_text.losses.infonce import InfoNCELoss
from fmicl_text.losses.kcl import KCLLoss

LOSSES: dict[str, type[nn.Module]] = {
    "infonce": InfoNCELoss,
    "fmicl": FMICLLoss,
    "au": AlignmentUniformityLoss,
    "gcl": GeneralizedContrastiveLoss,
    "dhel": DHELLoss,
    "kcl": KCLLoss,
}


def hard_negative_losses() -> list[str]:
    """The losses that take a third (hard-negative) column."""
    return [name for name, cls in LOSSES.items() if getattr(cls, "accepts_negatives", False)]


def loss_class(name: str) -> type[nn.Module]:
    if name not in LOSSES:
        raise FmiclError(f"unknown loss {name!r}", fix=did_you_mean(name, LOSSES))
    return LOSSES[name]


def loss_parameters(name: str) -> dict[str, Any]:
    """The keyword parameters of a loss with their defaults (the model argument excluded)."""
    signature = inspect.signature(loss_class(name).__init__)
    return {
        key: p.default
        for key, p in list(signature.parameters.items())[2:]
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def build(name: str, model: nn.Module, **params: Any) -> nn.Module:
    """The loss ``name`` on ``model``; unknown names and parameters get a did-you-mean error."""
    cls = loss_class(name)
    known = loss_parameters(name)
    for key in params:
        if key not in known:
            raise FmiclError(f"loss {name!r} has no parameter {key!r}", fix=did_you_mean(key, known))
    resolved = {**known, **params}
    for key, (switch, values) in getattr(cls, "applies_when", {}).items():
        if key in params and params[key] != known[key] and resolved[switch] not in values:
            raise FmiclError(
                f"loss {name!r}: {key} is used only when {switch} is {' or '.join(values)}, "
                f"but {switch} is {resolved[switch]!r}",
                fix=f"drop {key}, or set {switch} to {values[0]}",
            )
    try:
        return cls(model, **params)
    except (ValueError, TypeError) as exc:
        raise FmiclError(f"invalid parameters for loss {name!r}: {exc}") from exc
