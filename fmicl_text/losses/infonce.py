"""InfoNCE (SimCSE) as a sentence-transformers loss."""

from __future__ import annotations

from torch import Tensor, nn

from fmicl_text.losses.base import ContrastiveLoss
from fmicl_text.losses.functional import defaults_of, info_nce

DEFAULTS = defaults_of(info_nce)


class InfoNCELoss(ContrastiveLoss):
    """InfoNCE over in-batch negatives: unsupervised SimCSE when both columns hold the same text.

    Inputs: (anchor, positive) pairs, or (anchor, positive, negative) triplets whose third column
    adds hard negatives (supervised SimCSE). Parts: ``positive``, ``negative``.

    Args:
        model: the SentenceTransformer being trained.
        temperature: softmax temperature (SimCSE: 0.05).
        symmetric: also take the column-wise loss (v as anchors) and average the two.
        hard_negative_weight: log-weight added to each anchor's own hard-negative logit (SimCSE: 0).
        gather_across_devices: negatives from every process, with gradient (exact, see ``distributed``).

    Relations: with ``hard_negative_weight=0`` this is sentence-transformers'
    ``MultipleNegativesRankingLoss`` (``scale = 1/temperature``; ``symmetric`` = its directions
    ``("query_to_doc", "doc_to_query")`` with ``partition_mode="per_direction"``); a test proves equal
    values and gradients. It is kept rather than built on MNRL for what MNRL lacks: SimCSE's constant
    log-weight on each anchor's own hard negative (MNRL's hardness modes weight by the detached
    cosine instead), the per-part logging, and the float32 math shared by every objective.
    """

    config_keys = ("temperature", "symmetric", "hard_negative_weight")
    accepts_negatives = True

    def __init__(
        self,
        model: nn.Module,
        temperature: float = DEFAULTS["temperature"],
        symmetric: bool = DEFAULTS["symmetric"],
        hard_negative_weight: float = DEFAULTS["hard_negative_weight"],
        gather_across_devices: bool = False,
    ) -> None:
        super().__init__(model, gather_across_devices)
        self.temperature = temperature
        self.symmetric = symmetric
        self.hard_negative_weight = hard_negative_weight
        self._validate()

    def objective(self, u: Tensor, v: Tensor, negatives: Tensor | None = None) -> dict[str, Tensor]:
        return info_nce(
            u,
            v,
            temperature=self.temperature,
            symmetric=self.symmetric,
            negatives=negatives,
            hard_negative_weight=self.hard_negative_weight,
        )

    citation = """
@inproceedings{gao2021simcse,
    title = {{SimCSE}: Simple Contrastive Learning of Sentence Embeddings},
    author = {Gao, Tianyu and Yao, Xingcheng and Chen, Danqi},
    booktitle = {Empirical Methods in Natural Language Processing (EMNLP)},
    year = {2021}
}
"""
