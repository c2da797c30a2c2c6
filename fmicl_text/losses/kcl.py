"""KCL as a sentence-transformers loss."""

from __future__ import annotations

from torch import Tensor, nn

from fmicl_text.losses.base import ContrastiveLoss
from fmicl_text.losses.dhel import KOROMILAS_2024
from fmicl_text.losses.functional import defaults_of, kcl

DEFAULTS = defaults_of(kcl)


class KCLLoss(ContrastiveLoss):
    """Kernel contrastive loss: ``-mean k(u_i, v_i) + gamma * mean_{i != j} k(u_i, u_j)``.

    Args:
        model: the SentenceTransformer being trained.
        kernel: gaussian (``exp(-t d^2)``), log, imq or riesz (see ``functional.kernel_matrix``).
        gamma: weight of the negative (energy) term; 16 in the reference code.
        t: kernel scale; 2 in the reference code.
        gather_across_devices: energy over every process's embeddings, with gradient.
    """

    config_keys = ("kernel", "gamma", "t")

    def __init__(
        self,
        model: nn.Module,
        kernel: str = DEFAULTS["kernel"],
        gamma: float = DEFAULTS["gamma"],
        t: float = DEFAULTS["t"],
        gather_across_devices: bool = False,
    ) -> None:
        super().__init__(model, gather_across_devices)
        self.kernel = kernel
        self.gamma = gamma
        self.t = t
        self._validate()

    def objective(self, u: Tensor, v: Tensor, negatives: Tensor | None = None) -> dict[str, Tensor]:
        return kcl(u, v, kernel=self.kernel, gamma=self.gamma, t=self.t)

    citation = KOROMILAS_2024
