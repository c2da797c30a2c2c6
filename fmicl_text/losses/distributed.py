"""Negatives across processes: all-gather with gradient.

Every process gathers the embeddings of all processes (``torch.distributed.nn.all_gather``, whose
backward sums the gradient of every copy back to its owner) and computes the loss of the **whole**
global batch. All processes then hold the same value, equal to the single-process loss on the
concatenated batch; each local embedding receives k times its gradient (one copy per process) and
DDP's gradient averaging divides by k, so parameter gradients equal the single-process ones too.
This holds for every objective, including terms that are not a mean over rows (uniformity's
log-mean-exp, sliced Wasserstein), which a "local rows against global columns" scheme would get
wrong. The price is computing the N k x N k similarity matrices on every process, which is small
next to the encoder.
"""

from __future__ import annotations

import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_with_grad(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` from every process along dim 0, differentiably (identity when alone)."""
    if not is_distributed():
        return tensor
    # sentence-transformers' helper: torch.distributed.nn.all_gather, whose backward sums every copy's gradient
    from sentence_transformers.util.distributed import all_gather_with_grad

    return all_gather_with_grad(tensor.contiguous())
