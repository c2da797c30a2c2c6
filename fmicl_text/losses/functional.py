"""The objectives as pure functions of two embedding matrices.

Each function takes the raw (not yet normalised) embeddings ``u``, ``v`` of the two views, shape
N x d, and returns a dict of **additive parts** whose sum is the loss, so that training can log
each part. Computation is in float32 (float64 for float64 inputs) whatever the input dtype, with log-sum-exp forms.
The math is specified in the project's objectives document (section numbers refer to it).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


def float32_math(fn: Callable[..., dict[str, Tensor]]) -> Callable[..., dict[str, Tensor]]:
    """Run a loss with autocast off, so that its math stays in float32 under bf16/fp16 training."""

    @functools.wraps(fn)
    def wrapper(u: Tensor, *args, **kwargs) -> dict[str, Tensor]:
        with torch.autocast(device_type=u.device.type, enabled=False):
            return fn(u, *args, **kwargs)

    return wrapper


def defaults_of(fn: Callable[..., Any]) -> dict[str, Any]:
    """An objective's keyword defaults. The loss classes take theirs from here, so that each default
    is declared once, beside the math it belongs to."""
    return {key: p.default for key, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}


def _wide(x: Tensor) -> Tensor:
    """At least float32 (float64 stays float64, for gradcheck); bf16/fp16 inputs are widened."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _check_pair(u: Tensor, v: Tensor) -> None:
    if u.ndim != 2 or u.shape != v.shape:
        raise ValueError(f"u and v must both be N x d, got {tuple(u.shape)} and {tuple(v.shape)}")
    if u.shape[0] < 2:
        raise ValueError("in-batch negatives need a batch of at least 2 pairs")


@float32_math
def info_nce(
    u: Tensor,
    v: Tensor,
    temperature: float = 0.05,
    symmetric: bool = False,
    negatives: Tensor | None = None,
    hard_negative_weight: float = 0.0,
) -> dict[str, Tensor]:
    """InfoNCE / NT-Xent as in SimCSE (section 1).

    ``s_ij = cos(u_i, v_j) / temperature``; the loss is the cross-entropy of each row of ``s`` with
    the diagonal as target, split into ``positive = -mean_i s_ii`` and
    ``negative = mean_i logsumexp_j s_ij``. ``negatives`` (M x d, usually N hard negatives, row i the
    hard negative of anchor i) add columns to every row; SimCSE adds ``hard_negative_weight`` (a
    log-weight) to the logit of each anchor's own hard negative. ``symmetric`` averages the row-wise
    loss with the column-wise one (v as anchor, u as candidates).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    _check_pair(u, v)
    u = F.normalize(_wide(u), dim=-1)
    v = F.normalize(_wide(v), dim=-1)
    logits = u @ v.T / temperature
    positive = -logits.diagonal().mean()
    candidates = logits
    if negatives is not None:
        w = F.normalize(_wide(negatives), dim=-1)
        hard = u @ w.T / temperature
        if hard_negative_weight and hard.shape[0] == hard.shape[1]:
            hard = hard + hard_negative_weight * torch.eye(hard.shape[0], device=hard.device, dtype=hard.dtype)
        candidates = torch.cat([logits, hard], dim=1)
    negative = torch.logsumexp(candidates, dim=1).mean()
    if symmetric:
        negative = (negative + torch.logsumexp(logits, dim=0).mean()) / 2
    return {"positive": positive, "negative": negative}


# --------------------------------------------------------------------------- shared pieces


def _unit(x: Tensor) -> Tensor:
    return F.normalize(_wide(x), dim=-1)


def _offdiag(m: Tensor) -> Tensor:
    """The entries i != j of a square matrix, flattened."""
    n = m.shape[0]
    return m.masked_select(~torch.eye(n, dtype=torch.bool, device=m.device))


def _sq_dist_unit(a: Tensor, b: Tensor) -> Tensor:
    """||a_i - b_j||^2 for unit rows, as 2 - 2 cos (finite gradient at distance 0, unlike cdist)."""
    return (2.0 - 2.0 * a @ b.T).clamp_min(0.0)


def _log_mean_exp(x: Tensor) -> Tensor:
    return torch.logsumexp(x, dim=0) - math.log(x.numel())


def _lse_offdiag_rows(logits: Tensor) -> Tensor:
    """Per row, logsumexp over the columns j != i."""
    eye = torch.eye(logits.shape[0], dtype=torch.bool, device=logits.device)
    return torch.logsumexp(logits.masked_fill(eye, float("-inf")), dim=1)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")


# --------------------------------------------------------------------------- f-MICL (section 2)

SIMILARITIES = ("gaussian", "cosine")
NEGATIVE_PAIRS = ("cross", "within", "both")


@float32_math
def fmicl(
    u: Tensor,
    v: Tensor,
    divergence: str = "js",
    similarity: str = "gaussian",
    sigma: float = 2.0,
    alpha: float = 1.0,
    temperature: float = 0.05,
    negatives: str = "cross",
    tsallis_alpha: float = 2.0,
    hard_negatives: Tensor | None = None,
    alpha_from_batch: bool = False,
) -> dict[str, Tensor]:
    """f-MICL (Lu et al., TMLR 2023): the negative of the variational f-mutual-information bound.

    ``L = -(1/N) sum_i s(u_i, v_i) + alpha * mean_{negative pairs} f*(s)``, split into ``positive``
    and ``negative``. Critics: ``gaussian`` (f-Gaussian, s = f'(G_sigma(d)), negative term in the
    Fenchel-Young form G f'(G) - f(G) from the log-kernel -d / (2 sigma^2)) or ``cosine``
    (s = activation(cos / temperature), f-GAN activation). Negative pairs: ``cross`` (u_i, v_j),
    ``within`` (u_i, u_j) and (v_i, v_j), ``both`` all of these; always i != j.

    ``hard_negatives`` (M x d, usually N rows, row i the hard negative of anchor i, as in supervised
    SimCSE) add the M * N pairs (u_i, w_j), all i and j, to the negative pairs above: the f* term
    is then the mean over the union. Every (anchor, hard negative) pair is a negative, the anchor's
    own included, since a hard negative is by construction not a positive of any anchor.

    ``alpha_from_batch`` (f-Gaussian only; not in the paper, whose alpha is a constant): the weight is
    ``alpha / mean G`` over the negative pairs, the mean detached. With KL, whose negative term is G itself,
    the negative term's gradient is then alpha times that of ``log mean G``, the uniformity of alignment +
    uniformity: a constant alpha = 1 pushes negatives apart 1 / mean G times more weakly, and mean G
    shrinks with sigma, so a constant must be re-tuned with every sigma. The scaling suits a negative term
    about linear in G where G is small (KL; JS, log((1 + G) / 2)); Pearson's is G^2 - 1 and VLC's about
    quadratic too, so under it their push on negatives vanishes as G shrinks.
    Where mean G falls below e^-80 (sigma far below the distances) the weight stops growing, so that it
    stays finite in float32.
    """
    from fmicl_text.losses.divergences import get_divergence

    _check_pair(u, v)
    # alpha = 0 would drop the negatives, i.e. collapse: not an objective worth running.
    _check_positive(sigma=sigma, temperature=temperature, alpha=alpha)
    if similarity not in SIMILARITIES:
        raise ValueError(f"unknown similarity {similarity!r}; valid: {', '.join(SIMILARITIES)}")
    if negatives not in NEGATIVE_PAIRS:
        raise ValueError(f"unknown negatives {negatives!r}; valid: {', '.join(NEGATIVE_PAIRS)}")
    if hard_negatives is not None and (hard_negatives.ndim != 2 or hard_negatives.shape[1] != u.shape[1]):
        raise ValueError(f"hard_negatives must be M x {u.shape[1]}, got {tuple(hard_negatives.shape)}")
    div = get_divergence(divergence, tsallis_alpha)
    u, v = _unit(u), _unit(v)

    if similarity == "gaussian":

        def score(a: Tensor, b: Tensor) -> Tensor:  # log G_sigma(d)
            return -_sq_dist_unit(a, b) / (2.0 * sigma**2)

        critic, negative_term = div.critic_from_log_kernel, div.negative_from_log_kernel
    else:

        def score(a: Tensor, b: Tensor) -> Tensor:
            return a @ b.T / temperature

        critic, negative_term = div.activation, div.negative_from_cosine

    cross = score(u, v)
    positive = -critic(cross.diagonal()).mean()
    pools = []
    if negatives in ("cross", "both"):
        pools.append(_offdiag(cross))
    if negatives in ("within", "both"):
        pools += [_offdiag(score(u, u)), _offdiag(score(v, v))]
    if hard_negatives is not None:
        pools.append(score(u, _unit(hard_negatives).to(u.dtype)).flatten())
    scores = torch.cat(pools)
    weight = alpha
    if alpha_from_batch:
        if similarity != "gaussian":
            raise ValueError("alpha_from_batch scales by the Gaussian kernel's mean: it needs similarity='gaussian'")
        # alpha / mean G from the log-kernel; e^80 stays below float32's largest number (about e^88)
        weight = alpha * torch.exp(-_log_mean_exp(scores).clamp(min=-80.0)).detach()
    negative = weight * negative_term(scores).mean()
    return {"positive": positive, "negative": negative}


# --------------------------------------------------------------------------- alignment + uniformity (section 3)


def uniformity(z: Tensor, t: float = 2.0) -> Tensor:
    """``log mean_{i != j} exp(-t ||z_i - z_j||^2)`` of L2-normalised rows (Wang & Isola 2020)."""
    z = _unit(z)
    return _log_mean_exp(_offdiag(-t * _sq_dist_unit(z, z)))


def alignment(u: Tensor, v: Tensor, align_alpha: float = 2.0) -> Tensor:
    """``mean_i ||u_i - v_i||^alpha`` of L2-normalised rows."""
    sq = (_unit(u) - _unit(v)).pow(2).sum(dim=1)
    if align_alpha == 2.0:
        return sq.mean()
    return sq.clamp_min(1e-12).pow(align_alpha / 2.0).mean()  # clamp: the root has no gradient at 0


@float32_math
def alignment_uniformity(
    u: Tensor, v: Tensor, align_alpha: float = 2.0, t: float = 2.0, lam: float = 1.0
) -> dict[str, Tensor]:
    """Alignment + lambda * (U(u) + U(v)) / 2 (Wang & Isola 2020), parts ``alignment``, ``uniformity``."""
    _check_pair(u, v)
    _check_positive(align_alpha=align_alpha, t=t, lam=lam)
    return {
        "alignment": alignment(u, v, align_alpha),
        "uniformity": lam * (uniformity(u, t) + uniformity(v, t)) / 2.0,
    }


# --------------------------------------------------------------------------- generalised contrastive (section 4)

PRIORS = ("logsumexp", "normal", "hypersphere", "hypercube")
SAMPLED_PRIORS = PRIORS[1:]


def sliced_wasserstein(
    z: Tensor, samples: Tensor, num_projections: int, generator: torch.Generator | None = None
) -> Tensor:
    """Squared sliced-Wasserstein-2 distance between two equal-size point sets.

    Both are projected onto ``num_projections`` random orthonormal directions (capped at the
    dimension), each projection is sorted, and the mean squared difference is returned.
    """
    if z.ndim != 2 or z.shape != samples.shape:
        raise ValueError(
            f"sliced Wasserstein needs two point sets of one shape, got {tuple(z.shape)}, {tuple(samples.shape)}"
        )
    _check_positive(num_projections=num_projections)
    z, samples = _wide(z), _wide(samples).to(_wide(z).dtype)
    d = z.shape[1]
    k = min(num_projections, d)
    gauss = torch.randn(d, k, generator=generator, dtype=torch.float64, device="cpu")
    directions = torch.linalg.qr(gauss).Q.to(device=z.device, dtype=z.dtype)  # d x k, orthonormal columns
    a = torch.sort(z @ directions, dim=0).values
    b = torch.sort(samples @ directions, dim=0).values
    return (a - b).pow(2).mean()


def prior_samples(
    prior: str, n: int, d: int, *, generator: torch.Generator | None = None, device=None, dtype=torch.float32
) -> Tensor:
    """n draws from a prior: standard normal, uniform on the hypersphere, or uniform on [-1, 1]^d."""
    if prior not in SAMPLED_PRIORS:
        raise ValueError(f"unknown prior to sample {prior!r}; valid: {', '.join(SAMPLED_PRIORS)}")
    if prior == "hypercube":
        x = torch.rand(n, d, generator=generator, dtype=torch.float64) * 2.0 - 1.0
    else:
        x = torch.randn(n, d, generator=generator, dtype=torch.float64)
        if prior == "hypersphere":
            x = F.normalize(x, dim=-1)
    return x.to(device=device, dtype=dtype)


@float32_math
def generalized_contrastive(
    u: Tensor,
    v: Tensor,
    prior: str = "logsumexp",
    lam: float = 1.0,
    temperature: float = 0.1,
    num_projections: int = 128,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """The generalised contrastive loss (Chen, Luo, Li 2021): ``alignment + lam * distribution``.

    ``alignment = mean ||u_i - v_i||^2 / 2``. ``logsumexp``: ``distribution = mean_i log sum_j
    exp(u_i . v_j / temperature)`` on unit vectors (the uniform-hypersphere prior in its
    log-sum-exp form; the sum includes j = i, as the spec writes it, so with ``lam = temperature``
    this is ``1 + temperature * InfoNCE``). Sliced-Wasserstein priors: ``distribution = (SW(u, P) + SW(v, P)) / 2``
    against N samples of the prior; ``hypersphere`` normalises the embeddings, ``normal`` and
    ``hypercube`` do not. ``generator`` draws the projections and prior samples: pass one seeded
    the same on every process so that a gathered batch gives the same loss everywhere.

    Scale: on unit vectors the alignment is of order 1 and the sliced-Wasserstein term of order
    1/d (a projection has spread 1/sqrt(d)). The reference code averages the alignment over the d
    coordinates too, so ``lam = d`` gives its balance; with ``lam = 1`` the alignment wins (the
    hypersphere prior collapsed all-MiniLM-L6-v2 in eval/losses.md).
    """
    _check_pair(u, v)
    if prior not in PRIORS:
        raise ValueError(f"unknown prior {prior!r}; valid: {', '.join(PRIORS)}")
    _check_positive(temperature=temperature, num_projections=num_projections, lam=lam)
    normalise = prior in ("logsumexp", "hypersphere")
    u, v = (_unit(u), _unit(v)) if normalise else (_wide(u), _wide(v))
    align = (u - v).pow(2).sum(dim=1).mean() / 2.0
    if prior == "logsumexp":
        distribution = torch.logsumexp(u @ v.T / temperature, dim=1).mean()
    else:
        n, d = u.shape
        samples = [prior_samples(prior, n, d, generator=generator, device=u.device, dtype=u.dtype) for _ in (0, 1)]
        distribution = (
            sliced_wasserstein(u, samples[0], num_projections, generator)
            + sliced_wasserstein(v, samples[1], num_projections, generator)
        ) / 2.0
    return {"alignment": align, "distribution": lam * distribution}


# --------------------------------------------------------------------------- DHEL and KCL (section 5)


@float32_math
def dhel(u: Tensor, v: Tensor, temperature: float = 0.3, positive_energy: bool = False) -> dict[str, Tensor]:
    """Decoupled hyperspherical energy loss (Koromilas et al. 2024).

    ``positive = -mean_i cos(u_i, v_i) / tau``; ``negative = mean_i log sum_{j != i}
    exp(cos(u_i, u_j) / tau)`` (the energy within the anchor view, the positive left out), plus the
    same term of the positive view when ``positive_energy``.
    """
    _check_pair(u, v)
    _check_positive(temperature=temperature)
    u, v = _unit(u), _unit(v)
    positive = -(u * v).sum(dim=1).mean() / temperature
    negative = _lse_offdiag_rows(u @ u.T / temperature).mean()
    if positive_energy:
        negative = negative + _lse_offdiag_rows(v @ v.T / temperature).mean()
    return {"positive": positive, "negative": negative}


KERNELS = ("gaussian", "log", "imq", "riesz")


def kernel_matrix(a: Tensor, b: Tensor, kernel: str, t: float, eps: float = 1e-4) -> Tensor:
    """k(a_i, b_j) on unit rows for the kernels of KCL.

    gaussian ``exp(-t d^2)``; log ``-log(d^2 + eps)``; imq ``(1 + t d^2)^(-1/2)`` (inverse
    multiquadric); riesz ``-(d^2 + eps)^(1/2)`` (minus the distance: the energy-distance kernel).
    ``eps`` keeps log and riesz finite at d = 0; it sits above float32's rounding of d^2 = 2 - 2 cos
    (~1e-7), so equal points give the same value in float32 and float64.
    """
    sq = _sq_dist_unit(a, b)
    if kernel == "gaussian":
        return torch.exp(-t * sq)
    if kernel == "log":
        return -torch.log(sq + eps)
    if kernel == "imq":
        return torch.rsqrt(1.0 + t * sq)
    if kernel == "riesz":
        return -torch.sqrt(sq + eps)
    raise ValueError(f"unknown kernel {kernel!r}; valid: {', '.join(KERNELS)}")


@float32_math
def kcl(u: Tensor, v: Tensor, kernel: str = "gaussian", gamma: float = 16.0, t: float = 2.0) -> dict[str, Tensor]:
    """Kernel contrastive loss (Koromilas et al. 2024).

    ``positive = -mean_i k(u_i, v_i)``; ``negative = gamma * mean_{i != j} k(u_i, u_j)``.
    """
    _check_pair(u, v)
    _check_positive(t=t, gamma=gamma)
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; valid: {', '.join(KERNELS)}")
    u, v = _unit(u), _unit(v)
    positive = -kernel_matrix(u, v, kernel, t).diagonal().mean()
    negative = gamma * _offdiag(kernel_matrix(u, u, kernel, t)).mean()
    return {"positive": positive, "negative": negative}
