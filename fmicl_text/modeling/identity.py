"""What a model is, as a short digest of its weights and structure: the key of caches that must never
hand one model's numbers to another (a fine-tuned checkpoint differs from its base in its weights only)."""

from __future__ import annotations

import hashlib
from typing import Any

import torch


def weights_digest(model: Any) -> str:
    """SHA-256 over the module structure (pooling included), every tensor's name, shape, dtype and values."""
    digest = hashlib.sha256(str(model).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + str(tuple(tensor.shape)).encode() + str(tensor.dtype).encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(dtype=torch.uint8).numpy())
    return "weights-" + digest.hexdigest()[:16]
