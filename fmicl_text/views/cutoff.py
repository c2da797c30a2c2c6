"""Cutoff (ConSERT, Yan et al. 2021; Shen et al. 2020): zero parts of the embedding-layer output.

* ``token_cutoff`` zeroes whole token rows: ``floor(n * rate + U)`` of a sentence's n editable
  tokens (stochastic rounding, so the expected share is ``rate`` even for short sentences; ConSERT
  floors, which cuts nothing from a sentence under 1 / rate tokens), never all of them, never a
  special token.
* ``feature_cutoff`` zeroes ``floor(D * rate + U)`` of the D embedding columns, the same columns
  for every token of the sentence (ConSERT's unsupervised setting: 0.2).

Both only build masks here; :mod:`fmicl_text.views.hooks` multiplies the embedding layer's output
by them, where ConSERT applies its cutoff. The token-cutoff default 0.1 is a choice.
"""

from __future__ import annotations

import torch

from fmicl_text.errors import FmiclError
from fmicl_text.views.tokens import TokenBatch, Vocab, editable, rank_of, uniform


def _count(n: torch.Tensor, rate: float, generator: torch.Generator) -> torch.Tensor:
    return (n * rate + uniform(tuple(n.shape), generator)).floor().long()


def token_cutoff(batch: TokenBatch, vocab: Vocab, generator: torch.Generator, rate: float = 0.1) -> TokenBatch:
    ok = editable(batch, vocab)
    keep = torch.ones_like(batch.input_ids, dtype=torch.int8) if batch.keep_token is None else batch.keep_token
    if rate <= 0:
        return batch.replace(keep_token=keep)
    n = ok.sum(dim=1)
    k = torch.minimum(_count(n, rate, generator), (n - 1).clamp_min(0))
    cut = rank_of(uniform(tuple(ok.shape), generator), ok) < k[:, None]
    return batch.replace(keep_token=keep * (~cut).to(torch.int8))


def feature_cutoff(batch: TokenBatch, vocab: Vocab, generator: torch.Generator, rate: float = 0.2) -> TokenBatch:
    if vocab.hidden_size is None:
        raise FmiclError("feature_cutoff needs the encoder's hidden size", fix="build the views from the model")
    rows, dim = batch.input_ids.shape[0], vocab.hidden_size
    keep = torch.ones(rows, dim, dtype=torch.int8) if batch.keep_feature is None else batch.keep_feature
    if rate <= 0:
        return batch.replace(keep_feature=keep)
    k = _count(torch.full((rows,), dim), rate, generator)
    cut = rank_of(uniform((rows, dim), generator), torch.ones(rows, dim, dtype=torch.bool)) < k[:, None]
    return batch.replace(keep_feature=keep * (~cut).to(torch.int8))
