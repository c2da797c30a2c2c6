"""InfoNCE (SimCSE) as a sentence-transformers loss."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor, nn

from fmicl_text.losses.functional import info_nce


class InfoNCELoss(nn.Module):
    """InfoNCE over in-batch negatives: unsupervised SimCSE when both columns hold the same text.

    Inputs: (anchor, positive) pairs, or (anchor, positive, negative) triplets whose third column
    adds hard negatives (supervised SimCSE). Returns the parts ``positive`` and ``negative``, which
    the trainer sums and logs separately.

    Args:
        model: the SentenceTransformer being trained.
        temperature: softmax temperature (SimCSE: 0.05).
        symmetric: also take the column-wise loss (v as anchors) and average the two.
        hard_negative_weight: log-weight added to each anchor's own hard-negative logit (SimCSE: 0).
    """

    def __init__(
        self,
        model: nn.Module,
        temperature: float = 0.05,
        symmetric: bool = False,
        hard_negative_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.model = model
        self.temperature = temperature
        self.symmetric = symmetric
        self.hard_negative_weight = hard_negative_weight

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None) -> dict:
        from sentence_transformers.base.losses.merged_forward import embed_columns

        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> dict:
        if len(embeddings) < 2:
            raise ValueError(f"InfoNCELoss needs (anchor, positive[, negative]) columns, got {len(embeddings)}")
        negatives = embeddings[2] if len(embeddings) > 2 else None
        return info_nce(
            embeddings[0],
            embeddings[1],
            temperature=self.temperature,
            symmetric=self.symmetric,
            negatives=negatives,
            hard_negative_weight=self.hard_negative_weight,
        )

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "symmetric": self.symmetric,
            "hard_negative_weight": self.hard_negative_weight,
        }

    @property
    def citation(self) -> str:
        return """
@inproceedings{gao2021simcse,
    title = {{SimCSE}: Simple Contrastive Learning of Sentence Embeddings},
    author = {Gao, Tianyu and Yao, Xingcheng and Chen, Danqi},
    booktitle = {Empirical Methods in Natural Language Processing (EMNLP)},
    year = {2021}
}
"""
