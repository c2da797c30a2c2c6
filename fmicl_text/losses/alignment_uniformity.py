"""Alignment and uniformity as a sentence-transformers loss."""

from __future__ import annotations

from torch import Tensor, nn

from fmicl_text.losses.base import ContrastiveLoss
from fmicl_text.losses.functional import alignment_uniformity, defaults_of

DEFAULTS = defaults_of(alignment_uniformity)


class AlignmentUniformityLoss(ContrastiveLoss):
    """``E ||u_i - v_i||^a + lam * (U(u) + U(v)) / 2`` with ``U(z) = log mean exp(-t ||z_i - z_j||^2)``.

    Wang & Isola (2020); parts ``alignment`` and ``uniformity``.

    Args:
        model: the SentenceTransformer being trained.
        align_alpha: exponent of the alignment distance (2).
        t: scale of the uniformity's Gaussian potential (2).
        lam: weight of the uniformity term (1).
        gather_across_devices: uniformity over every process's embeddings, with gradient.
    """

    config_keys = ("align_alpha", "t", "lam")

    def __init__(
        self,
        model: nn.Module,
        align_alpha: float = DEFAULTS["align_alpha"],
        t: float = DEFAULTS["t"],
        lam: float = DEFAULTS["lam"],
        gather_across_devices: bool = False,
    ) -> None:
        super().__init__(model, gather_across_devices)
        self.align_alpha = align_alpha
        self.t = t
        self.lam = lam
        self._validate()

    def objective(self, u: Tensor, v: Tensor, negatives: Tensor | None = None) -> dict[str, Tensor]:
        return alignment_uniformity(u, v, align_alpha=self.align_alpha, t=self.t, lam=self.lam)

    citation = """
@inproceedings{wang2020understanding,
    title = {Understanding Contrastive Representation Learning through Alignment and Uniformity on the Hypersphere},
    author = {Wang, Tongzhou and Isola, Phillip},
    booktitle = {International Conference on Machine Learning (ICML)},
    year = {2020}
}
"""
