"""Training: a recipe in, a saved sentence-transformers model out."""

from fmicl_text.training.trainer import TrainResult, train

__all__ = ["TrainResult", "train"]
