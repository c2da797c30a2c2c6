"""One registry from loss names to sentence-transformers losses: it serves recipes and the CLI."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from fmicl_text.errors import FmiclError, did_you_mean
from fmicl_text.losses.infonce import InfoNCELoss

LOSSES: dict[str, type[nn.Module]] = {
    "infonce": InfoNCELoss,
}


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
    try:
        return cls(model, **params)
    except ValueError as exc:
        raise FmiclError(f"invalid parameters for loss {name!r}: {exc}") from exc
