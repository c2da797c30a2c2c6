"""Encoders as sentence-transformers models: Transformer + SimCSE pooling (+ train-only MLP)."""

from fmicl_text.modeling.build import (
    POOLINGS,
    ModelConfig,
    build_model,
    load_model,
    load_tokenizer,
    resolve_model_path,
    strip_train_only_modules,
)

__all__ = [
    "POOLINGS",
    "ModelConfig",
    "build_model",
    "load_model",
    "load_tokenizer",
    "resolve_model_path",
    "strip_train_only_modules",
]
