"""Encoders as sentence-transformers models: Transformer + SimCSE pooling (+ train-only MLP)."""

from fmicl_text.modeling.build import (
    build_model,
    load_model,
    load_tokenizer,
    resolve_model_path,
    strip_train_only_modules,
)
from fmicl_text.recipe import POOLINGS, ModelConfig  # the recipe's model section

__all__ = [
    "POOLINGS",
    "ModelConfig",
    "build_model",
    "load_model",
    "load_tokenizer",
    "resolve_model_path",
    "strip_train_only_modules",
]
