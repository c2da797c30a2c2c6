"""Token shuffle (ConSERT, Yan et al. 2021): the sentence's tokens in a random order.

ConSERT permutes the position ids of a sentence's tokens. Permuting the token ids among the
positions instead gives the encoder exactly the same (token, position) pairs, so, with
bidirectional attention and a pooling that ignores order or reads the fixed first token, the same
sentence embedding (tests/views check this against position ids on BERT); it works for every
encoder without touching its position scheme, and ``views show`` can print it. ``rate`` is the share
of tokens that take part (1.0: all of them, ConSERT). Special tokens and padding stay in place.
"""

from __future__ import annotations

import torch

from fmicl_text.views.tokens import TokenBatch, Vocab, editable, uniform


def token_shuffle(batch: TokenBatch, vocab: Vocab, generator: torch.Generator, rate: float = 1.0) -> TokenBatch:
    if rate <= 0:
        return batch
    ok = editable(batch, vocab)
    rows, width = ok.shape
    take = ok & (uniform((rows, width), generator) < rate)
    position = torch.arange(width, dtype=torch.float32)[None, :].expand(rows, width)
    # Taking positions first (in order / at random), then the others in order: pairing the two lists
    # sends each taking position a random taking token and leaves the rest where they are.
    in_order = torch.argsort(torch.where(take, position, position + width), dim=1)
    at_random = torch.argsort(torch.where(take, uniform((rows, width), generator), position + width), dim=1)
    source = torch.empty_like(in_order).scatter_(1, in_order, at_random)

    def permute(values: torch.Tensor) -> torch.Tensor:
        return values.gather(1, source)

    return batch.replace(
        input_ids=permute(batch.input_ids),
        keep_token=None if batch.keep_token is None else permute(batch.keep_token),
    )
