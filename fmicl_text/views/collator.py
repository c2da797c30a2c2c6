"""The data collator that makes the two views: sentence-transformers' collator, then the view ops.

Use it in any ``SentenceTransformerTrainer`` script::

    collator = ViewsDataCollator(model, parse_views("b=word_repetition(rate=0.32)"), seed=42)
    trainer = SentenceTransformerTrainer(model=model, ..., data_collator=collator)

The first text column (the anchor) becomes view a, every later column (positive, hard negative)
view b: a hard negative is seen the way its positive is, so the views cannot tell them apart.
With shared bits, a row's anchor and positive get the same tokens, its negative its own.
Embedding-level views (cutoff) also hook the model (:mod:`fmicl_text.views.hooks`), once.
"""

from __future__ import annotations

from typing import Any

import torch
from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator

from fmicl_text.views import hooks
from fmicl_text.views.compose import ViewPipeline
from fmicl_text.views.spec import ViewsConfig
from fmicl_text.views.tokens import TokenBatch, Vocab

_IDS, _MASK = "input_ids", "attention_mask"


def model_vocab(model: Any) -> Vocab:
    """The vocabulary facts of ``model``'s tokenizer; the width is its embedding layer's (feature cutoff's)."""
    try:
        hidden = hooks.transformer_module(model).auto_model.config.hidden_size
    except (TypeError, AttributeError):  # no Hugging Face encoder inside: the token views still work
        hidden = None
    return Vocab.from_tokenizer(model.tokenizer, hidden_size=hidden)


class ViewsDataCollator(SentenceTransformerDataCollator):
    """``SentenceTransformerDataCollator`` + the views of a :class:`ViewsConfig` (identity when empty)."""

    def __init__(self, model: Any, views: ViewsConfig | None = None, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(preprocess_fn=model.preprocess, **kwargs)
        self.views = views or ViewsConfig()
        self.seed = seed
        self.pipeline = None if self.views.is_identity else ViewPipeline(self.views, model_vocab(model), seed)
        self._worker: int | None = None
        if self.views.uses_embedding_masks:
            hooks.install(model)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        batch = super().__call__(features)
        if self.pipeline is None:
            return batch
        worker = torch.utils.data.get_worker_info()
        if worker is not None and self._worker != worker.id:  # each data-loader worker draws its own views
            self._worker = worker.id
            self.pipeline.generator.manual_seed(self.seed + 1_000_003 * (worker.id + 1))
        columns = [key[: -len(_IDS) - 1] for key in batch if key.endswith("_" + _IDS)]
        bits = self.pipeline.draw_bits(len(features))
        viewed = {}
        for position, column in enumerate(columns):
            extra_keys = [
                key
                for key, value in batch.items()
                if key.startswith(column + "_")
                and key not in (f"{column}_{_IDS}", f"{column}_{_MASK}")
                and isinstance(value, torch.Tensor)
                and value.shape == batch[f"{column}_{_IDS}"].shape
            ]
            tokens = TokenBatch(
                input_ids=batch[f"{column}_{_IDS}"],
                attention_mask=batch[f"{column}_{_MASK}"],
                extra={key[len(column) + 1 :]: batch[key] for key in extra_keys},
            )
            own_bits = bits if position < 2 or bits is None else self.pipeline.draw_bits(len(features))
            viewed[column] = self.pipeline.apply(tokens, "a" if position == 0 else "b", own_bits)
        for column, tokens in viewed.items():
            batch[f"{column}_{_IDS}"] = tokens.input_ids
            batch[f"{column}_{_MASK}"] = tokens.attention_mask
            for key, value in tokens.extra.items():
                batch[f"{column}_{key}"] = value
            if self.views.uses_embedding_masks:  # every column gets both keys, so they still merge into one pass
                rows, width = tokens.input_ids.shape
                keep_token = tokens.keep_token if tokens.keep_token is not None else torch.ones(rows, width)
                dim = self.pipeline.vocab.hidden_size
                keep_feature = tokens.keep_feature if tokens.keep_feature is not None else torch.ones(rows, dim)
                batch[f"{column}_{hooks.KEEP_TOKEN}"] = keep_token.to(torch.int8)
                batch[f"{column}_{hooks.KEEP_FEATURE}"] = keep_feature.to(torch.int8)
        return batch

    def view_features(self, batch: dict[str, Any], column: str) -> dict[str, Any]:
        """The model-ready features of one column of a collated batch."""
        prefix = column + "_"
        return {key[len(prefix) :]: value for key, value in batch.items() if key.startswith(prefix)}
