"""The objectives as pure functions of two embedding matrices.

Each function takes the raw (not yet normalised) embeddings ``u``, ``v`` of the two views, shape
N x d, and returns a dict of **additive parts** whose sum is the loss, so that training can log
each part. Computation is in float32 (float64 for float64 inputs) whatever the input dtype, with log-sum-exp forms.
The math is specified in the project's objectives document (section numbers refer to it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _wide(x: Tensor) -> Tensor:
    """At least float32 (float64 stays float64, for gradcheck); bf16/fp16 inputs are widened."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _check_pair(u: Tensor, v: Tensor) -> None:
    if u.ndim != 2 or u.shape != v.shape:
        raise ValueError(f"u and v must both be N x d, got {tuple(u.shape)} and {tuple(v.shape)}")
    if u.shape[0] < 2:
        raise ValueError("in-batch negatives need a batch of at least 2 pairs")


def info_nce(
    u: Tensor,
    v: Tensor,
    temperature: float = 0.05,
    symmetric: bool = False,
    negatives: Tensor | None = None,
    hard_negative_weight: float = 0.0,
) -> dict[str, Tensor]:
    """InfoNCE / NT-Xent as in SimCSE (section 1).

    ``s_ij = cos(u_i, v_j) / temperature``; the loss is the cross-entropy of each row of ``s`` with
    the diagonal as target, split into ``positive = -mean_i s_ii`` and
    ``negative = mean_i logsumexp_j s_ij``. ``negatives`` (M x d, usually N hard negatives, row i the
    hard negative of anchor i) add columns to every row; SimCSE adds ``hard_negative_weight`` (a
    log-weight) to the logit of each anchor's own hard negative. ``symmetric`` averages the row-wise
    loss with the column-wise one (v as anchor, u as candidates).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    _check_pair(u, v)
    u = F.normalize(_wide(u), dim=-1)
    v = F.normalize(_wide(v), dim=-1)
    logits = u @ v.T / temperature
    positive = -logits.diagonal().mean()
    candidates = logits
    if negatives is not None:
        w = F.normalize(_wide(negatives), dim=-1)
        hard = u @ w.T / temperature
        if hard_negative_weight and hard.shape[0] == hard.shape[1]:
            hard = hard + hard_negative_weight * torch.eye(hard.shape[0], device=hard.device, dtype=hard.dtype)
        candidates = torch.cat([logits, hard], dim=1)
    negative = torch.logsumexp(candidates, dim=1).mean()
    if symmetric:
        negative = (negative + torch.logsumexp(logits, dim=0).mean()) / 2
    return {"positive": positive, "negative": negative}
