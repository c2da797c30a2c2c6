"""``alpha_from_batch``: f-MICL's negative term weighted by alpha / mean G (detached)."""

from __future__ import annotations

import pytest
import torch

from fmicl_text.errors import FmiclError
from fmicl_text.losses import build
from fmicl_text.losses.functional import fmicl


def _unit_pair(n: int = 8, d: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_kl_gaussian_with_batch_alpha_has_the_uniformity_gradient(sigma):
    """With KL the negative term is mean G; scaled by 1 / mean G (detached) its gradient is that of log mean G."""
    u, v = _unit_pair()
    u.requires_grad_(True)
    negative = fmicl(u, v, "kl", "gaussian", sigma=sigma, alpha=1.0, alpha_from_batch=True)["negative"]
    (grad,) = torch.autograd.grad(negative, u)
    un, vn = torch.nn.functional.normalize(u, dim=1), torch.nn.functional.normalize(v, dim=1)
    g = torch.exp(-(torch.cdist(un, vn) ** 2) / (2 * sigma**2))
    off = ~torch.eye(len(u), dtype=torch.bool)
    (expected,) = torch.autograd.grad(torch.log(g[off].mean()), u)
    torch.testing.assert_close(grad, expected)
    assert negative.item() == pytest.approx(1.0)  # mean G / mean G


def test_batch_alpha_scales_the_constant_alpha_by_the_kernel_mean():
    u, v = _unit_pair(seed=1)
    for name in ("js", "pearson", "vlc"):
        plain = fmicl(u, v, name, "gaussian", sigma=0.5, alpha=3.0)["negative"]
        scaled = fmicl(u, v, name, "gaussian", sigma=0.5, alpha=3.0, alpha_from_batch=True)["negative"]
        un, vn = torch.nn.functional.normalize(u, dim=1), torch.nn.functional.normalize(v, dim=1)
        g = torch.exp(-(torch.cdist(un, vn) ** 2) / 0.5)
        mean_g = g[~torch.eye(len(u), dtype=torch.bool)].mean()
        assert scaled.item() == pytest.approx(plain.item() / mean_g.item(), rel=1e-6)


def test_batch_alpha_is_for_the_gaussian_critic_only():
    u, v = _unit_pair()
    with pytest.raises(ValueError, match="gaussian"):
        fmicl(u, v, "kl", "cosine", alpha_from_batch=True)
    with pytest.raises(FmiclError, match="alpha_from_batch is used only when similarity is gaussian"):
        build("fmicl", torch.nn.Identity(), similarity="cosine", alpha_from_batch=True)
    assert build("fmicl", torch.nn.Identity(), alpha_from_batch=True).get_config_dict()["alpha_from_batch"] is True
