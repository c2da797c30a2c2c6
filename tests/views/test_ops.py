"""Each view operation on a small hand-made vocabulary: exact ids on fixed seeds, and its invariants.

Vocabulary: 0 [PAD], 1 [CLS], 2 [SEP], 3 [MASK]; 4-9 whole words, 10-11 continuations (WordPiece "##").
"""

from __future__ import annotations

import pytest
import torch

from fmicl_text.errors import FmiclError
from fmicl_text.views.compose import OPERATIONS, ViewPipeline
from fmicl_text.views.spec import FAMILIES, ViewsConfig
from fmicl_text.views.tokens import TokenBatch, Vocab, word_index

PAD, CLS, SEP, MASK = 0, 1, 2, 3
VOCAB = Vocab(
    is_special=torch.tensor([True] * 4 + [False] * 8),
    word_start=torch.tensor([True] * 10 + [False] * 2),
    plain_ids=torch.arange(4, 10),
    pad_id=PAD,
    mask_id=MASK,
    hidden_size=8,
)
# Row 0: words [4] [5 10] [6] [7 11 10] [8]; row 1: one word [9 10]; row 2: words [4] [5] [6], padded.
IDS = [
    [CLS, 4, 5, 10, 6, 7, 11, 10, 8, SEP],
    [CLS, 9, 10, SEP, PAD, PAD, PAD, PAD, PAD, PAD],
    [CLS, 4, 5, 6, SEP, PAD, PAD, PAD, PAD, PAD],
]


def make_batch(ids=IDS) -> TokenBatch:
    ids = torch.tensor(ids)
    mask = (ids != PAD).long()
    return TokenBatch(ids, mask, extra={"token_type_ids": torch.zeros_like(ids)})


def run(name: str, seed: int = 0, batch: TokenBatch | None = None, **params) -> TokenBatch:
    return OPERATIONS[name](batch or make_batch(), VOCAB, torch.Generator().manual_seed(seed), **params)


def rows(batch: TokenBatch) -> list[list[int]]:
    return [r[m.bool()].tolist() for r, m in zip(batch.input_ids, batch.attention_mask, strict=True)]


def words_of(row: list[int]) -> list[tuple[int, ...]]:
    """A row's words as tuples of ids (specials dropped)."""
    out: list[list[int]] = []
    for token in row:
        if token < 4:
            continue
        if token >= 10 and out:
            out[-1].append(token)
        else:
            out.append([token])
    return [tuple(w) for w in out]


def test_word_index_keeps_subtokens_together():
    words, n = word_index(make_batch(), VOCAB)
    assert words[0].tolist() == [-1, 0, 1, 1, 2, 3, 3, 3, 4, -1]
    assert words[1].tolist()[:4] == [-1, 0, 0, -1]
    assert n.tolist() == [5, 1, 3]


# --------------------------------------------------------------------------- exact ids on fixed seeds


def test_word_deletion_exact():
    # Word draws of seed 3: row 0 .004 .106 .286 .027 .472, row 1 .451, row 2 .648 .215 .949: below 0.4 go.
    assert rows(run("word_deletion", seed=3, rate=0.4)) == [[1, 8, 2], [1, 9, 10, 2], [1, 4, 6, 2]]


def test_word_repetition_exact():
    # k = floor(U * (max(2, floor(0.32 n)) + 1)), U = .496 .768 .089: one word, one (of one), none.
    assert rows(run("word_repetition", seed=0, rate=0.32)) == [
        [1, 4, 4, 5, 10, 6, 7, 11, 10, 8, 2],
        [1, 9, 10, 9, 10, 2],  # the whole word, sub-tokens in order
        [1, 4, 5, 6, 2],
    ]


def test_span_mask_exact():
    assert rows(run("span_mask", seed=1, rate=0.4, mean_span=2.0)) == [
        [1, 4, 5, 10, 3, 3, 3, 3, 3, 2],  # a span runs up to [SEP], never over it
        [1, 9, 10, 2],
        [1, 3, 3, 6, 2],
    ]


def test_token_shuffle_exact():
    assert rows(run("token_shuffle", seed=0, rate=1.0)) == [
        [1, 7, 6, 5, 11, 10, 8, 10, 4, 2],
        [1, 9, 10, 2],
        [1, 6, 5, 4, 2],
    ]


def test_token_cutoff_exact():
    keep = run("token_cutoff", seed=0, rate=0.3).keep_token
    # floor(n * 0.3 + U) rows of the n editable tokens, at most n - 1: 8 -> 2, 2 -> 1, 3 -> 0 here.
    assert keep.tolist() == [[1, 0, 1, 1, 1, 1, 1, 0, 1, 1], [1, 0, 1, 1] + [1] * 6, [1] * 10]


def test_feature_cutoff_exact():
    keep = run("feature_cutoff", seed=0, rate=0.25).keep_feature
    # floor(8 * 0.25 + U) = 2 columns a sentence, chosen per sentence
    assert keep.tolist() == [[0, 0, 1, 1, 1, 1, 1, 1], [1, 0, 1, 1, 1, 1, 1, 0], [0, 1, 1, 0, 1, 1, 1, 1]]


# --------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("name", list(FAMILIES))
def test_rate_zero_is_the_identity(name):
    out = run(name, seed=5, rate=0.0)
    source = make_batch()
    assert torch.equal(out.input_ids, source.input_ids) and torch.equal(out.attention_mask, source.attention_mask)
    for mask in (out.keep_token, out.keep_feature):
        assert mask is None or bool((mask == 1).all())


@pytest.mark.parametrize("name", list(FAMILIES))
@pytest.mark.parametrize("seed", range(20))
def test_special_tokens_and_padding_stay(name, seed):
    rate = 0.99 if name in ("token_cutoff", "feature_cutoff") else 1.0
    out = run(name, seed=seed, rate=rate)
    for row in rows(out):
        assert row[0] == CLS and row[-1] == SEP and PAD not in row
        assert all(token >= 3 for token in row[1:-1])  # no special token moved inside
    # Padding is padding: masked out and holding the pad id.
    assert bool((out.input_ids[out.attention_mask == 0] == PAD).all())
    if out.keep_token is not None:  # never cut a special token, never every word
        specials = VOCAB.is_special[out.input_ids] & out.attention_mask.bool()
        assert bool((out.keep_token[specials] == 1).all())
        assert bool(((out.keep_token == 1) & ~specials & out.attention_mask.bool()).any(dim=1).all())


@pytest.mark.parametrize("seed", range(20))
def test_word_ops_never_split_a_word(seed):
    source_words = {w for row in IDS for w in words_of(row)}
    for name in ("word_deletion", "word_repetition"):
        for row in rows(run(name, seed=seed, rate=0.6)):
            assert set(words_of(row)) <= source_words


@pytest.mark.parametrize("seed", range(10))
def test_a_one_word_sentence_stays_a_sentence(seed):
    out = run("word_deletion", seed=seed, rate=1.0)
    assert [len(words_of(row)) for row in rows(out)] == [1, 1, 1]


def _stat(name: str, out: TokenBatch, source: TokenBatch) -> float:
    if name == "word_deletion":
        return float(source.attention_mask.sum() - out.attention_mask.sum())
    if name == "word_repetition":
        return float(out.attention_mask.sum() - source.attention_mask.sum())
    if name == "span_mask":
        return float((out.input_ids == MASK).sum())
    if name == "token_shuffle":
        return float((out.input_ids != source.input_ids).sum())
    if name == "token_cutoff":
        return float((out.keep_token == 0).sum())
    return float((out.keep_feature == 0).sum())


@pytest.mark.parametrize("name", list(FAMILIES))
def test_strength_is_monotone(name):
    """Same seed, growing rate: at least as much changed (exactly, per seed, for the coupled draws)."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(4, 12, (64, 20), generator=generator)
    ids[:, 0], ids[:, -1] = CLS, SEP
    source = make_batch(ids.tolist())
    rates = [0.0, 0.1, 0.2, 0.3, 0.5, 0.8]
    for seed in range(5):
        stats = [_stat(name, run(name, seed=seed, batch=source, rate=r), source) for r in rates]
        assert stats == sorted(stats), (name, seed, stats)
        if name != "token_shuffle":  # a shuffle can put a token back where it was
            assert stats[-1] > stats[1] > 0


def test_shuffle_permutes_within_the_sentence():
    source = make_batch()
    for seed in range(10):
        out = run("token_shuffle", seed=seed, rate=0.5)
        for a, b in zip(rows(out), rows(source), strict=True):
            assert sorted(a) == sorted(b)


def test_span_mask_needs_a_mask_token():
    vocab = Vocab(VOCAB.is_special, VOCAB.word_start, VOCAB.plain_ids, PAD, None, 8)
    with pytest.raises(FmiclError, match="mask token"):
        OPERATIONS["span_mask"](make_batch(), vocab, torch.Generator(), rate=0.2)


# --------------------------------------------------------------------------- composition


def test_composition_follows_the_recipe_order():
    config = ViewsConfig(a=[{"name": "word_deletion", "rate": 0.5}, {"name": "word_repetition", "rate": 0.5}])
    by_pipeline = ViewPipeline(config, VOCAB, seed=7).apply(make_batch(), "a")
    generator = torch.Generator().manual_seed(7)
    by_hand = OPERATIONS["word_deletion"](make_batch(), VOCAB, generator, rate=0.5)
    by_hand = OPERATIONS["word_repetition"](by_hand, VOCAB, generator, rate=0.5)
    assert rows(by_pipeline) == rows(by_hand)
    swapped = ViewsConfig(a=list(reversed(config.a)))
    assert rows(ViewPipeline(swapped, VOCAB, seed=7).apply(make_batch(), "a")) != rows(by_pipeline)


def test_each_side_has_its_own_list_and_length_changes_carry_masks():
    config = ViewsConfig(
        a=[{"name": "token_cutoff", "rate": 0.5}, {"name": "word_repetition", "rate": 1.0}],
        b=[{"name": "span_mask", "rate": 0.5}],
    )
    pipeline = ViewPipeline(config, VOCAB, seed=0)
    a, b = pipeline.apply(make_batch(), "a"), pipeline.apply(make_batch(), "b")
    assert a.keep_token is not None and a.keep_token.shape == a.input_ids.shape
    assert a.extra["token_type_ids"].shape == a.input_ids.shape
    assert b.keep_token is None and int((b.input_ids == MASK).sum()) > 0


def test_shared_bits_are_inserted_after_cls_in_both_views():
    pipeline = ViewPipeline(ViewsConfig(shared_bits=2), VOCAB, seed=0)
    bits = pipeline.draw_bits(3)
    a, b = pipeline.apply(make_batch(), "a", bits), pipeline.apply(make_batch(), "b", bits)
    assert rows(a) == rows(b)
    for row, source, inserted in zip(rows(a), IDS, bits.tolist(), strict=True):
        assert row[0] == CLS and row[1:3] == inserted and row[3:] == [t for t in source[1:] if t != PAD]
        assert all(4 <= t < 10 for t in inserted)


def test_bpe_first_word_is_copied_with_its_spaced_twin_or_not_at_all():
    """BPE: "A" (first word, no marker) repeated must read "A ĠA", never "AA"; without a twin, never chosen."""
    # ids: 0 <pad>, 1 <s>, 2 </s>, 3 <mask>, 4 "A", 5 "ĠA", 6 "Ġman", 7 "Ġrun", 8 "s", 9 "B"
    special = torch.tensor([True] * 4 + [False] * 6)
    start = torch.tensor([True] * 4 + [False, True, True, True, False, False])
    spaced = torch.tensor([0, 1, 2, 3, 5, 5, 6, 7, -1, -1])
    vocab = Vocab(special, start, torch.tensor([6, 7]), 0, 3, 8, spaced)
    batch = make_batch([[1, 4, 6, 7, 8, 2], [1, 9, 6, 7, 8, 2]])
    for seed in range(30):
        out = OPERATIONS["word_repetition"](batch, vocab, torch.Generator().manual_seed(seed), rate=1.0)
        first, second = rows(out)
        assert first[:2] == [1, 4] and 4 not in first[2:]  # a copy of "A" is "ĠA"
        assert second[:2] == [1, 9] and second.count(9) == 1  # "B" has no twin: never repeated
        assert first[-1] == 2 and all(first[i - 1] == 7 for i, t in enumerate(first) if t == 8)  # "Ġrun s" whole
    outs = [
        rows(OPERATIONS["word_repetition"](batch, vocab, torch.Generator().manual_seed(s), rate=1.0)) for s in range(30)
    ]
    assert any(first[:3] == [1, 4, 5] for first, _ in outs)  # the first word does get repeated, as its twin
