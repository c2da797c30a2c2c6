"""The thin sentence-transformers shell shared by every loss.

A loss class embeds the input columns with the model, optionally gathers them across processes
(:mod:`fmicl_text.losses.distributed`), calls its pure objective from
:mod:`fmicl_text.losses.functional` and returns the dict of parts, which the trainer sums and
logs separately. Subclasses only declare their parameters, the objective, and a citation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from fmicl_text.losses.distributed import gather_with_grad


class NonFiniteLossError(FloatingPointError):
    """A loss part came out NaN or infinite: raised before backward, so no bad update is applied."""

    def __init__(self, parts: dict[str, float]) -> None:
        self.parts = parts
        super().__init__(f"non-finite loss: {parts}")


class ContrastiveLoss(nn.Module):
    """Base class: (anchor, positive[, negative]) columns -> objective(u, v[, w]) -> parts."""

    #: constructor parameters reported in the model card (besides ``gather_across_devices``)
    config_keys: ClassVar[tuple[str, ...]] = ()
    #: whether a third (hard-negative) column is used; losses that cannot use it reject it
    accepts_negatives: ClassVar[bool] = False
    #: parameter -> (switch parameter, its values under which the parameter is used): setting an unused
    #: parameter to a non-default value is an error, since it would be recorded yet change nothing
    applies_when: ClassVar[dict[str, tuple[str, tuple[str, ...]]]] = {}

    def __init__(self, model: nn.Module, gather_across_devices: bool = False) -> None:
        super().__init__()
        self.model = model
        self.gather_across_devices = gather_across_devices
        # True: a non-finite loss raises NonFiniteLossError before backward. False (the trainer's
        # ``on_nonfinite: skip``): it is recorded in ``nonfinite_parts`` and the update is dropped later.
        self.raise_on_nonfinite = True
        self.nonfinite_parts: dict[str, float] | None = None

    def objective(self, u: Tensor, v: Tensor, negatives: Tensor | None = None) -> dict[str, Tensor]:
        raise NotImplementedError

    def _validate(self) -> None:
        """Run the objective once on a tiny batch so that bad parameters fail at construction."""
        g = torch.Generator().manual_seed(0)
        self.objective(torch.randn(2, 3, generator=g), torch.randn(2, 3, generator=g))

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None) -> dict:
        from sentence_transformers.base.losses.merged_forward import embed_columns

        # One forward for every column: they are sentences of one kind (two views of a sentence, or NLI
        # premise / hypothesis / negative), so merging pads little, and SimCSE runs both views in one
        # pass too. sentence-transformers' default keeps the anchor apart (a query is not a document).
        embeddings = embed_columns(self.model, sentence_features, separate_first=False)
        return self.compute_loss_from_embeddings(embeddings, labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> dict:
        name = type(self).__name__
        if len(embeddings) < 2:
            raise ValueError(f"{name} needs (anchor, positive) columns, got {len(embeddings)} column(s)")
        if len(embeddings) > 2 and not self.accepts_negatives:
            from fmicl_text.losses.registry import hard_negative_losses  # here: the registry imports this module

            takers = ", ".join(hard_negative_losses())
            raise ValueError(
                f"{name} uses in-batch negatives only, so it cannot take a hard-negative column; give (anchor, "
                f"positive) pairs, not triplets, or use a loss that takes hard negatives: {takers}"
            )
        if len(embeddings) > 3:
            raise ValueError(f"{name} takes at most one hard-negative column, got {len(embeddings) - 2}")
        if self.gather_across_devices:
            embeddings = [gather_with_grad(e) for e in embeddings]
        parts = self.objective(*embeddings)
        if not torch.isfinite(sum(parts.values())):  # one scalar sync per step: cheap next to the encoder
            found = {key: value.item() for key, value in parts.items()}
            if self.raise_on_nonfinite:
                raise NonFiniteLossError(found)
            self.nonfinite_parts = found
        return parts

    def get_config_dict(self) -> dict[str, Any]:
        return {
            **{key: getattr(self, key) for key in self.config_keys},
            "gather_across_devices": self.gather_across_devices,
        }
