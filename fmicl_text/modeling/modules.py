"""Sentence-transformers modules that SimCSE needs and sentence-transformers does not ship.

* :class:`TrainOnlyDense` is SimCSE's ``mlp_only_train`` head: an MLP (linear + tanh) over the
  pooled vector that shapes the training objective but is skipped at inference, so evaluation
  during training and the saved model both see the pooled vector itself.
* :class:`FirstLastAvgPooling` is SimCSE's ``avg_first_last`` pooler: the mean over tokens of the
  average of the first transformer layer's output and the last layer's output. sentence-transformers'
  ``Pooling`` only reads the last layer.
"""

from __future__ import annotations

import torch
from sentence_transformers.sentence_transformer.modules import Dense, Module


class TrainOnlyDense(Dense):
    """A ``Dense`` layer that is the identity in eval mode (SimCSE's ``mlp_only_train``)."""

    def forward(self, features: dict[str, torch.Tensor], **kwargs) -> dict[str, torch.Tensor]:
        if not self.training:
            return features
        return super().forward(features, **kwargs)


class FirstLastAvgPooling(Module):
    """Mean over tokens of (hidden_states[1] + hidden_states[-1]) / 2, as SimCSE's ``avg_first_last``.

    ``hidden_states[0]`` is the embedding layer, so index 1 is the first transformer layer, which is
    what SimCSE reads. Needs the Transformer module built with ``output_hidden_states=True``.
    """

    config_keys: list[str] = ["embedding_dimension"]

    def __init__(self, embedding_dimension: int) -> None:
        super().__init__()
        self.embedding_dimension = embedding_dimension

    def forward(self, features: dict[str, torch.Tensor], **kwargs) -> dict[str, torch.Tensor]:
        layers = features.get("all_layer_embeddings")
        if layers is None:
            raise ValueError("avg_first_last pooling needs the encoder's hidden states (output_hidden_states=True)")
        mask = features["attention_mask"].unsqueeze(-1).to(layers[-1].dtype)
        tokens = (layers[1] + layers[-1]) / 2.0
        features["sentence_embedding"] = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return features

    def get_embedding_dimension(self) -> int:
        return self.embedding_dimension

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)
