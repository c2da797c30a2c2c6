"""Word deletion (SimCSE's ablation, Table 2: rate 0.1): each word is dropped with probability ``rate``.

Whole words go (never part of a word's sub-tokens), special tokens and padding stay, and a sentence
keeps at least one word: if every word was drawn, the one with the largest draw survives.
"""

from __future__ import annotations

import torch

from fmicl_text.views.tokens import TokenBatch, Vocab, per_word, rearrange, uniform, word_index


def word_deletion(batch: TokenBatch, vocab: Vocab, generator: torch.Generator, rate: float = 0.1) -> TokenBatch:
    if rate <= 0:
        return batch
    words, n_words = word_index(batch, vocab)
    draws = uniform(words.shape, generator)  # one draw per word slot (a row has at most L words)
    delete = draws < rate
    slots = torch.arange(words.shape[1])[None, :] < n_words[:, None]
    everything = ((delete | ~slots).all(dim=1)) & (n_words > 0)
    survivor = torch.where(slots, draws, torch.full_like(draws, -1.0)).argmax(dim=1)
    delete[everything, survivor[everything]] = False
    keep = ~(per_word(delete, words) & (words >= 0))
    return rearrange(batch, keep, vocab.pad_id)
