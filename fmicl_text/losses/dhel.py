"""DHEL as a sentence-transformers loss."""

from __future__ import annotations

from torch import Tensor, nn

from fmicl_text.losses.base import ContrastiveLoss
from fmicl_text.losses.functional import defaults_of, dhel

KOROMILAS_2024 = """
@inproceedings{koromilas2024bridging,
    title = {Bridging Mini-Batch and Asymptotic Analysis in Contrastive Learning:
             From {InfoNCE} to Kernel-Based Losses},
    author = {Koromilas, Panagiotis and Bouritsas, Giorgos and Giannakopoulos, Theodoros and Nicolaou, Mihalis
              and Panagakis, Yannis},
    booktitle = {International Conference on Machine Learning (ICML)},
    year = {2024}
}
"""


DEFAULTS = defaults_of(dhel)


class DHELLoss(ContrastiveLoss):
    """Decoupled hyperspherical energy loss: the positive leaves the denominator, which holds the
    energy of the anchor view (``-cos(u_i, v_i)/tau + log sum_{j != i} exp(cos(u_i, u_j)/tau)``).

    Args:
        model: the SentenceTransformer being trained.
        temperature: temperature of the energy terms (0.3 in the reference code).
        positive_energy: also add the positive view's energy term.
        gather_across_devices: energy over every process's embeddings, with gradient.
    """

    config_keys = ("temperature", "positive_energy")

    def __init__(
        self,
        model: nn.Module,
        temperature: float = DEFAULTS["temperature"],
        positive_energy: bool = DEFAULTS["positive_energy"],
        gather_across_devices: bool = False,
    ) -> None:
        super().__init__(model, gather_across_devices)
        self.temperature = temperature
        self.positive_energy = positive_energy
        self._validate()

    def objective(self, u: Tensor, v: Tensor, negatives: Tensor | None = None) -> dict[str, Tensor]:
        return dhel(u, v, temperature=self.temperature, positive_energy=self.positive_energy)

    citation = KOROMILAS_2024
