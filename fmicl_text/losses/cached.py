"""GradCache for every loss: ``CachedLoss(loss, mini_batch_size)``.

sentence-transformers ships the GradCache machinery (``CachedLossMixin``: embed the batch in
mini-batches without gradient, compute the loss on the full embedding matrix and back-propagate it to
the embeddings, then re-embed each mini-batch with gradient, replaying its RNG state so that dropout
draws the same masks, and push the cached gradients through) but uses it only in a few losses of its
own, each written again for its loss. Here one wrapper gives it to any of our losses: the loss's
``compute_loss_from_embeddings`` is the ``calculate_loss`` the mixin asks for, so the objective, the
gathering across processes and the non-finite check are the loss's own, and the batch's memory is one
mini-batch of activations whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

import torch
from sentence_transformers.base.losses.gradcache import CachedLossMixin, RandContext
from torch import Tensor, nn


class CachedLoss(CachedLossMixin, nn.Module):
    """``loss`` computed on the whole batch with the memory of ``mini_batch_size`` rows (GradCache).

    Values and gradients equal the wrapped loss's on the same embeddings; with dropout, each mini-batch's
    second forward replays the first's random state. The parts (``positive``, ``negative``, ...) are
    returned and logged as the wrapped loss's are.
    """

    def __init__(self, loss: nn.Module, mini_batch_size: int = 32) -> None:
        super().__init__()
        if mini_batch_size < 1:
            raise ValueError(f"mini_batch_size must be >= 1, got {mini_batch_size}")
        if not hasattr(loss, "compute_loss_from_embeddings"):
            raise TypeError(f"{type(loss).__name__} does not compute its loss from embeddings; it cannot be cached")
        self.loss = loss
        self.model = loss.model
        self.mini_batch_size = mini_batch_size
        self._parts: dict[str, Tensor] = {}

    def embed_minibatch(
        self,
        sentence_feature: dict[str, Tensor],
        begin: int,
        end: int,
        with_grad: bool,
        copy_random_state: bool,
        random_state: RandContext | None = None,
    ) -> tuple[Tensor, RandContext | None]:
        # Rows begin:end of every tensor, nothing trimmed: the views' per-sentence masks (token cutoff
        # B x L, feature cutoff B x D) must keep their widths, which the library's slicer may cut.
        minibatch = {k: v[begin:end] if isinstance(v, Tensor) else v for k, v in sentence_feature.items()}
        replay = random_state if random_state is not None else nullcontext()
        with replay, nullcontext() if with_grad else torch.no_grad():
            state = RandContext(*minibatch.values()) if copy_random_state else None
            reps = self.model(minibatch)["sentence_embedding"]
        return reps, state

    def calculate_loss(
        self, reps: list[list[Tensor]], labels: Tensor | None = None, *, with_backward: bool = False
    ) -> Tensor:
        parts = self.loss.compute_loss_from_embeddings([torch.cat(column) for column in reps], labels)
        total = sum(parts.values())
        if with_backward:
            total.backward()
            total = total.detach()
        self._parts = {key: value.detach() for key, value in parts.items()}
        return total

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None) -> dict:
        total = self.forward_cached(list(sentence_features), labels)
        # The parts as values to log; their sum is ``total``, the tensor whose backward runs the cache.
        *first, last = self._parts
        parts = {key: self._parts[key] for key in first}
        parts[last] = total - sum(parts.values()) if parts else total
        return parts

    # The trainer's non-finite guard talks to the wrapped loss, which does the checking.
    @property
    def raise_on_nonfinite(self) -> bool:
        return self.loss.raise_on_nonfinite

    @raise_on_nonfinite.setter
    def raise_on_nonfinite(self, value: bool) -> None:
        self.loss.raise_on_nonfinite = value

    @property
    def nonfinite_parts(self) -> dict[str, float] | None:
        return self.loss.nonfinite_parts

    @nonfinite_parts.setter
    def nonfinite_parts(self, value: dict[str, float] | None) -> None:
        self.loss.nonfinite_parts = value

    @property
    def citation(self) -> str:
        return self.loss.citation

    def get_config_dict(self) -> dict[str, Any]:
        return {**self.loss.get_config_dict(), "mini_batch_size": self.mini_batch_size}
