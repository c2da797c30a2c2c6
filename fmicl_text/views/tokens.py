"""The tensors every view works on: a tokenised batch and what the vocabulary says about each id.

Views are vectorised over the batch: each one draws its random numbers as tensors, builds masks
or counts with tensor ops, and changes lengths with one :func:`rearrange`, never a Python loop over
tokens. Word boundaries come from the vocabulary (a table over ids, built once), so a view needs
only token ids, not the text or the tokenizer's per-call ``word_ids``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

# Sub-word markers: WordPiece continues a word with "##"; byte-level BPE (RoBERTa, GPT-2) and
# SentencePiece start one with "Ġ" / "▁".
_CONTINUATION_PREFIX = "##"
_START_PREFIXES = ("Ġ", "▁")


@dataclass(frozen=True)
class Vocab:
    """Per-id facts the views need, from the tokenizer (and the encoder's width for feature cutoff)."""

    is_special: Tensor  # (V,) bool: [CLS], [SEP], <s>, </s>, [PAD], [MASK], ...
    word_start: Tensor  # (V,) bool: the id begins a word (only read where the previous token is not special)
    plain_ids: Tensor  # ids of ordinary whole words, the pool of shared "easy" tokens
    pad_id: int
    mask_id: int | None
    hidden_size: int | None = None
    # (V,) long: the id that starts a word *after another word*: itself, except in BPE / SentencePiece
    # for a token without the space marker (a sentence's first word), whose marked twin it gives, or
    # -1 when the vocabulary has none. None: every id (WordPiece).
    spaced: Tensor | None = None

    @classmethod
    def from_tokenizer(cls, tokenizer, hidden_size: int | None = None) -> Vocab:
        size = max(len(tokenizer), max(tokenizer.all_special_ids, default=0) + 1)
        tokens = tokenizer.convert_ids_to_tokens(list(range(size)))
        tokens = ["" if token is None else str(token) for token in tokens]
        is_special = torch.zeros(size, dtype=torch.bool)
        is_special[list(tokenizer.all_special_ids)] = True
        spaced = None
        if any(token.startswith(_CONTINUATION_PREFIX) for token in tokens):  # WordPiece
            word_start = torch.tensor([not t.startswith(_CONTINUATION_PREFIX) for t in tokens])
        else:  # BPE / SentencePiece: a word begins at a marked token (and after a special token, below)
            word_start = torch.tensor([t.startswith(_START_PREFIXES) for t in tokens])
            marker = next((m for m in _START_PREFIXES if any(t.startswith(m) for t in tokens)), _START_PREFIXES[0])
            ids = {t: i for i, t in enumerate(tokens)}
            spaced = torch.tensor(
                [i if t.startswith(marker) else ids.get(marker + t, -1) for i, t in enumerate(tokens)]
            )
        plain = word_start & ~is_special
        plain &= torch.tensor([_is_plain_word(t) for t in tokens])
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        return cls(
            is_special, word_start, plain.nonzero().flatten(), pad_id, tokenizer.mask_token_id, hidden_size, spaced
        )


def _is_plain_word(token: str) -> bool:
    """A whole word of letters (no [unused1], <extra>, punctuation or single characters)."""
    word = token.lstrip("".join(_START_PREFIXES))
    return len(word) > 1 and word.isalpha()


@dataclass
class TokenBatch:
    """One column of a tokenised batch, padded on the right.

    ``keep_token`` (B, L) and ``keep_feature`` (B, D) are multiplicative masks on the encoder's
    embedding-layer output, None until an embedding-level view sets them. ``extra`` holds the other
    per-token tensors of the tokenizer's output (``token_type_ids``), carried through length changes.
    """

    input_ids: Tensor
    attention_mask: Tensor
    keep_token: Tensor | None = None
    keep_feature: Tensor | None = None
    extra: dict[str, Tensor] = field(default_factory=dict)

    def replace(self, **changes) -> TokenBatch:
        return replace(self, **changes)


def editable(batch: TokenBatch, vocab: Vocab) -> Tensor:
    """(B, L) bool: the positions a view may change (real tokens that are not special)."""
    return batch.attention_mask.bool() & ~vocab.is_special.to(batch.input_ids.device)[batch.input_ids]


def word_index(batch: TokenBatch, vocab: Vocab) -> tuple[Tensor, Tensor]:
    """Per token, the index of its word in the sentence (-1 for special and padding); words per row.

    A word starts at a token the vocabulary marks as a start, or at the first ordinary token after a
    special one (RoBERTa's first word has no "Ġ"), so a word's sub-tokens always share one index.
    """
    ok = editable(batch, vocab)
    prev_ok = torch.nn.functional.pad(ok[:, :-1], (1, 0), value=False)
    starts = ok & (vocab.word_start.to(ok.device)[batch.input_ids] | ~prev_ok)
    index = torch.cumsum(starts.long(), dim=1) - 1
    return torch.where(ok, index, torch.full_like(index, -1)), starts.sum(dim=1)


def per_word(values: Tensor, words: Tensor) -> Tensor:
    """Spread per-word values (B, W) to tokens (B, L) through ``word_index``; -1 positions get values[:, 0]."""
    return values.gather(1, words.clamp_min(0))


def rank_of(keys: Tensor, eligible: Tensor) -> Tensor:
    """Per row, each eligible position's rank among the eligible ones by ascending key (others rank >= L)."""
    keys = torch.where(eligible, keys, torch.full_like(keys, float("inf")))
    return torch.argsort(torch.argsort(keys, dim=1, stable=True), dim=1)


def rearrange(
    batch: TokenBatch,
    keep: Tensor,
    pad_id: int,
    copies: Tensor | None = None,
    copy_key: Tensor | None = None,
    copy_ids: Tensor | None = None,
) -> TokenBatch:
    """Drop tokens and insert copies of tokens in one vectorised pass, then re-pad.

    Kept tokens (``keep``, padding never) stay in order; a token marked in ``copies`` gets a copy
    placed by its sort key ``copy_key`` among the positions 0..L-1 (ids ``copy_ids``, default its
    own). Every per-token tensor (``keep_token``, ``extra``) moves with its token and its copies;
    the attention mask is rebuilt from the new lengths.
    """
    rows, width = keep.shape
    position = torch.arange(width, dtype=torch.float64, device=keep.device)[None, :].expand(rows, width)
    valid, keys = keep & batch.attention_mask.bool(), position
    if copies is not None:
        valid = torch.cat([valid, copies & batch.attention_mask.bool()], dim=1)
        keys = torch.cat([position, copy_key], dim=1)
    order = torch.argsort(torch.where(valid, keys, torch.inf), dim=1, stable=True)
    length = valid.sum(dim=1)
    new_width = int(length.max()) if rows else 0
    order = order[:, :new_width]
    inside = torch.arange(new_width, device=keep.device)[None, :] < length[:, None]

    def move(values: Tensor, fill: int, copied: Tensor | None = None) -> Tensor:
        if copies is not None:
            values = torch.cat([values, values if copied is None else copied], dim=1)
        moved = values.gather(1, order)
        return torch.where(inside, moved, torch.full_like(moved, fill))

    return batch.replace(
        input_ids=move(batch.input_ids, pad_id, copy_ids),
        attention_mask=inside.to(batch.attention_mask.dtype),
        keep_token=None if batch.keep_token is None else move(batch.keep_token, 0),
        extra={key: move(value, 0) for key, value in batch.extra.items()},
    )


def uniform(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    return torch.rand(shape, generator=generator)
