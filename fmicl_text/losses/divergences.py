"""The f-divergence table of f-MICL: one entry per divergence.

Each entry gives the generator ``f`` (convex, ``f(1) = 0``), its derivative ``f'``, the convex
conjugate ``f*`` with its domain, and the f-GAN output activation that maps an unbounded critic
value into that domain (Nowozin et al. 2016, Table 2). All functions act elementwise on tensors.
Adding a divergence means adding one entry; the unit tests check every entry for the
Fenchel-Young equality ``f*(f'(u)) = u f'(u) - f(u)``, ``f(1) = 0`` and the sup definition of f*.

Forms are chosen for stability: ``log1p``/``expm1``/``softplus`` where an exp or a log could
overflow or cancel, so that the f-Gaussian critic (``u`` = a Gaussian kernel value in (0, 1]) stays
finite down to kernel values of ~1e-30 in float32.
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


@dataclass(frozen=True)
class Divergence:
    """An f-divergence: ``f``, ``f'``, ``f*``, where ``f*`` is finite, and the f-GAN activation."""

    name: str
    f: Fn
    f_prime: Fn
    conjugate: Fn
    in_domain: Callable[[Tensor], Tensor]  # bool mask: t inside dom f*
    activation: Fn  # R -> dom f*
    about: str


def _kl() -> Divergence:
    return Divergence(
        "kl",
        f=lambda u: torch.xlogy(u, u),
        f_prime=lambda u: 1.0 + torch.log(u),
        conjugate=lambda t: torch.exp(t - 1.0),
        in_domain=lambda t: torch.isfinite(t),
        activation=lambda v: v,
        about="Kullback-Leibler",
    )


def _js() -> Divergence:
    # GAN form: f(u) = u log u - (1 + u) log((1 + u) / 2); f'(u) = log(2u / (1 + u)).
    return Divergence(
        "js",
        f=lambda u: torch.xlogy(u, u) - (1.0 + u) * (torch.log1p(u) - LOG2),
        f_prime=lambda u: LOG2 + torch.log(u) - torch.log1p(u),
        # -log(2 - e^t), written as -log(2) - log1p(-e^t / 2) for accuracy near t = log 2.
        conjugate=lambda t: -LOG2 - torch.log1p(-0.5 * torch.exp(t)),
        in_domain=lambda t: t < LOG2,
        activation=lambda v: LOG2 - F.softplus(-v),
        about="Jensen-Shannon (GAN form)",
    )


def _pearson() -> Divergence:
    return Divergence(
        "pearson",
        f=lambda u: (u - 1.0) ** 2,
        f_prime=lambda u: 2.0 * (u - 1.0),
        conjugate=lambda t: t + t**2 / 4.0,
        in_domain=lambda t: t > -2.0,
        activation=lambda v: v,
        about="Pearson chi^2",
    )


def _squared_hellinger() -> Divergence:
    return Divergence(
        "squared_hellinger",
        f=lambda u: (torch.sqrt(u) - 1.0) ** 2,
        f_prime=lambda u: 1.0 - torch.rsqrt(u),
        conjugate=lambda t: t / (1.0 - t),
        in_domain=lambda t: t < 1.0,
        activation=lambda v: -torch.expm1(-v),  # 1 - e^{-v}
        about="squared Hellinger",
    )


def _tsallis(alpha: float) -> Divergence:
    if not alpha > 1.0:
        raise ValueError(f"tsallis_alpha must be > 1, got {alpha}")
    a = float(alpha)
    floor = -1.0 / (a - 1.0)  # dom f*: (a - 1) t + 1 > 0  <=>  t > -1 / (a - 1)
    return Divergence(
        "tsallis",
        f=lambda u: (u**a - u) / (a - 1.0),
        f_prime=lambda u: (a * u ** (a - 1.0) - 1.0) / (a - 1.0),
        conjugate=lambda t: (((a - 1.0) * t + 1.0) / a) ** (a / (a - 1.0)),
        in_domain=lambda t: (a - 1.0) * t + 1.0 > 0,
        # (choice) clip into the domain: a floor just inside it, no ceiling (f* is finite above).
        activation=lambda v: torch.clamp(v, min=floor + 1e-6),
        about=f"Tsallis (alpha={a})",
    )


def _vlc() -> Divergence:
    return Divergence(
        "vlc",
        f=lambda u: (u - 1.0) ** 2 / (u + 1.0),
        f_prime=lambda u: 1.0 - 4.0 / (u + 1.0) ** 2,
        conjugate=lambda t: 4.0 - t - 4.0 * torch.sqrt(1.0 - t),
        in_domain=lambda t: t < 1.0,
        activation=lambda v: -torch.expm1(-v),
        about="Vincze-Le Cam",
    )


_FIXED = {"kl": _kl, "js": _js, "pearson": _pearson, "squared_hellinger": _squared_hellinger, "vlc": _vlc}
NAMES = ("kl", "js", "pearson", "squared_hellinger", "tsallis", "vlc")


def get_divergence(name: str, tsallis_alpha: float = 2.0) -> Divergence:
    """The table entry for ``name`` (``tsallis`` takes its order ``tsallis_alpha`` > 1)."""
    if name == "tsallis":
        return _tsallis(tsallis_alpha)
    if name not in _FIXED:
        raise ValueError(f"unknown divergence {name!r}; valid: {', '.join(NAMES)}")
    return _FIXED[name]()
