"""Embedding-level views on a sentence-transformers model: the masks reach the embedding layer.

Token and feature cutoff act on the output of the encoder's embedding layer, which a data
collator cannot reach. The collator puts the masks in the features under :data:`KEEP_TOKEN` and
:data:`KEEP_FEATURE`; :func:`install` adds two hooks to the model's Transformer module: one takes
the masks out of the features before the Hugging Face model sees them, one multiplies the
embedding layer's output by them. Without the keys, the hooks do nothing.
"""

from __future__ import annotations

from typing import Any

import torch

KEEP_TOKEN = "view_keep_token"  # (B, L) int8: 0 zeroes the token's embedding row
KEEP_FEATURE = "view_keep_feature"  # (B, D) int8: 0 zeroes the embedding column for the whole sentence
KEYS = (KEEP_TOKEN, KEEP_FEATURE)
_STATE = "_fmicl_view_masks"


def transformer_module(model: Any):
    """The model's sentence-transformers Transformer module (the one holding the Hugging Face encoder)."""
    for module in model.children() if hasattr(model, "children") else []:
        if hasattr(module, "auto_model"):
            return module
    raise TypeError("embedding-level views need a sentence-transformers model with a Transformer module")


def embedding_layer(hf_model: torch.nn.Module) -> torch.nn.Module:
    """BERT-style models' full embedding block (words + positions + types, normalised), else the word embeddings."""
    block = getattr(hf_model, "embeddings", None)
    return block if isinstance(block, torch.nn.Module) else hf_model.get_input_embeddings()


def install(model: Any) -> None:
    """Make ``model`` apply the cutoff masks found in its input features (idempotent)."""
    transformer = transformer_module(model)
    if hasattr(transformer, _STATE):
        return
    masks: dict[str, torch.Tensor] = {}
    setattr(transformer, _STATE, masks)

    def take_masks(module, args, kwargs):
        features = args[0]
        masks.clear()
        if not any(key in features for key in KEYS):
            return None
        masks.update({key: features[key] for key in KEYS if key in features})
        rest = {key: value for key, value in features.items() if key not in KEYS}
        return (rest, *args[1:]), kwargs

    def apply_masks(module, inputs, output):
        if not masks:
            return output
        if KEEP_TOKEN in masks:
            output = output * masks[KEEP_TOKEN][:, : output.shape[1], None].to(output.dtype)
        if KEEP_FEATURE in masks:
            output = output * masks[KEEP_FEATURE][:, None, :].to(output.dtype)
        return output

    def clear(module, args, output):
        masks.clear()
        return output

    transformer.register_forward_pre_hook(take_masks, with_kwargs=True)
    transformer.register_forward_hook(clear)
    embedding_layer(transformer.auto_model).register_forward_hook(apply_masks)
