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

import base64
from typing import Any

import torch
from sentence_transformers.sentence_transformer.data_collator import SentenceTransformerDataCollator

from fmicl_text.views import hooks
from fmicl_text.views.compose import ViewPipeline
from fmicl_text.views.spec import ViewsConfig
from fmicl_text.views.tokens import TokenBatch, Vocab

_IDS, _MASK = "input_ids", "attention_mask"
_KEPT_STATES = 16  # more than any loader collates ahead of training


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
        # One random stream for the whole run. The loader collates ahead of training, so for resuming
        # the stream's state is kept as it was before each recent batch: ``state_before(step)``.
        self.batches = 0
        self._states: dict[int, torch.Tensor] = {}
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
        self._states[self.batches] = self.pipeline.generator.get_state()
        self._states.pop(self.batches - _KEPT_STATES, None)
        self.batches += 1
        columns = [key[: -len(_IDS) - 1] for key in batch if key.endswith("_" + _IDS)]
        viewed = self.view_columns([self.view_features(batch, column) for column in columns])
        for column, column_features in zip(columns, viewed, strict=True):
            batch.update({f"{column}_{key}": value for key, value in column_features.items()})
        return batch

    def state_before(self, batch: int) -> dict[str, Any]:
        """The stream as it was before batch ``batch`` (0-based) was drawn, JSON-able; {} if unknown.

        Unknown without views, or with data-loader workers (they draw in their own processes, so a
        resumed run's views then differ from an uninterrupted run's; everything else still matches).
        """
        state = self._states.get(batch)
        if state is None:
            return {}
        return {"batch": batch, "generator": base64.b64encode(state.numpy().tobytes()).decode()}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue the stream from a :meth:`state_before` dict (a resumed run)."""
        if self.pipeline is None or "generator" not in state:
            return
        raw = bytearray(base64.b64decode(state["generator"]))
        self.pipeline.generator.set_state(torch.frombuffer(raw, dtype=torch.uint8).clone())
        self.batches = int(state["batch"])

    def view_columns(self, columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The views of tokenised columns (``model.preprocess`` outputs): the first view a, the rest view b."""
        if self.pipeline is None:
            return [dict(features) for features in columns]
        rows = columns[0][_IDS].shape[0]
        bits = self.pipeline.draw_bits(rows)
        out = []
        for position, features in enumerate(columns):
            ids = features[_IDS]
            extra = {
                key: value
                for key, value in features.items()
                if key not in (_IDS, _MASK) and isinstance(value, torch.Tensor) and value.shape == ids.shape
            }
            own_bits = bits if position < 2 or bits is None else self.pipeline.draw_bits(rows)
            tokens = self.pipeline.apply(
                TokenBatch(ids, features[_MASK], extra=extra), "a" if position == 0 else "b", own_bits
            )
            viewed = {**features, _IDS: tokens.input_ids, _MASK: tokens.attention_mask, **tokens.extra}
            if self.views.uses_embedding_masks:  # every column gets both keys, so they still merge into one pass
                width, dim = tokens.input_ids.shape[1], self.pipeline.vocab.hidden_size
                keep_token = torch.ones(rows, width) if tokens.keep_token is None else tokens.keep_token
                keep_feature = torch.ones(rows, dim) if tokens.keep_feature is None else tokens.keep_feature
                viewed[hooks.KEEP_TOKEN] = keep_token.to(torch.int8)
                viewed[hooks.KEEP_FEATURE] = keep_feature.to(torch.int8)
            out.append(viewed)
        return out

    def view_features(self, batch: dict[str, Any], column: str) -> dict[str, Any]:
        """The model-ready features of one column of a collated batch."""
        prefix = column + "_"
        return {key[len(prefix) :]: value for key, value in batch.items() if key.startswith(prefix)}
