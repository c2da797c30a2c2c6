"""The generalised contrastive loss as a sentence-transformers loss."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fmicl_text.losses.base import ContrastiveLoss
from fmicl_text.losses.functional import SAMPLED_PRIORS, defaults_of, generalized_contrastive

DEFAULTS = defaults_of(generalized_contrastive)


class GeneralizedContrastiveLoss(ContrastiveLoss):
    """``||u_i - v_i||^2 / 2 + lam * distribution`` (Chen, Luo, Li 2021, "Intriguing Properties").

    The distribution term matches the batch to a prior: ``logsumexp`` (the uniform hypersphere in
    log-sum-exp form, i.e. decoupled NT-Xent) or a sliced-Wasserstein distance to samples of
    ``normal``, ``hypersphere`` or ``hypercube``. Parts ``alignment`` and ``distribution``.

    Args:
        model: the SentenceTransformer being trained.
        prior: logsumexp, normal, hypersphere or hypercube.
        lam: weight of the distribution term.
        temperature: temperature of the log-sum-exp prior.
        num_projections: random directions of sliced Wasserstein (capped at the dimension).
        seed: seed of the projections and prior samples. Every process draws the same stream, so a
            gathered batch gives the same loss on each.
        gather_across_devices: the distribution term over every process's embeddings, with gradient.
    """

    config_keys = ("prior", "lam", "temperature", "num_projections", "seed")
    applies_when = {
        "temperature": ("prior", ("logsumexp",)),
        "num_projections": ("prior", SAMPLED_PRIORS),
        "seed": ("prior", SAMPLED_PRIORS),
    }

    def __init__(
        self,
        model: nn.Module,
        prior: str = DEFAULTS["prior"],
        lam: float = DEFAULTS["lam"],
        temperature: float = DEFAULTS["temperature"],
        num_projections: int = DEFAULTS["num_projections"],
        seed: int = 0,
        gather_across_devices: bool = False,
    ) -> None:
        super().__init__(model, gather_across_devices)
        self.prior = prior
        self.lam = lam
        self.temperature = temperature
        self.num_projections = num_projections
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self._validate()
        self.generator.manual_seed(seed)  # validation drew from it

    def objective(self, u: Tensor, v: Tensor, negatives: Tensor | None = None) -> dict[str, Tensor]:
        return generalized_contrastive(
            u,
            v,
            prior=self.prior,
            lam=self.lam,
            temperature=self.temperature,
            num_projections=self.num_projections,
            generator=self.generator,
        )

    citation = """
@inproceedings{chen2021intriguing,
    title = {Intriguing Properties of Contrastive Losses},
    author = {Chen, Ting and Luo, Calvin and Li, Lala},
    booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
    year = {2021}
}
"""
