"""Run by ``torchrun --nproc_per_node 2``: every loss with gathering under DDP vs one process.

Each process encodes its half of a fixed batch with a small deterministic encoder wrapped in
DDP (no dropout), computes the loss with ``gather_across_devices=True`` and back-propagates.
Rank 0 also computes the same loss in one process on the whole batch, without DDP, and writes
the largest differences of value and parameter gradients to the JSON file given as argv[1].
"""

from __future__ import annotations

import gc
import json
import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from fmicl_text.losses import build

CASES = [
    ("infonce", {}),
    ("infonce", {"symmetric": True, "hard_negative_weight": 1.0, "_negatives": True}),
    ("fmicl", {"divergence": "js", "similarity": "gaussian", "negatives": "both"}),
    ("fmicl", {"divergence": "kl", "similarity": "cosine", "temperature": 0.5}),
    ("fmicl", {"divergence": "tsallis", "tsallis_alpha": 1.5, "negatives": "within"}),
    ("au", {}),
    ("gcl", {"prior": "logsumexp"}),
    ("gcl", {"prior": "normal", "num_projections": 4}),
    ("gcl", {"prior": "hypersphere", "num_projections": 6}),
    ("dhel", {"positive_energy": True}),
    ("kcl", {"kernel": "gaussian"}),
    ("kcl", {"kernel": "imq"}),
    # GradCache (CachedLoss) under DDP with gathering: mini-batches of 3 of each rank's 4 rows.
    ("infonce", {"_cached": 3}),
    ("au", {"_cached": 3}),
]
N_PER_RANK, IN_DIM, DIM = 4, 8, 6


def encoder() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(IN_DIM, 16), nn.Tanh(), nn.Linear(16, DIM)).double()


class FeatureEncoder(nn.Module):
    """The encoder behind the sentence-transformers interface a cached loss calls: features -> embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.net = encoder()

    def forward(self, features: dict) -> dict:
        return {"sentence_embedding": self.net(features["x"])}


def run_case(name: str, params: dict, rank: int, world: int) -> dict:
    params = dict(params)
    with_negatives = params.pop("_negatives", False)
    cached = params.pop("_cached", None)
    g = torch.Generator().manual_seed(123)
    columns = 3 if with_negatives else 2
    inputs = [torch.randn(N_PER_RANK * world, IN_DIM, generator=g, dtype=torch.float64) for _ in range(columns)]
    local = [x[rank * N_PER_RANK : (rank + 1) * N_PER_RANK] for x in inputs]

    if cached:
        from fmicl_text.losses.cached import CachedLoss

        model = DistributedDataParallel(FeatureEncoder())
        loss_fn = CachedLoss(build(name, model, gather_across_devices=True, **params), mini_batch_size=cached)
        parts = loss_fn([{"x": x} for x in local])
    else:
        model = DistributedDataParallel(encoder())
        loss_fn = build(name, nn.Identity(), gather_across_devices=True, **params)
        parts = loss_fn.compute_loss_from_embeddings([model(x) for x in local])
    total = sum(parts.values())
    total.backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters()])
    values = torch.tensor([total.item(), *(p.item() for p in parts.values())], dtype=torch.float64)
    all_values = [torch.zeros_like(values) for _ in range(world)]
    dist.all_gather(all_values, values)
    if rank != 0:
        return {}

    reference_model = encoder()
    reference_fn = build(name, nn.Identity(), **params)
    ref_parts = reference_fn.compute_loss_from_embeddings([reference_model(x) for x in inputs])
    ref_total = sum(ref_parts.values())
    ref_total.backward()
    ref_grads = torch.cat([p.grad.flatten() for p in reference_model.parameters()])
    ref_values = torch.tensor([ref_total.item(), *(p.item() for p in ref_parts.values())], dtype=torch.float64)
    return {
        "case": f"{name} {params}" + (f" cached {cached}" if cached else ""),
        "value_diff": max(float((v - ref_values).abs().max()) for v in all_values),
        "grad_diff": float((grads - ref_grads).abs().max()),
        "grad_norm": float(ref_grads.norm()),
        "value": ref_total.item(),
    }


def main() -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    results = [run_case(name, params, rank, world) for name, params in CASES]
    if rank == 0:
        with open(sys.argv[1], "w", encoding="utf-8") as fh:
            json.dump({"world_size": world, "results": results}, fh, indent=1)
    # The DDP wrappers of the cases sit in reference cycles (loss -> model, cached gradients' hooks); freed
    # after the process group is destroyed, at interpreter exit, one aborted the process now and then.
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
