"""f-MICL (objectives section 2) and alignment + uniformity (section 3).

The references are plain Python loops over i, j in float64 ``math``, written from the spec's
formulas (exact conjugate over u > 0, f-GAN activations), not from the module's helpers.
"""

from __future__ import annotations

import math

import pytest
import torch
from test_divergences import each_entry, ref_f_prime  # the one list of entries; f' from the table

from fmicl_text.losses.functional import alignment, alignment_uniformity, fmicl, info_nce, uniformity

LOG2 = math.log(2.0)

each_critic = pytest.mark.parametrize("similarity", ["gaussian", "cosine"])


def rand_pair(n: int, d: int, seed: int, dtype=torch.float64):
    """Random, deliberately not normalised embeddings (various norms and an offset)."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(n, d, generator=g, dtype=torch.float64) * 3.0 + 0.5
    v = u + torch.randn(n, d, generator=g, dtype=torch.float64) * 2.0
    scale = torch.rand(n, 1, generator=g, dtype=torch.float64) * 5 + 0.1
    return (u * scale).to(dtype), v.to(dtype)


# --------------------------------------------------------------------------- brute-force reference


def _f_prime(name, a, u):
    return float(ref_f_prime(name, a, torch.tensor(u, dtype=torch.float64)))


def _conj(name, a, t):
    """Exact f*(t) = sup_{u>0} (u t - f(u)): the table's closed form above inf f', -f(0+) below it."""
    if name == "kl":
        return math.exp(t - 1)
    if name == "js":
        assert t < LOG2
        return -math.log(2 - math.exp(t))
    if name == "pearson":
        return t + t * t / 4 if t >= -2 else -1.0
    if name == "squared_hellinger":
        assert t < 1
        return t / (1 - t)
    if name == "tsallis":
        z = (a - 1) * t + 1
        return (z / a) ** (a / (a - 1)) if z > 0 else 0.0
    assert t < 1  # vlc
    return 4 - t - 4 * math.sqrt(1 - t) if t >= -3 else -1.0


def _activation(name, v):
    """f-GAN output activations (Nowozin et al. 2016, Table 2); Tsallis: the exact f* is finite on R."""
    if name in ("kl", "pearson", "tsallis"):
        return v
    if name == "js":
        return LOG2 - math.log1p(math.exp(-v))
    return 1 - math.exp(-v)  # squared_hellinger, vlc


def _unit_rows(x):
    rows = []
    for row in x.double().tolist():
        norm = math.sqrt(sum(c * c for c in row))
        rows.append([c / norm for c in row])
    return rows


def _sq(p, q):
    return sum((x - y) ** 2 for x, y in zip(p, q, strict=True))


def _dot(p, q):
    return sum(x * y for x, y in zip(p, q, strict=True))


def brute_fmicl(u, v, name, a, similarity, sigma, alpha, tau, negatives, w=None, from_batch=False):
    """Both parts of f-MICL, each negative pair's f* listed one by one; ``w``: hard negatives, every (u_i, w_k).
    ``from_batch`` (f-Gaussian only): alpha divided by the mean kernel over the same pairs."""
    U, V = _unit_rows(u), _unit_rows(v)
    W = [] if w is None else _unit_rows(w)
    n = len(U)

    kernels = []

    def critic(p, q):
        if similarity == "gaussian":
            kernels.append(math.exp(-_sq(p, q) / (2 * sigma**2)))
            return _f_prime(name, a, kernels[-1])
        return _activation(name, _dot(p, q) / tau)

    positive = -sum(critic(U[i], V[i]) for i in range(n)) / n
    kernels.clear()  # from here on: the negative pairs' kernels
    terms = []
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            if negatives in ("cross", "both"):
                terms.append(_conj(name, a, critic(U[i], V[j])))
            if negatives in ("within", "both"):
                terms.append(_conj(name, a, critic(U[i], U[j])))
                terms.append(_conj(name, a, critic(V[i], V[j])))
    assert len(terms) == n * (n - 1) * (1 if negatives == "cross" else 2 if negatives == "within" else 3)
    terms += [_conj(name, a, critic(U[i], W[k])) for i in range(n) for k in range(len(W))]  # k == i included
    weight = alpha / (sum(kernels) / len(kernels)) if from_batch and similarity == "gaussian" else alpha
    return positive, weight * sum(terms) / len(terms)


def brute_au(u, v, a, t, lam):
    U, V = _unit_rows(u), _unit_rows(v)
    n = len(U)
    align = sum(math.sqrt(_sq(U[i], V[i])) ** a for i in range(n)) / n

    def unif(Z):
        s = sum(math.exp(-t * _sq(Z[i], Z[j])) for i in range(n) for j in range(n) if i != j)
        return math.log(s / (n * (n - 1)))

    return align, lam * (unif(U) + unif(V)) / 2


# --------------------------------------------------------------------------- f-MICL against the loop


@each_entry
@pytest.mark.parametrize(  # alpha_from_batch is an option of the f-Gaussian critic only
    ("similarity", "from_batch"),
    [("gaussian", False), ("gaussian", True), ("cosine", False)],
    ids=["gaussian", "gaussian-alpha-from-batch", "cosine"],
)
@pytest.mark.parametrize("negatives", ["cross", "within", "both"])
def test_fmicl_matches_brute_force(name, a, similarity, from_batch, negatives):
    scales = [0.3, 0.7, 1.5] if similarity == "gaussian" else [0.1, 0.5, 2.0]
    for k, (scale, alpha) in enumerate(zip(scales, [1.0, 0.25, 3.0], strict=True)):
        u, v = rand_pair(5, 4, seed=k)
        kw = {"sigma": scale} if similarity == "gaussian" else {"temperature": scale}
        if from_batch:
            kw["alpha_from_batch"] = True
        parts = fmicl(u, v, name, similarity, alpha=alpha, negatives=negatives, tsallis_alpha=a, **kw)
        assert set(parts) == {"positive", "negative"}
        assert parts["positive"].dtype == torch.float64
        pos, neg = brute_fmicl(u, v, name, a, similarity, scale, alpha, scale, negatives, from_batch=from_batch)
        assert parts["positive"].item() == pytest.approx(pos, rel=1e-9, abs=1e-10)
        assert parts["negative"].item() == pytest.approx(neg, rel=1e-9, abs=1e-10)


@each_entry
@each_critic
def test_fmicl_float32_matches_brute_force(name, a, similarity):
    u, v = rand_pair(6, 5, seed=11, dtype=torch.float32)
    kw = {"sigma": 0.6} if similarity == "gaussian" else {"temperature": 0.2}
    parts = fmicl(u, v, name, similarity, negatives="both", tsallis_alpha=a, **kw)
    assert parts["positive"].dtype == torch.float32 and parts["negative"].dtype == torch.float32
    pos, neg = brute_fmicl(u, v, name, a, similarity, 0.6, 1.0, 0.2, "both")
    assert parts["positive"].item() == pytest.approx(pos, rel=1e-4, abs=1e-5)
    assert parts["negative"].item() == pytest.approx(neg, rel=1e-4, abs=1e-5)


def test_fmicl_defaults_are_the_spec_choices():
    """f-Gaussian critic, sigma 2 (chosen on STS-B dev), alpha 1, cross-view negatives."""
    u, v = rand_pair(5, 4, seed=3)
    default = fmicl(u, v, "kl")
    explicit = fmicl(u, v, "kl", "gaussian", sigma=2.0, alpha=1.0, negatives="cross")
    pos, neg = brute_fmicl(u, v, "kl", 2.0, "gaussian", 2.0, 1.0, 0.05, "cross")
    for key in ("positive", "negative"):
        assert default[key].item() == explicit[key].item()
    assert default["positive"].item() == pytest.approx(pos, rel=1e-12)
    assert default["negative"].item() == pytest.approx(neg, rel=1e-12)


def test_fmicl_is_scale_invariant_per_row():
    """The function normalises: rescaling any row by a positive factor changes nothing."""
    u, v = rand_pair(5, 4, seed=4)
    s = torch.tensor([[0.01], [3.0], [7.0], [0.5], [100.0]], dtype=torch.float64)
    for sim in ("gaussian", "cosine"):
        a = fmicl(u, v, "js", sim, sigma=0.5, temperature=0.1, negatives="both")
        b = fmicl(u * s, v / s, "js", sim, sigma=0.5, temperature=0.1, negatives="both")
        for key in a:
            assert a[key].item() == pytest.approx(b[key].item(), rel=1e-12, abs=1e-12)


# --------------------------------------------------------------------------- section 2c relations


@pytest.mark.parametrize("sigma", [0.2, 0.5, 1.0, 3.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_kl_gaussian_is_alignment_plus_gaussian_potential(sigma, seed):
    """(a) KL + f-Gaussian, alpha = 1: -(1/N) sum (1 - d_ii / (2 sigma^2)) + mean_{i != j} G_ij."""
    u, v = rand_pair(7, 5, seed)
    uu, vv = torch.nn.functional.normalize(u, dim=1), torch.nn.functional.normalize(v, dim=1)
    d = ((uu[:, None, :] - vv[None, :, :]) ** 2).sum(-1)
    off = ~torch.eye(7, dtype=torch.bool)
    expected = -(1 - d.diagonal() / (2 * sigma**2)).mean() + torch.exp(-d[off] / (2 * sigma**2)).mean()
    parts = fmicl(u, v, "kl", "gaussian", sigma=sigma, alpha=1.0)
    assert (parts["positive"] + parts["negative"]).item() == pytest.approx(expected.item(), rel=1e-12, abs=1e-13)


# (b) InfoNCE vs the KL f-MICL objective, cosine critic, same temperature.
#
# Let s_ij = cos(u_i, v_j) / tau, N the batch size.
#   InfoNCE loss     L_NCE = -(1/N) sum_i s_ii + (1/N) sum_i log sum_j e^{s_ij}
#   its MI estimate  I_NCE = log N - L_NCE = (1/N) sum_i s_ii - (1/N) sum_i log y_i,
#                    y_i = (1/N) sum_j e^{s_ij}                   (j over ALL columns, positive included)
#   KL f-MICL (t = v, f*(t) = e^{t-1}) objective, with the product-of-marginals expectation estimated
#   over all N^2 pairs:  J_all = (1/N) sum_i s_ii - (1/N^2) sum_{i,j} e^{s_ij - 1}.
# Tangent of log at e:  log y <= y / e  for all y > 0, equality iff y = e.  Hence
#   -(1/N) sum_i log y_i >= -(1/N) sum_i y_i / e = -(1/N^2) sum_{i,j} e^{s_ij - 1},   i.e.
#       I_NCE >= J_all        <=>      L_NCE <= log N + L_all,
#   L_all = -J_all = positive + ((N-1)/N) * negative + (1/N) * mean_i e^{s_ii - 1}
# in terms of the module's KL-cosine parts (its negative averages over the N(N-1) pairs i != j).
# Equality iff every row has mean_j e^{s_ij} = e (e.g. all embeddings equal and tau = 1).
# The same argument with y_i = mean_{j != i} e^{s_ij} (the positive left out of the denominator)
# gives the bound for the module's i != j estimate exactly:
#       (1/N) sum_i s_ii - (1/N) sum_i log mean_{j != i} e^{s_ij} >= -(positive + negative).
# Neither "L_NCE >= L_KL" nor "log N - L_NCE >= -L_KL" holds with the module's i != j average
# (see the counterexamples below): the spec's sentence is true only for the MI estimate log N - L_NCE
# against the all-pairs KL objective.

TAUS = [0.05, 0.1, 0.3, 1.0, 3.0]


def _bound_cases():
    cases = []
    seed = 0
    for n in (2, 3, 8, 24):
        for d in (2, 8, 32):
            for tau in TAUS:
                seed += 1
                g = torch.Generator().manual_seed(seed)
                u = torch.randn(n, d, generator=g, dtype=torch.float64)
                noise = [0.0, 0.1, 1.0, 10.0][seed % 4]
                v = u + noise * torch.randn(n, d, generator=g, dtype=torch.float64)
                cases.append((u, v, tau))
    return cases


def _kl_cosine_terms(u, v, tau):
    uu, vv = torch.nn.functional.normalize(u, dim=1), torch.nn.functional.normalize(v, dim=1)
    return uu @ vv.T / tau


def test_infonce_upper_bounds_the_all_pairs_kl_objective():
    gaps = []
    for u, v, tau in _bound_cases():
        n = u.shape[0]
        nce = info_nce(u, v, temperature=tau)
        l_nce = (nce["positive"] + nce["negative"]).item()
        kl = fmicl(u, v, "kl", "cosine", temperature=tau, alpha=1.0, negatives="cross")
        s = _kl_cosine_terms(u, v, tau)
        diag_term = torch.exp(s.diagonal() - 1).mean().item()
        l_all = kl["positive"].item() + (n - 1) / n * kl["negative"].item() + diag_term / n
        # cross-check the module's parts against the direct all-pairs formula
        assert l_all == pytest.approx((-s.diagonal().mean() + torch.exp(s - 1).mean()).item(), rel=1e-10, abs=1e-10)
        gap = (math.log(n) + l_all) - l_nce
        assert gap >= -1e-9 * (1 + abs(l_nce)), (n, tau, gap)
        gaps.append(gap)
    assert min(gaps) < 0.05  # the bound is nearly attained somewhere, so the test has teeth


def test_infonce_bound_is_tight_when_every_row_mean_is_e():
    u = torch.ones(6, 4, dtype=torch.float64)  # all embeddings equal, tau = 1: s_ij = 1, y_i = e
    nce = info_nce(u, u, temperature=1.0)
    kl = fmicl(u, u, "kl", "cosine", temperature=1.0)
    l_nce = (nce["positive"] + nce["negative"]).item()
    l_all = kl["positive"].item() + 5 / 6 * kl["negative"].item() + 1 / 6 * 1.0
    assert l_nce == pytest.approx(math.log(6), rel=1e-12)
    assert l_all == pytest.approx(0.0, abs=1e-12)
    assert math.log(6) + l_all == pytest.approx(l_nce, rel=1e-12)


def test_decoupled_infonce_upper_bounds_the_modules_kl_objective():
    for u, v, tau in _bound_cases():
        kl = fmicl(u, v, "kl", "cosine", temperature=tau)
        j_kl = -(kl["positive"] + kl["negative"]).item()
        s = _kl_cosine_terms(u, v, tau)
        n = s.shape[0]
        off = s.masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
        i_dec = (s.diagonal() - (torch.logsumexp(off, dim=1) - math.log(n - 1))).mean().item()
        assert i_dec >= j_kl - 1e-9 * (1 + abs(j_kl)), (n, tau, i_dec, j_kl)


def test_no_fixed_order_between_infonce_and_the_modules_kl_loss():
    """The naive readings of the spec's sentence fail both ways with the i != j negative average."""
    # A: positives aligned, negatives orthogonal, tau = 0.05: L_NCE ~ 0 > L_KL ~ -20 + e^-1, and
    #    log N - L_NCE ~ log N < J_KL ~ 19.6, so "I_NCE >= J_KL(i != j)" fails.
    eye = torch.eye(4, dtype=torch.float64)
    nce = sum(info_nce(eye, eye, temperature=0.05).values()).item()
    kl = sum(fmicl(eye, eye, "kl", "cosine", temperature=0.05).values()).item()
    assert nce > kl
    assert math.log(4) - nce < -kl
    # B: collapsed embeddings, tau = 0.2: L_NCE = log N < L_KL = -5 + e^4.
    ones = torch.ones(4, 3, dtype=torch.float64)
    nce = sum(info_nce(ones, ones, temperature=0.2).values()).item()
    kl = sum(fmicl(ones, ones, "kl", "cosine", temperature=0.2).values()).item()
    assert nce == pytest.approx(math.log(4), rel=1e-12)
    assert kl == pytest.approx(-5 + math.exp(4), rel=1e-12)
    assert nce < kl


@pytest.mark.parametrize("sigma", [0.3, 0.5, 1.0, 2.0])
def test_kl_gaussian_negative_is_exp_of_uniformity(sigma):
    """(c) AU up to the log: the KL f-Gaussian negative term is mean G = exp(U) with t = 1 / (2 sigma^2)."""
    t = 1.0 / (2.0 * sigma**2)
    u, v = rand_pair(8, 6, seed=5)
    # cross pairs of identical views are the within-view pairs of u: negative = exp(U(u))
    same = fmicl(u, u, "kl", "gaussian", sigma=sigma, negatives="cross")
    assert same["negative"].item() == pytest.approx(math.exp(uniformity(u, t).item()), rel=1e-12)
    # within-view negatives: the average of exp(U(u)) and exp(U(v))
    within = fmicl(u, v, "kl", "gaussian", sigma=sigma, negatives="within")
    expected = (math.exp(uniformity(u, t).item()) + math.exp(uniformity(v, t).item())) / 2
    assert within["negative"].item() == pytest.approx(expected, rel=1e-12)
    # cross pairs in general: log(negative) = log mean_{i != j} exp(-t ||u_i - v_j||^2)
    cross = fmicl(u, v, "kl", "gaussian", sigma=sigma, negatives="cross")
    U, V = _unit_rows(u), _unit_rows(v)
    log_mean = math.log(sum(math.exp(-t * _sq(U[i], V[j])) for i in range(8) for j in range(8) if i != j) / 56)
    assert math.log(cross["negative"].item()) == pytest.approx(log_mean, rel=1e-12)
    # and the positive part is alignment in disguise: -1 + t * mean ||u_i - v_i||^2
    assert cross["positive"].item() == pytest.approx(-1 + t * alignment(u, v, 2.0).item(), rel=1e-12)


# --------------------------------------------------------------------------- gradcheck (float64)


@each_entry
@each_critic
@pytest.mark.parametrize("negatives", ["cross", "both"])
def test_fmicl_gradcheck(name, a, similarity, negatives):
    u, v = rand_pair(4, 3, seed=7)
    u.requires_grad_(True)
    v.requires_grad_(True)

    def fn(x, y):
        parts = fmicl(
            x, y, name, similarity, sigma=0.8, temperature=0.5, alpha=0.7, negatives=negatives, tsallis_alpha=a
        )
        return parts["positive"], parts["negative"]

    assert torch.autograd.gradcheck(fn, (u, v), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("align_alpha", [2.0, 1.0])
@pytest.mark.parametrize("lam", [1.0, 0.5])
def test_alignment_uniformity_gradcheck(align_alpha, lam):
    u, v = rand_pair(5, 3, seed=8)
    u.requires_grad_(True)
    v.requires_grad_(True)

    def fn(x, y):
        parts = alignment_uniformity(x, y, align_alpha=align_alpha, t=2.0, lam=lam)
        return parts["alignment"], parts["uniformity"]

    assert torch.autograd.gradcheck(fn, (u, v), eps=1e-6, atol=1e-6, rtol=1e-5)


# --------------------------------------------------------------------------- extreme settings


def _extreme_inputs(case: str):
    g = torch.Generator().manual_seed(99)
    u = torch.randn(6, 8, generator=g)
    v = u + torch.randn(6, 8, generator=g)  # positives at ~45 degrees: G_ii underflows float32 at sigma 0.05
    if case == "identical":
        u = torch.randn(1, 8, generator=g).repeat(6, 1)
        v = u.clone()
    elif case == "antipodal":
        v = -u
    elif case == "n2":
        u, v = u[:2], v[:2]
    elif case == "bf16":
        u, v = u.bfloat16(), v.bfloat16()
    return u.requires_grad_(True), v.requires_grad_(True)


CASES = ["random", "identical", "antipodal", "n2", "bf16"]


@each_entry
@each_critic
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("extreme", [False, True], ids=["default-scale", "sigma0.05-tau0.01"])
def test_fmicl_finite_values_and_gradients(name, a, similarity, case, extreme):
    u, v = _extreme_inputs(case)
    kw = {"sigma": 0.05 if extreme else 1.0} if similarity == "gaussian" else {"temperature": 0.01 if extreme else 0.05}
    _assert_finite(fmicl(u, v, name, similarity, negatives="both", tsallis_alpha=a, **kw), u, v)


@each_entry
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("sigma", [1.0, 0.05])
def test_fmicl_batch_alpha_finite_values_and_gradients(name, a, case, sigma):
    """alpha / mean G stays finite where mean G underflows (sigma 0.05: log G down to -800)."""
    u, v = _extreme_inputs(case)
    _assert_finite(
        fmicl(u, v, name, "gaussian", sigma=sigma, negatives="both", tsallis_alpha=a, alpha_from_batch=True), u, v
    )


def _assert_finite(parts, u, v):
    for key, value in parts.items():
        assert value.dtype == torch.float32, key
        assert torch.isfinite(value), (key, value)
    (parts["positive"] + parts["negative"]).backward()
    assert u.grad is not None and v.grad is not None
    assert u.grad.dtype == u.dtype
    assert torch.isfinite(u.grad.float()).all() and torch.isfinite(v.grad.float()).all(), (u.grad, v.grad)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("align_alpha", [2.0, 1.0])
@pytest.mark.parametrize("t", [2.0, 200.0])
def test_alignment_uniformity_finite_values_and_gradients(case, align_alpha, t):
    u, v = _extreme_inputs(case)
    parts = alignment_uniformity(u, v, align_alpha=align_alpha, t=t)
    assert set(parts) == {"alignment", "uniformity"}
    for key, value in parts.items():
        assert value.dtype == torch.float32, key
        assert torch.isfinite(value), (key, value)
    (parts["alignment"] + parts["uniformity"]).backward()
    assert torch.isfinite(u.grad.float()).all() and torch.isfinite(v.grad.float()).all()


@pytest.mark.parametrize("similarity", ["gaussian", "cosine"])
def test_parts_keep_float32_and_float64(similarity):
    u, v = rand_pair(5, 4, seed=1, dtype=torch.float32)
    for parts in (fmicl(u, v, "vlc", similarity), alignment_uniformity(u, v)):
        assert all(p.dtype == torch.float32 for p in parts.values())
    for parts in (fmicl(u.double(), v.double(), "vlc", similarity), alignment_uniformity(u.double(), v.double())):
        assert all(p.dtype == torch.float64 for p in parts.values())


# --------------------------------------------------------------------------- alignment and uniformity


@pytest.mark.parametrize(("a", "t", "lam"), [(2.0, 2.0, 1.0), (1.0, 2.0, 1.0), (2.0, 0.5, 0.3), (3.0, 5.0, 2.0)])
@pytest.mark.parametrize("seed", [0, 1])
def test_alignment_uniformity_matches_brute_force(a, t, lam, seed):
    u, v = rand_pair(6, 4, seed)
    parts = alignment_uniformity(u, v, align_alpha=a, t=t, lam=lam)
    align, unif = brute_au(u, v, a, t, lam)
    assert parts["alignment"].item() == pytest.approx(align, rel=1e-9)
    assert parts["uniformity"].item() == pytest.approx(unif, rel=1e-9)
    parts32 = alignment_uniformity(u.float(), v.float(), align_alpha=a, t=t, lam=lam)
    assert parts32["alignment"].item() == pytest.approx(align, rel=1e-4)
    assert parts32["uniformity"].item() == pytest.approx(unif, rel=1e-4)


def test_alignment_uniformity_defaults_are_the_spec_values():
    u, v = rand_pair(6, 4, seed=2)
    parts = alignment_uniformity(u, v)
    align, unif = brute_au(u, v, 2.0, 2.0, 1.0)
    assert parts["alignment"].item() == pytest.approx(align, rel=1e-12)
    assert parts["uniformity"].item() == pytest.approx(unif, rel=1e-12)


@pytest.mark.parametrize("n", [2, 3, 8, 16])
@pytest.mark.parametrize("t", [0.5, 2.0])
def test_uniformity_spread_on_circle_vs_collapsed(n, t):
    angles = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    circle = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    closed = math.log(
        sum(math.exp(-t * (2 - 2 * math.cos(2 * math.pi * (i - j) / n))) for i in range(n) for j in range(n) if i != j)
        / (n * (n - 1))
    )
    spread = uniformity(circle * 4.0, t).item()
    assert spread == pytest.approx(closed, rel=1e-12)
    assert spread < 0
    collapsed = torch.tensor([[3.0, 0.0]] * n, dtype=torch.float64)  # an exactly representable unit row
    assert uniformity(collapsed, t).item() == 0.0
    assert uniformity(collapsed.float(), t).item() == 0.0
    # a generic collapsed row: 0 up to rounding, and never above the maximum 0
    row = torch.tensor([[0.3, -1.7]], dtype=torch.float64).repeat(n, 1)
    for z in (row, row.float()):
        value = uniformity(z, t).item()
        assert -10 * t * torch.finfo(z.dtype).eps <= value <= 0.0
    assert spread < uniformity(row, t).item()


# --------------------------------------------------------------------------- invalid parameters


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sigma": 0.0},
        {"sigma": -1.0},
        {"sigma": float("nan")},
        {"temperature": 0.0},
        {"temperature": -0.1},
        {"temperature": float("nan")},
        {"alpha": -0.1},
        {"similarity": "dot"},
        {"negatives": "all"},
        {"divergence": "nope"},
        {"divergence": "tsallis", "tsallis_alpha": 1.0},
    ],
    ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()),
)
def test_fmicl_rejects_invalid_parameters(kwargs):
    u, v = rand_pair(4, 3, seed=0)
    kwargs = {"divergence": "kl", **kwargs}
    with pytest.raises(ValueError):
        fmicl(u, v, **kwargs)


def test_fmicl_error_messages_list_the_options():
    u, v = rand_pair(4, 3, seed=0)
    with pytest.raises(ValueError, match="gaussian.*cosine"):
        fmicl(u, v, "kl", similarity="dot")
    with pytest.raises(ValueError, match="cross.*within.*both"):
        fmicl(u, v, "kl", negatives="all")


@pytest.mark.parametrize(
    "shapes",
    [((1, 4), (1, 4)), ((5, 4), (4, 4)), ((5, 4), (5, 3)), ((4,), (4,)), ((2, 3, 4), (2, 3, 4))],
    ids=["N=1", "rows", "dims", "1d", "3d"],
)
def test_bad_shapes_raise(shapes):
    u, v = torch.randn(*shapes[0]), torch.randn(*shapes[1])
    with pytest.raises(ValueError):
        fmicl(u, v, "kl")
    with pytest.raises(ValueError):
        fmicl(u, v, "js", "cosine")
    with pytest.raises(ValueError):
        alignment_uniformity(u, v)


@pytest.mark.parametrize("kwargs", [{"align_alpha": 0.0}, {"align_alpha": -1.0}, {"t": 0.0}, {"t": -2.0}])
def test_alignment_uniformity_rejects_invalid_parameters(kwargs):
    u, v = rand_pair(4, 3, seed=0)
    with pytest.raises(ValueError):
        alignment_uniformity(u, v, **kwargs)
