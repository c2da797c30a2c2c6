"""The f-divergence table of f-MICL: one entry per divergence.

Each entry gives the generator ``f`` (convex on u > 0, ``f(1) = 0``), its derivative ``f'``, the
convex conjugate ``f*(t) = sup_{u>0} (u t - f(u))`` and the f-GAN output activation that maps an
unbounded critic value into dom f* (Nowozin et al. 2016, Table 2). Adding a divergence means
adding one entry; the tests check every entry for ``f(1) = 0``, the Fenchel-Young equality
``f*(f'(u)) = u f'(u) - f(u)`` and the sup definition of f* on a grid.

``f*`` is the exact conjugate over u > 0 on all of its domain. Where the range of f' is bounded
below (Pearson: -2, Tsallis: -1/(a-1), VLC: -3), the sup below that bound is reached as u -> 0 and
f* is the constant ``-f(0)``: the closed forms of the objectives table hold only above the bound.

Three stable composites serve the two critics (all default to the plain composition):

* ``gaussian_critic(l)``  = f'(G) with G = e^l, the f-Gaussian critic from the log-kernel l;
* ``gaussian_negative(l)`` = G f'(G) - f(G) = f*(f'(G)), the f-Gaussian negative term;
* ``cosine_negative(v)``  = f*(activation(v)), the cosine critic's negative term.

Exponentials that can overflow float32 (KL's e^t, Hellinger's u^(-1/2), the 1 - e^{-v}
activation) use :func:`exp_linear`, exact below ``EXP_CAP`` and continued linearly above it, so
values and gradients stay finite and point the right way at extreme temperatures or bandwidths.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

Fn = Callable[[Tensor], Tensor]
LOG2 = math.log(2.0)
EXP_CAP = 60.0  # e^60 ~ 1e26: far from float32's limit (~3e38) even after summing a large batch


def exp_linear(x: Tensor, cap: float = EXP_CAP) -> Tensor:
    """``exp(x)`` up to ``cap``, then its tangent line: finite values and gradients for any x."""
    e = torch.exp(torch.clamp(x, max=cap))
    return e * (1.0 + F.relu(x - cap))


@dataclass(frozen=True)
class Divergence:
    name: str
    f: Fn
    f_prime: Fn
    conjugate: Fn  # exact sup over u > 0, for t below ``upper``
    upper: float  # dom f* = (-inf, upper)
    activation: Fn  # f-GAN output activation: R -> dom f*
    about: str
    gaussian_critic: Fn | None = None
    gaussian_negative: Fn | None = None
    cosine_negative: Fn | None = None

    def critic_from_log_kernel(self, log_g: Tensor) -> Tensor:
        if self.gaussian_critic is not None:
            return self.gaussian_critic(log_g)
        return self.f_prime(torch.exp(log_g))

    def negative_from_log_kernel(self, log_g: Tensor) -> Tensor:
        """f*(f'(G)) computed as G f'(G) - f(G) (Fenchel-Young), never through f*."""
        if self.gaussian_negative is not None:
            return self.gaussian_negative(log_g)
        g = torch.exp(log_g)
        return g * self.f_prime(g) - self.f(g)

    def negative_from_cosine(self, v: Tensor) -> Tensor:
        if self.cosine_negative is not None:
            return self.cosine_negative(v)
        return self.conjugate(self.activation(v))


def _kl() -> Divergence:
    return Divergence(
        "kl",
        f=lambda u: torch.xlogy(u, u),
        f_prime=lambda u: 1.0 + torch.log(u),
        conjugate=lambda t: torch.exp(t - 1.0),
        upper=math.inf,
        activation=lambda v: v,
        about="Kullback-Leibler",
        gaussian_critic=lambda lg: 1.0 + lg,
        gaussian_negative=torch.exp,  # G f'(G) - f(G) = G
        cosine_negative=lambda v: exp_linear(v - 1.0),
    )


def _js() -> Divergence:
    return Divergence(
        "js",
        f=lambda u: torch.xlogy(u, u) - (1.0 + u) * (torch.log1p(u) - LOG2),
        f_prime=lambda u: LOG2 + torch.log(u) - torch.log1p(u),
        conjugate=lambda t: -LOG2 - torch.log1p(-0.5 * torch.exp(t)),  # -log(2 - e^t)
        upper=LOG2,
        activation=lambda v: LOG2 - F.softplus(-v),
        about="Jensen-Shannon (GAN form)",
        gaussian_critic=lambda lg: LOG2 - F.softplus(-lg),  # log(2G / (1 + G))
        gaussian_negative=lambda lg: F.softplus(lg) - LOG2,  # log((1 + G) / 2)
        cosine_negative=lambda v: F.softplus(v) - LOG2,  # f*(log 2 - softplus(-v))
    )


def _pearson() -> Divergence:
    def conjugate(t: Tensor) -> Tensor:
        return torch.where(t >= -2.0, t + t**2 / 4.0, torch.full_like(t, -1.0))  # -f(0) = -1 below -2

    return Divergence(
        "pearson",
        f=lambda u: (u - 1.0) ** 2,
        f_prime=lambda u: 2.0 * (u - 1.0),
        conjugate=conjugate,
        upper=math.inf,
        activation=lambda v: v,
        about="Pearson chi^2",
        gaussian_negative=lambda lg: torch.expm1(2.0 * lg),  # G^2 - 1
    )


def _squared_hellinger() -> Divergence:
    return Divergence(
        "squared_hellinger",
        f=lambda u: (torch.sqrt(u) - 1.0) ** 2,
        f_prime=lambda u: 1.0 - torch.rsqrt(u),
        conjugate=lambda t: t / (1.0 - t),
        upper=1.0,
        activation=lambda v: 1.0 - exp_linear(-v),  # 1 - e^{-v}
        about="squared Hellinger",
        gaussian_critic=lambda lg: 1.0 - exp_linear(-0.5 * lg),  # 1 - G^{-1/2}
        gaussian_negative=lambda lg: torch.expm1(0.5 * lg),  # G^{1/2} - 1
        cosine_negative=lambda v: exp_linear(v) - 1.0,  # t / (1 - t) with t = 1 - e^{-v}
    )


def _tsallis(alpha: float) -> Divergence:
    if not alpha > 1.0:
        raise ValueError(f"tsallis_alpha must be > 1, got {alpha}")
    a = float(alpha)

    def conjugate(t: Tensor) -> Tensor:
        # ((a-1) t + 1) / a)^(a/(a-1)) where (a-1) t + 1 > 0; 0 = -f(0) below.
        return (F.relu((a - 1.0) * t + 1.0) / a) ** (a / (a - 1.0))

    return Divergence(
        "tsallis",
        f=lambda u: (u**a - u) / (a - 1.0),
        f_prime=lambda u: (a * u ** (a - 1.0) - 1.0) / (a - 1.0),
        conjugate=conjugate,
        upper=math.inf,
        # (choice) identity: the exact conjugate is finite on all of R (flat below -1/(a-1)), so no
        # clipping is needed to stay in its domain.
        activation=lambda v: v,
        about=f"Tsallis (alpha={a})",
        # f'(G) from the log-kernel: G^(a-1) = e^{(a-1) l} has a finite gradient even where G underflows.
        gaussian_critic=lambda lg: (a * torch.exp((a - 1.0) * lg) - 1.0) / (a - 1.0),
        gaussian_negative=lambda lg: torch.exp(a * lg),  # G^a
    )


def _vlc() -> Divergence:
    def conjugate(t: Tensor) -> Tensor:
        w = torch.sqrt(torch.clamp(1.0 - t, max=4.0))  # the sup sits at u -> 0 once t < -3
        return (w - 2.0) ** 2 - 1.0  # = 4 - t - 4 sqrt(1 - t) for -3 <= t < 1

    return Divergence(
        "vlc",
        f=lambda u: (u - 1.0) ** 2 / (u + 1.0),
        f_prime=lambda u: 1.0 - 4.0 / (u + 1.0) ** 2,
        conjugate=conjugate,
        upper=1.0,
        activation=lambda v: 1.0 - exp_linear(-v),
        about="Vincze-Le Cam",
        gaussian_negative=lambda lg: _vlc_fy(torch.exp(lg)),
        # sqrt(1 - t) = e^{-v/2} for t = 1 - e^{-v}; capped at 2 where f* is flat.
        cosine_negative=lambda v: (torch.exp(torch.clamp(-0.5 * v, max=LOG2)) - 2.0) ** 2 - 1.0,
    )


def _vlc_fy(g: Tensor) -> Tensor:
    return (3.0 * g + 1.0) * (g - 1.0) / (1.0 + g) ** 2  # G f'(G) - f(G), simplified


_FIXED = {"kl": _kl, "js": _js, "pearson": _pearson, "squared_hellinger": _squared_hellinger, "vlc": _vlc}
NAMES = ("kl", "js", "pearson", "squared_hellinger", "tsallis", "vlc")


def get_divergence(name: str, tsallis_alpha: float = 2.0) -> Divergence:
    """The table entry for ``name`` (``tsallis`` takes its order ``tsallis_alpha`` > 1)."""
    if name == "tsallis":
        return _tsallis(tsallis_alpha)
    if name not in _FIXED:
        valid = ", ".join(f"{key} = {get_divergence(key).about}" for key in NAMES)
        raise ValueError(f"unknown divergence {name!r}; valid: {valid}")
    return _FIXED[name]()
