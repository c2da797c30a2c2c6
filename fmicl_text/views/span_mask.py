"""Span masking: spans of tokens replaced by the tokenizer's mask token, length kept.

Each editable token starts a span with probability ``rate / mean_span``; span lengths are geometric
with mean ``mean_span`` (SpanBERT-style; ``mean_span = 1`` masks single tokens, BERT's MLM noise).
About a ``rate`` share of the tokens is masked (a little less where spans overlap or run into the
end); special tokens and padding are never masked. Defaults: BERT's 15 %, spans of 3 (choice).
"""

from __future__ import annotations

import math

import torch

from fmicl_text.errors import FmiclError
from fmicl_text.views.tokens import TokenBatch, Vocab, editable, uniform


def span_mask(
    batch: TokenBatch, vocab: Vocab, generator: torch.Generator, rate: float = 0.15, mean_span: float = 3.0
) -> TokenBatch:
    if vocab.mask_id is None:
        raise FmiclError("span_mask needs a tokenizer with a mask token", fix="use another view or encoder")
    if rate <= 0:
        return batch
    ok = editable(batch, vocab)
    rows, width = ok.shape
    starts = (uniform((rows, width), generator) < rate / mean_span) & ok
    q = 1.0 / mean_span  # geometric on 1, 2, ... with mean 1 / q
    draws = uniform((rows, width), generator).clamp_min(1e-12)
    lengths = (
        1 + (torch.log(draws) / math.log1p(-q)).floor().long() if q < 1 else torch.ones_like(starts, dtype=torch.long)
    )
    position = torch.arange(width)[None, :]
    reach = torch.cummax(torch.where(starts, position + lengths, torch.zeros_like(lengths)), dim=1).values
    masked = ok & (position < reach)
    return batch.replace(
        input_ids=torch.where(masked, torch.full_like(batch.input_ids, vocab.mask_id), batch.input_ids)
    )
