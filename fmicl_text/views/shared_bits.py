"""Feature suppression (Chen et al. 2021; objectives section 7): an easy feature both views share.

``k`` random ordinary words, drawn per sentence, are inserted right after the first special token
([CLS] / <s>) of *both* views of that sentence. Matching them is enough to find a sentence's
positive among the batch, so an encoder can learn to read them and ignore the sentence: the
experiment shows how much that suppresses the useful features (STS falls as k grows).
"""

from __future__ import annotations

import torch

from fmicl_text.views.tokens import TokenBatch, Vocab


def draw_bits(rows: int, k: int, vocab: Vocab, generator: torch.Generator) -> torch.Tensor:
    """(rows, k) token ids from the vocabulary's ordinary words."""
    pick = torch.randint(len(vocab.plain_ids), (rows, k), generator=generator)
    return vocab.plain_ids[pick]


def prepend_bits(batch: TokenBatch, bits: torch.Tensor, vocab: Vocab) -> TokenBatch:
    """Insert ``bits`` after the first token when it is special, else at the start."""
    if bits.shape[1] == 0:
        return batch
    at = int(vocab.is_special[batch.input_ids[:, 0]].all())  # every row starts alike after tokenisation

    def insert(values: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        return torch.cat([values[:, :at], new.to(values.dtype), values[:, at:]], dim=1)

    ones = torch.ones_like(bits)
    return batch.replace(
        input_ids=insert(batch.input_ids, bits),
        attention_mask=insert(batch.attention_mask, ones),
        keep_token=None if batch.keep_token is None else insert(batch.keep_token, ones),
        extra={key: insert(value, torch.zeros_like(bits)) for key, value in batch.extra.items()},
    )
