"""Word repetition (ESimCSE, Wu et al. 2022): repeat a few words in place, changing length, not meaning.

As ESimCSE's ``word_repetition``: per sentence of n words, draw ``k`` uniformly from
``0 .. max(2, int(rate * n))`` (its ``dup_rate`` 0.32 is the default), then repeat ``k`` distinct
words, each copy right after the word itself (all its sub-tokens: "play ##ing" -> "play ##ing
play ##ing"). Rate 0 is the identity (ESimCSE's floor of 2 applies for rate > 0).
"""

from __future__ import annotations

import torch

from fmicl_text.views.tokens import TokenBatch, Vocab, per_word, rank_of, uniform, word_index


def word_repetition(batch: TokenBatch, vocab: Vocab, generator: torch.Generator, rate: float = 0.32) -> TokenBatch:
    if rate <= 0:
        return batch
    words, n_words = word_index(batch, vocab)
    rows, width = words.shape
    most = torch.clamp((rate * n_words).floor().long(), min=2)
    k = torch.minimum((uniform((rows,), generator) * (most + 1)).floor().long(), n_words)
    slots = torch.arange(width)[None, :] < n_words[:, None]
    chosen = rank_of(uniform((rows, width), generator), slots) < k[:, None]
    copy = per_word(chosen, words) & (words >= 0)
    # Sort keys: a token keeps its position; a copy goes after its word's last token, in the word's order.
    position = torch.arange(width, dtype=torch.float64)[None, :].expand(rows, width)
    word_end = torch.zeros(rows, width, dtype=torch.float64).scatter_reduce(
        1, words.clamp_min(0), torch.where(words >= 0, position, -1.0), reduce="amax", include_self=False
    )
    copy_key = per_word(word_end, words) + 0.5 + position / (2 * width)
    valid = torch.cat([batch.attention_mask.bool(), copy], dim=1)
    keys = torch.where(valid, torch.cat([position, copy_key], dim=1), torch.inf)
    order = torch.argsort(keys, dim=1, stable=True)
    length = valid.sum(dim=1)
    new_width = int(length.max())
    order = order[:, :new_width]
    inside = torch.arange(new_width)[None, :] < length[:, None]

    def move(values: torch.Tensor, fill: int) -> torch.Tensor:
        moved = torch.cat([values, values], dim=1).gather(1, order)
        return torch.where(inside, moved, torch.full_like(moved, fill))

    return batch.replace(
        input_ids=move(batch.input_ids, vocab.pad_id),
        attention_mask=inside.to(batch.attention_mask.dtype),
        keep_token=None if batch.keep_token is None else move(batch.keep_token, 0),
        extra={key: move(value, 0) for key, value in batch.extra.items()},
    )
