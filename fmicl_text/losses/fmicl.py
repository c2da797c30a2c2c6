"""f-MICL as a sentence-transformers loss."""

from __future__ import annotations

from torch import Tensor, nn

from fmicl_text.losses.base import ContrastiveLoss
from fmicl_text.losses.functional import defaults_of, fmicl

DEFAULTS = defaults_of(fmicl)


class FMICLLoss(ContrastiveLoss):
    """f-mutual-information contrastive learning (Lu et al., TMLR 2023).

    Minimises ``-(1/N) sum_i s(u_i, v_i) + alpha * mean_{i != j} f*(s(u_i, v_j))``, the negative of
    the variational lower bound of the f-mutual information between the two views.

    Inputs: (anchor, positive) pairs, or (anchor, positive, negative) triplets (supervised mode):
    every (anchor, hard negative) pair (u_i, w_j), all i and j, joins the negative pairs of the f*
    term, the one term that scores non-positive pairs (treated as draws from the product of
    marginals, like the in-batch pairs). Parts: ``positive``, ``negative``.

    Args:
        model: the SentenceTransformer being trained.
        divergence: kl, js, pearson, squared_hellinger, tsallis or vlc (see ``divergences``).
        similarity: ``gaussian`` (the paper's f-Gaussian critic, bandwidth ``sigma``) or ``cosine``
            (cos / ``temperature`` through the f-GAN output activation).
        sigma: bandwidth of the Gaussian kernel on unit vectors (``d`` ranges over [0, 4]), chosen on
            STS-B dev (``eval/losses.md``); large values approach the linear limit, where every divergence
            gives the same loss.
        alpha: weight of the negative term.
        temperature: scale of the cosine critic.
        negatives: ``cross`` (u_i, v_j), ``within`` (u_i, u_j), (v_i, v_j), or ``both``.
        tsallis_alpha: order of the Tsallis divergence (> 1).
        alpha_from_batch: weight the negative term by ``alpha / mean G`` of the batch (detached; f-Gaussian
            only, not in the paper): with KL its gradient is then alignment + uniformity's. For KL and JS;
            Pearson and VLC contract under it (``eval/fgaussian.md``).
        gather_across_devices: negatives from every process, with gradient.
    """

    config_keys = (
        "divergence",
        "similarity",
        "sigma",
        "alpha",
        "temperature",
        "negatives",
        "tsallis_alpha",
        "alpha_from_batch",
    )
    accepts_negatives = True
    applies_when = {
        "tsallis_alpha": ("divergence", ("tsallis",)),
        "sigma": ("similarity", ("gaussian",)),
        "temperature": ("similarity", ("cosine",)),
        "alpha_from_batch": ("similarity", ("gaussian",)),
    }

    def __init__(
        self,
        model: nn.Module,
        divergence: str = DEFAULTS["divergence"],
        similarity: str = DEFAULTS["similarity"],
        sigma: float = DEFAULTS["sigma"],
        alpha: float = DEFAULTS["alpha"],
        temperature: float = DEFAULTS["temperature"],
        negatives: str = DEFAULTS["negatives"],
        tsallis_alpha: float = DEFAULTS["tsallis_alpha"],
        alpha_from_batch: bool = DEFAULTS["alpha_from_batch"],
        gather_across_devices: bool = False,
    ) -> None:
        super().__init__(model, gather_across_devices)
        self.divergence = divergence
        self.similarity = similarity
        self.sigma = sigma
        self.alpha = alpha
        self.temperature = temperature
        self.negatives = negatives
        self.tsallis_alpha = tsallis_alpha
        self.alpha_from_batch = alpha_from_batch
        self._validate()

    def objective(self, u: Tensor, v: Tensor, negatives: Tensor | None = None) -> dict[str, Tensor]:
        # ``negatives`` here is the third column (a tensor); ``self.negatives`` is the pair set (a str).
        params = {key: getattr(self, key) for key in self.config_keys}
        return fmicl(u, v, hard_negatives=negatives, **params)

    citation = """
@article{lu2023fmicl,
    title = {f-{MICL}: Understanding and Generalizing {InfoNCE}-based Contrastive Learning},
    author = {Lu, Yiwei and Zhang, Guojun and Sun, Sun and Guo, Hongyu and Yu, Yaoliang},
    journal = {Transactions on Machine Learning Research},
    year = {2023}
}
"""
