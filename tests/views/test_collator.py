"""The views on a real (tiny) encoder: the collator, the embedding hooks, shuffle = position ids, dropout 0."""

from __future__ import annotations

import re

import pytest
import torch
from conftest import SENTENCES
from sentence_transformers.base.losses.merged_forward import merge_feature_batches
from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator

from fmicl_text.losses import build
from fmicl_text.modeling import ModelConfig, build_model
from fmicl_text.views import hooks
from fmicl_text.views.collator import ViewsDataCollator, model_vocab
from fmicl_text.views.shuffle import token_shuffle
from fmicl_text.views.spec import ViewsConfig, parse_views
from fmicl_text.views.tokens import TokenBatch, word_index

PAIRS = [{"anchor": s, "positive": s} for s in SENTENCES[:6]]


@pytest.fixture()
def model(tiny_bert):
    torch.manual_seed(0)
    return build_model(ModelConfig(tiny_bert, pooling="mean"))


def test_no_views_is_sentence_transformers_collator(model):
    ours = ViewsDataCollator(model, ViewsConfig(), max_length=16)(PAIRS)
    theirs = SentenceTransformerDataCollator(preprocess_fn=model.preprocess, max_length=16)(PAIRS)
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert torch.equal(ours[key], value) if isinstance(value, torch.Tensor) else ours[key] == value


def test_cutoff_columns_still_merge_into_one_forward_and_train(model):
    collator = ViewsDataCollator(model, parse_views("a=token_cutoff(rate=0.3); b=feature_cutoff"), seed=0)
    batch = collator(PAIRS)
    columns = [collator.view_features(batch, c) for c in ("anchor", "positive")]
    for features in columns:
        assert set(hooks.KEYS) <= features.keys()
    assert merge_feature_batches(columns) is not None  # one forward pass for both views, as without views
    loss = build("infonce", model)
    sum(loss(columns).values()).backward()
    assert model[0].auto_model.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_hooks_zero_the_masked_rows_and_columns_and_nothing_else(model):
    model.eval()
    features = model.preprocess(SENTENCES[:3])
    with torch.no_grad():
        before = model(dict(features))["sentence_embedding"]
    hooks.install(model)
    hooks.install(model)  # idempotent
    seen = {}
    model[0].auto_model.embeddings.register_forward_hook(lambda m, i, out: seen.setdefault("out", out))
    with torch.no_grad():
        assert torch.equal(model(dict(features))["sentence_embedding"], before)  # no masks: unchanged
        keep_token = torch.ones_like(features["input_ids"], dtype=torch.int8)
        keep_token[:, 2] = 0
        keep_feature = torch.ones(3, 32, dtype=torch.int8)
        keep_feature[:, [0, 5]] = 0
        seen.clear()
        masked = model({**features, hooks.KEEP_TOKEN: keep_token, hooks.KEEP_FEATURE: keep_feature})
    out = seen["out"]
    assert bool((out[:, 2] == 0).all()) and bool((out[:, :, [0, 5]] == 0).all())
    assert bool((out[:, 1, 1] != 0).all())
    assert not torch.allclose(masked["sentence_embedding"], before)


def test_shuffled_token_ids_equal_shuffled_position_ids(model):
    """ConSERT permutes position ids; permuting the tokens instead gives the same sentence embedding."""
    model.eval()
    vocab = model_vocab(model)
    features = model.preprocess(SENTENCES[:4])
    ids, mask = features["input_ids"], features["attention_mask"]
    shuffled = token_shuffle(TokenBatch(ids, mask), vocab, torch.Generator().manual_seed(0)).input_ids
    # Recover the permutation: token at original slot i now sits at slot j; give it position j instead.
    positions = torch.arange(ids.shape[1]).repeat(ids.shape[0], 1)
    for row in range(ids.shape[0]):
        used: set[int] = set()
        for i in range(int(mask[row].sum())):
            j = next(j for j in range(ids.shape[1]) if shuffled[row, j] == ids[row, i] and j not in used)
            used.add(j)
            positions[row, i] = j
    bert = model[0].auto_model
    with torch.no_grad():
        a = bert(input_ids=shuffled, attention_mask=mask).last_hidden_state
        b = bert(input_ids=ids, attention_mask=mask, position_ids=positions).last_hidden_state
    m = mask[..., None].float()
    assert not torch.equal(shuffled, ids)
    torch.testing.assert_close((a * m).sum(1) / m.sum(1), (b * m).sum(1) / m.sum(1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a[:, 0], b[:, 0], atol=1e-5, rtol=1e-5)  # [CLS] stays first


def test_shared_bits_same_for_a_pair_own_for_its_negative(model):
    rows = [{"anchor": s, "positive": s, "negative": SENTENCES[-1]} for s in SENTENCES[:5]]
    collator = ViewsDataCollator(model, ViewsConfig(shared_bits=2), seed=0)
    batch = collator(rows)
    anchor, positive, negative = (batch[f"{c}_input_ids"][:, 1:3] for c in ("anchor", "positive", "negative"))
    assert torch.equal(anchor, positive)
    assert not torch.equal(anchor, negative)
    assert bool((anchor != model.tokenizer.cls_token_id).all())


def test_view_b_acts_on_positive_and_negative(model):
    rows = [{"anchor": s, "positive": s, "negative": t} for s, t in zip(SENTENCES[:5], SENTENCES[5:10], strict=True)]
    collator = ViewsDataCollator(model, parse_views("b=word_deletion(rate=1.0)"), seed=0)
    batch = collator(rows)
    for column in ("positive", "negative"):
        assert batch[f"{column}_attention_mask"].sum(1).tolist() == [3] * 5  # [CLS] one word [SEP]
    assert batch["anchor_attention_mask"].sum(1).min() > 3


@pytest.mark.parametrize("dropout, identical", [(0.0, True), (0.1, False)])
def test_dropout_rate_makes_or_removes_the_dropout_views(tiny_bert, dropout, identical):
    model = build_model(ModelConfig(tiny_bert, pooling="mean", dropout=dropout))
    model.train()
    batch = ViewsDataCollator(model)(PAIRS)
    collator = ViewsDataCollator(model)
    u = model(collator.view_features(batch, "anchor"))["sentence_embedding"]
    v = model(collator.view_features(batch, "positive"))["sentence_embedding"]
    assert torch.equal(u, v) is identical


def _words(ids: torch.Tensor, vocab) -> list[tuple[int, ...]]:
    """A row's words as tuples of token ids, by the views' own word boundaries."""
    batch = TokenBatch(ids[None, :], torch.ones_like(ids)[None, :])
    index, _ = word_index(batch, vocab)
    words: dict[int, list[int]] = {}
    for token, word in zip(ids.tolist(), index[0].tolist(), strict=True):
        if word >= 0:
            words.setdefault(word, []).append(token)
    return [tuple(w) for w in words.values()]


@pytest.mark.parametrize("encoder", ["tiny_bert", "tiny_roberta"])
def test_word_views_keep_whole_words_with_wordpiece_and_bpe(request, encoder):
    """Deletion leaves only the sentence's own words (decoded text); repetition copies whole words."""
    model = build_model(ModelConfig(request.getfixturevalue(encoder), pooling="mean"))
    tokenizer, vocab = model.tokenizer, model_vocab(model)
    for spec in ("word_deletion(rate=0.5)", "word_repetition(rate=1.0)"):
        batch = ViewsDataCollator(model, parse_views(f"b={spec}"), seed=0)(PAIRS)
        for row, pair in enumerate(PAIRS):
            ids = batch["positive_input_ids"][row][batch["positive_attention_mask"][row].bool()]
            source = torch.tensor(tokenizer(pair["positive"])["input_ids"])
            if "deletion" in spec:
                text = tokenizer.decode(ids, skip_special_tokens=True).lower()
                words = re.findall(r"\w+", text)
                assert words and set(words) <= set(re.findall(r"\w+", pair["positive"].lower())), (text, pair)
            else:  # the view's words are the sentence's (a first word's copy may carry the space marker)

                def canonical(row: torch.Tensor) -> set[tuple[str, ...]]:
                    words = [tokenizer.convert_ids_to_tokens(list(w)) for w in _words(row, vocab)]
                    return {(w[0].lstrip("Ġ"), *w[1:]) for w in words}

                assert canonical(ids) == canonical(source)
        grew = batch["positive_attention_mask"].sum(1) - batch["anchor_attention_mask"].sum(1)
        assert bool((grew < 0).any() if "deletion" in spec else (grew > 0).any())


def test_same_seed_same_views_other_seed_other_views(model):
    spec = parse_views("a=word_deletion(rate=0.3)+token_cutoff(rate=0.3); b=span_mask(rate=0.3)+feature_cutoff")
    first, second, other = (ViewsDataCollator(model, spec, seed=s) for s in (1, 1, 2))
    for _ in range(3):  # the stream advances batch after batch, the same way for the same seed
        a, b, c = first(PAIRS), second(PAIRS), other(PAIRS)
        assert all(torch.equal(a[k], b[k]) for k in a if isinstance(a[k], torch.Tensor))
    assert any(not torch.equal(a[k], c[k]) for k in a if isinstance(a[k], torch.Tensor) and a[k].shape == c[k].shape)
