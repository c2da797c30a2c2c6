"""Word repetition (ESimCSE, Wu et al. 2022): repeat a few words in place, changing length, not meaning.

As ESimCSE's ``word_repetition``: per sentence of n words, draw ``k`` uniformly from
``0 .. max(2, int(rate * n))`` (its ``dup_rate`` 0.32 is the default), then repeat ``k`` distinct
words, each copy right after the word itself (all its sub-tokens: "play ##ing" -> "play ##ing
play ##ing"). Rate 0 is the identity (ESimCSE's floor of 2 applies for rate > 0).

In BPE vocabularies a sentence's first word has no space marker ("A", not "ĠA"): its copy starts
with the marked twin so that it stays a word of its own ("A ĠA Ġwoman", not "AA woman"); a first
word whose twin is not in the vocabulary is not repeated.
"""

from __future__ import annotations

import torch

from fmicl_text.views.tokens import TokenBatch, Vocab, per_word, rank_of, rearrange, uniform, word_index


def word_repetition(batch: TokenBatch, vocab: Vocab, generator: torch.Generator, rate: float = 0.32) -> TokenBatch:
    if rate <= 0:
        return batch
    words, n_words = word_index(batch, vocab)
    rows, width = words.shape
    most = torch.clamp((rate * n_words).floor().long(), min=2)
    k = torch.minimum((uniform((rows,), generator) * (most + 1)).floor().long(), n_words)
    first = (words >= 0) & (words != torch.nn.functional.pad(words[:, :-1], (1, 0), value=-1))
    copy_first = batch.input_ids if vocab.spaced is None else vocab.spaced[batch.input_ids]
    # Words that can be copied (per word slot): all in WordPiece; in BPE those whose first token has a twin.
    can = torch.ones(rows, width, dtype=torch.bool)
    row_of, column_of = first.nonzero(as_tuple=True)
    can[row_of, words[row_of, column_of]] = copy_first[row_of, column_of] >= 0
    slots = (torch.arange(width)[None, :] < n_words[:, None]) & can
    k = torch.minimum(k, slots.sum(dim=1))
    chosen = rank_of(uniform((rows, width), generator), slots) < k[:, None]
    copy = per_word(chosen, words) & (words >= 0)
    # Sort keys: a token keeps its position; a copy goes after its word's last token, in the word's order.
    position = torch.arange(width, dtype=torch.float64)[None, :].expand(rows, width)
    word_end = torch.zeros(rows, width, dtype=torch.float64).scatter_reduce(
        1, words.clamp_min(0), torch.where(words >= 0, position, -1.0), reduce="amax", include_self=False
    )
    copy_key = per_word(word_end, words) + 0.5 + position / (2 * width)
    copy_ids = torch.where(first, copy_first.clamp_min(0), batch.input_ids)
    return rearrange(batch, torch.ones_like(copy), vocab.pad_id, copy, copy_key, copy_ids)
