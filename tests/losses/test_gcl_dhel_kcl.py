"""Generalised contrastive loss (GCL), DHEL and KCL (objectives, sections 4 and 5).

Each loss is checked against a brute-force loop written from the spec formulas (float64 ``math`` /
numpy, none of the module's helpers), then against properties and relations: SW(z, z) = 0, exact 1-D
W2^2, SW of a translate, DHEL = InfoNCE with the positive removed from the denominator and the energy
taken within the anchor view, GCL-logsumexp = an affine function of InfoNCE. Then determinism,
gradcheck, extreme settings and invalid parameters.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fmicl_text.losses.functional import (
    dhel,
    generalized_contrastive,
    info_nce,
    kcl,
    kernel_matrix,
    prior_samples,
    sliced_wasserstein,
)

SW_PRIORS = ("normal", "hypersphere", "hypercube")
KERNELS = ("gaussian", "log", "imq", "riesz")
EPS = 1e-4  # kernel_matrix's default eps for the log and riesz kernels


def randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def pair(n=6, d=5, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, d, generator=g, dtype=dtype)


def total(parts):
    return sum(parts.values())


# --------------------------------------------------------------------------- brute-force references


def rows(x):
    """A tensor as a list of lists of Python floats (float64)."""
    return [[float(c) for c in r] for r in x.double()]


def unit(r):
    norm = math.sqrt(sum(c * c for c in r))
    return [c / norm for c in r]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def sqdist(a, b):
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True))


def log_sum_exp(values):
    m = max(values)
    return m + math.log(sum(math.exp(x - m) for x in values))


def brute_alignment(u, v):
    return sum(sqdist(a, b) for a, b in zip(u, v, strict=True)) / len(u) / 2


def brute_gcl_logsumexp(u, v, lam, tau):
    u, v = [unit(r) for r in rows(u)], [unit(r) for r in rows(v)]
    n = len(u)
    dist = sum(log_sum_exp([dot(u[i], v[j]) / tau for j in range(n)]) for i in range(n)) / n
    return brute_alignment(u, v), lam * dist


def gram_schmidt(p):
    """Orthonormal columns spanning p's columns (signs may differ from QR: SW does not care)."""
    q = np.zeros_like(p)
    for k in range(p.shape[1]):
        col = p[:, k].copy()
        for j in range(k):
            col -= (q[:, j] @ p[:, k]) * q[:, j]
        q[:, k] = col / np.linalg.norm(col)
    return q


def brute_sw(z, s, proj):
    """Squared sliced W2: project on orthonormalised proj, sort each projection, mean squared difference."""
    q = gram_schmidt(proj)
    a = np.sort(z @ q, axis=0)
    b = np.sort(s @ q, axis=0)
    return float(np.mean((a - b) ** 2))


def brute_gcl_sw(u, v, prior, lam, num_projections, seed):
    """Replays the generator in the module's order: prior for u, prior for v, projections for u, for v."""
    n, d = u.shape
    k = min(num_projections, d)
    g = torch.Generator().manual_seed(seed)

    def draw_prior():
        if prior == "hypercube":
            return torch.rand(n, d, generator=g, dtype=torch.float64).numpy() * 2.0 - 1.0
        x = torch.randn(n, d, generator=g, dtype=torch.float64).numpy()
        return x / np.linalg.norm(x, axis=1, keepdims=True) if prior == "hypersphere" else x

    su, sv = draw_prior(), draw_prior()
    pu = torch.randn(d, k, generator=g, dtype=torch.float64).numpy()
    pv = torch.randn(d, k, generator=g, dtype=torch.float64).numpy()
    un, vn = u.double().numpy(), v.double().numpy()
    if prior == "hypersphere":
        un = un / np.linalg.norm(un, axis=1, keepdims=True)
        vn = vn / np.linalg.norm(vn, axis=1, keepdims=True)
    align = brute_alignment(un.tolist(), vn.tolist())
    return align, lam * (brute_sw(un, su, pu) + brute_sw(vn, sv, pv)) / 2


def brute_dhel(u, v, tau, positive_energy):
    u, v = [unit(r) for r in rows(u)], [unit(r) for r in rows(v)]
    n = len(u)
    pos = -sum(dot(u[i], v[i]) / tau for i in range(n)) / n
    neg = sum(log_sum_exp([dot(u[i], u[j]) / tau for j in range(n) if j != i]) for i in range(n)) / n
    if positive_energy:
        neg += sum(log_sum_exp([dot(v[i], v[j]) / tau for j in range(n) if j != i]) for i in range(n)) / n
    return pos, neg


def brute_kernel(a, b, kernel, t):
    d2 = sqdist(a, b)
    if kernel == "gaussian":
        return math.exp(-t * d2)
    if kernel == "log":
        return -math.log(d2 + EPS)
    if kernel == "imq":
        return (1 + t * d2) ** -0.5
    return -math.sqrt(d2 + EPS)  # riesz


def brute_kcl(u, v, kernel, gamma, t):
    u, v = [unit(r) for r in rows(u)], [unit(r) for r in rows(v)]
    n = len(u)
    pos = -sum(brute_kernel(u[i], v[i], kernel, t) for i in range(n)) / n
    neg = sum(brute_kernel(u[i], u[j], kernel, t) for i in range(n) for j in range(n) if j != i)
    return pos, gamma * neg / (n * (n - 1))


# --------------------------------------------------------------------------- GCL against the brute force


@pytest.mark.parametrize("tau", [0.05, 0.1, 1.0])
@pytest.mark.parametrize("lam", [1.0, 0.3])
def test_gcl_logsumexp_matches_brute_force(tau, lam):
    u, v = pair(7, 5, seed=1)
    parts = generalized_contrastive(u, v, prior="logsumexp", lam=lam, temperature=tau)
    assert set(parts) == {"alignment", "distribution"}
    align, dist = brute_gcl_logsumexp(u, v, lam, tau)
    assert parts["alignment"].item() == pytest.approx(align, rel=1e-5, abs=1e-6)
    assert parts["distribution"].item() == pytest.approx(dist, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("prior", SW_PRIORS)
@pytest.mark.parametrize(("d", "num_projections"), [(5, 3), (5, 5), (4, 128)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_gcl_sliced_wasserstein_matches_brute_force(prior, d, num_projections, dtype):
    u, v = pair(9, d, seed=2, dtype=dtype)
    u, v = 1.7 * u, 0.6 * v  # not unit norm: the normal and hypercube priors must see the raw scale
    seed, lam = 123, 0.7
    gen = torch.Generator().manual_seed(seed)
    parts = generalized_contrastive(u, v, prior=prior, lam=lam, num_projections=num_projections, generator=gen)
    align, dist = brute_gcl_sw(u, v, prior, lam, num_projections, seed)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    assert parts["alignment"].item() == pytest.approx(align, rel=tol)
    assert parts["distribution"].item() == pytest.approx(dist, rel=tol)


def test_gcl_hypersphere_normalises_and_normal_hypercube_do_not():
    u, v = pair(8, 4, seed=3, dtype=torch.float64)

    def run(prior, a, b):
        return generalized_contrastive(a, b, prior=prior, generator=torch.Generator().manual_seed(5))

    for prior in ("hypersphere", "logsumexp"):
        ref, scaled = run(prior, u, v), run(prior, 3.0 * u, 0.2 * v)
        for key in ref:
            assert scaled[key].item() == pytest.approx(ref[key].item(), rel=1e-12)
    for prior in ("normal", "hypercube"):
        ref, scaled = run(prior, u, v), run(prior, 3.0 * u, 0.2 * v)
        assert abs(scaled["alignment"].item() - ref["alignment"].item()) > 0.1
        assert abs(scaled["distribution"].item() - ref["distribution"].item()) > 0.1
        # and the raw alignment is mean ||u_i - v_i||^2 / 2, not its unit-vector version
        assert ref["alignment"].item() == pytest.approx(((u - v) ** 2).sum(1).mean().item() / 2, rel=1e-12)


def test_gcl_logsumexp_is_affine_in_infonce():
    """On unit vectors ||u_i - v_i||^2 / 2 = 1 - u_i.v_i, so with InfoNCE parts P = -mean s_ii and
    Q = mean_i logsumexp_j s_ij at the same tau: alignment = 1 + tau P, distribution = lam Q, hence
    GCL(lam=1) = InfoNCE + 1 + (tau - 1) P and GCL(lam=tau) = 1 + tau * InfoNCE."""
    u, v = pair(10, 6, seed=4, dtype=torch.float64)
    for tau in (0.05, 0.3, 2.0):
        ref = info_nce(u, v, temperature=tau)
        p, q = ref["positive"].item(), ref["negative"].item()
        g1 = generalized_contrastive(u, v, prior="logsumexp", lam=1.0, temperature=tau)
        assert g1["alignment"].item() == pytest.approx(1 + tau * p, rel=1e-12)
        assert g1["distribution"].item() == pytest.approx(q, rel=1e-12)
        assert total(g1).item() == pytest.approx(p + q + 1 + (tau - 1) * p, rel=1e-12)
        g_tau = generalized_contrastive(u, v, prior="logsumexp", lam=tau, temperature=tau)
        assert total(g_tau).item() == pytest.approx(1 + tau * (p + q), rel=1e-12)


# --------------------------------------------------------------------------- sliced Wasserstein and priors


def test_sliced_wasserstein_of_a_set_with_itself_is_zero():
    z = randn(20, 6, seed=6)
    assert sliced_wasserstein(z, z.clone(), 4, torch.Generator().manual_seed(0)).item() == 0.0
    # order does not matter either: the projections are sorted
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(1))
    assert sliced_wasserstein(z, z[perm], 16, torch.Generator().manual_seed(0)).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("prior", SW_PRIORS)
def test_sliced_wasserstein_small_for_the_same_prior_large_for_a_shift(prior):
    n, d = 4000, 4
    a = prior_samples(prior, n, d, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    b = prior_samples(prior, n, d, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    same = sliced_wasserstein(a, b, 64, torch.Generator().manual_seed(0)).item()
    shifted = sliced_wasserstein(a + 1.0, b, 64, torch.Generator().manual_seed(0)).item()
    assert 0.0 < same < 5e-3
    assert shifted > 0.5
    assert shifted > 100 * same


def test_sliced_wasserstein_of_a_translate_is_squared_shift_over_d():
    """sort(x + c) = sort(x) + c, so with an orthonormal basis (K >= d) SW(z + c, z) = sum_k (c.w_k)^2 / d."""
    z = randn(30, 5, seed=7, dtype=torch.float64)
    c = torch.tensor([0.3, -1.0, 2.0, 0.0, 0.5], dtype=torch.float64)
    sw = sliced_wasserstein(z + c, z, 5, torch.Generator().manual_seed(3)).item()
    assert sw == pytest.approx(float(c @ c) / 5, rel=1e-10)


@pytest.mark.parametrize("num_projections", [1, 7])
def test_sliced_wasserstein_in_one_dimension_is_exact_w2(num_projections):
    z, s = randn(50, 1, seed=8, dtype=torch.float64), randn(50, 1, seed=9, dtype=torch.float64) * 2 + 0.5
    zs, ss = sorted(float(x) for x in z), sorted(float(x) for x in s)
    exact = sum((a - b) ** 2 for a, b in zip(zs, ss, strict=True)) / 50
    sw = sliced_wasserstein(z, s, num_projections, torch.Generator().manual_seed(0)).item()
    assert sw == pytest.approx(exact, rel=1e-12)


def test_prior_samples_shapes_and_ranges():
    g = torch.Generator().manual_seed(0)
    cube = prior_samples("hypercube", 500, 7, generator=g)
    assert cube.shape == (500, 7) and cube.dtype == torch.float32
    assert cube.min().item() >= -1.0 and cube.max().item() <= 1.0
    assert cube.min().item() < -0.9 and cube.max().item() > 0.9  # fills the cube, not a sub-box
    sphere = prior_samples("hypersphere", 500, 7, generator=g, dtype=torch.float64)
    assert sphere.shape == (500, 7) and sphere.dtype == torch.float64
    assert torch.allclose(sphere.norm(dim=1), torch.ones(500, dtype=torch.float64), atol=1e-12)
    normal = prior_samples("normal", 4000, 3, generator=g, dtype=torch.float64)
    assert normal.shape == (4000, 3)
    assert abs(normal.mean().item()) < 0.05 and abs(normal.std().item() - 1.0) < 0.05
    assert normal.norm(dim=1).std().item() > 0.1  # not normalised


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("prior", SW_PRIORS)
def test_gcl_same_seed_same_loss_different_seed_different_loss(prior):
    u, v = pair(12, 6, seed=12)

    def run(seed):
        return generalized_contrastive(
            u, v, prior=prior, num_projections=4, generator=torch.Generator().manual_seed(seed)
        )

    a, b, c = run(1), run(1), run(2)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["distribution"].item() != c["distribution"].item()
    assert a["alignment"].item() == c["alignment"].item()  # the generator only touches the SW part


def test_sliced_wasserstein_seed_changes_value():
    z, s = randn(12, 6, seed=13), randn(12, 6, seed=14)
    a = sliced_wasserstein(z, s, 3, torch.Generator().manual_seed(1))
    b = sliced_wasserstein(z, s, 3, torch.Generator().manual_seed(1))
    c = sliced_wasserstein(z, s, 3, torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert a.item() != c.item()


def test_gcl_without_generator_runs():
    u, v = pair(6, 4, seed=15)
    parts = generalized_contrastive(u, v, prior="normal", generator=None)
    assert all(torch.isfinite(p) for p in parts.values())


# --------------------------------------------------------------------------- DHEL


@pytest.mark.parametrize("tau", [0.05, 0.3, 1.0])
@pytest.mark.parametrize("positive_energy", [False, True])
def test_dhel_matches_brute_force(tau, positive_energy):
    u, v = pair(7, 5, seed=16)
    parts = dhel(u, v, temperature=tau, positive_energy=positive_energy)
    assert set(parts) == {"positive", "negative"}
    pos, neg = brute_dhel(u, v, tau, positive_energy)
    assert parts["positive"].item() == pytest.approx(pos, rel=1e-5)
    assert parts["negative"].item() == pytest.approx(neg, rel=1e-5)


def test_dhel_negative_ignores_the_other_view():
    u, v = pair(8, 5, seed=17)
    w = randn(8, 5, seed=18)
    a, b = dhel(u, v), dhel(u, w)
    assert a["negative"].item() == b["negative"].item()
    assert a["positive"].item() != b["positive"].item()
    # with positive_energy the v view's energy enters
    assert dhel(u, v, positive_energy=True)["negative"].item() != dhel(u, w, positive_energy=True)["negative"].item()


def _row_lse(a, b, tau):
    """logsumexp_j (a_i . b_j / tau) for every row i, read off info_nce with row i repeated N times."""
    n = a.shape[0]
    return torch.stack([info_nce(a[i].expand(n, -1), b, temperature=tau)["negative"] for i in range(n)])


@pytest.mark.parametrize("tau", [0.1, 0.3])
def test_dhel_is_infonce_without_the_positive_in_the_denominator_and_within_view(tau):
    """DHEL.positive = InfoNCE(u, v).positive; with L_i = logsumexp_j u_i.u_j / tau (the InfoNCE row of the
    within-view matrix, whose diagonal is 1/tau), DHEL.negative = mean_i log(exp(L_i) - exp(1/tau))."""
    u, v = pair(9, 4, seed=19, dtype=torch.float64)
    parts = dhel(u, v, temperature=tau)
    assert parts["positive"].item() == pytest.approx(info_nce(u, v, temperature=tau)["positive"].item(), rel=1e-12)

    def removed(z):
        lse = _row_lse(z, z, tau)
        return (lse + torch.log(-torch.expm1(1.0 / tau - lse))).mean().item()

    assert parts["negative"].item() == pytest.approx(removed(u), rel=1e-10)
    both = dhel(u, v, temperature=tau, positive_energy=True)
    assert both["negative"].item() == pytest.approx(removed(u) + removed(v), rel=1e-10)
    # removing a positive term lowers the log-sum-exp: DHEL's negative < InfoNCE(u, u)'s negative
    assert parts["negative"].item() < info_nce(u, u, temperature=tau)["negative"].item()


# --------------------------------------------------------------------------- KCL


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(("gamma", "t"), [(16.0, 2.0), (1.0, 0.5), (0.25, 5.0)])
def test_kcl_matches_brute_force(kernel, gamma, t):
    u, v = pair(6, 4, seed=20, dtype=torch.float64)
    parts = kcl(u, v, kernel=kernel, gamma=gamma, t=t)
    assert set(parts) == {"positive", "negative"}
    pos, neg = brute_kcl(u, v, kernel, gamma, t)
    assert parts["positive"].item() == pytest.approx(pos, rel=1e-9)
    assert parts["negative"].item() == pytest.approx(neg, rel=1e-9)
    f32 = kcl(u.float(), v.float(), kernel=kernel, gamma=gamma, t=t)
    assert f32["positive"].item() == pytest.approx(pos, rel=1e-4)
    assert f32["negative"].item() == pytest.approx(neg, rel=1e-4)


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_matrix_matches_docstring(kernel):
    a = torch.nn.functional.normalize(randn(3, 4, seed=21, dtype=torch.float64), dim=1)
    b = torch.nn.functional.normalize(randn(5, 4, seed=22, dtype=torch.float64), dim=1)
    k = kernel_matrix(a, b, kernel, t=1.5)
    assert k.shape == (3, 5)
    for i, ra in enumerate(rows(a)):
        for j, rb in enumerate(rows(b)):
            assert k[i, j].item() == pytest.approx(brute_kernel(ra, rb, kernel, 1.5), rel=1e-9)


@pytest.mark.parametrize("kernel", KERNELS)
def test_kcl_kernels_decrease_with_distance(kernel):
    """A kernel must be a similarity: larger for closer points, so the loss pulls positives together."""
    a = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    angles = torch.linspace(0.1, 3.0, 8, dtype=torch.float64)
    b = torch.stack([angles.cos(), angles.sin()], dim=1)
    k = kernel_matrix(a, b, kernel, t=2.0)[0]
    assert bool((k[1:] < k[:-1]).all())


# --------------------------------------------------------------------------- gradcheck (float64)


def _gc(fn, n=5, d=3, seed=30):
    u, v = pair(n, d, seed=seed, dtype=torch.float64)
    u.requires_grad_(True)
    v.requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (u, v), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("tau", [0.1, 1.0])
def test_gradcheck_gcl_logsumexp(tau):
    _gc(lambda u, v: tuple(generalized_contrastive(u, v, prior="logsumexp", lam=0.5, temperature=tau).values()))


@pytest.mark.parametrize("prior", SW_PRIORS)
def test_gradcheck_gcl_sliced_wasserstein(prior):
    def fn(u, v):
        gen = torch.Generator().manual_seed(7)  # re-seeded: every call sees the same samples and projections
        return tuple(generalized_contrastive(u, v, prior=prior, num_projections=2, generator=gen).values())

    _gc(fn, n=6, d=3)


@pytest.mark.parametrize("positive_energy", [False, True])
def test_gradcheck_dhel(positive_energy):
    _gc(lambda u, v: tuple(dhel(u, v, temperature=0.3, positive_energy=positive_energy).values()))


@pytest.mark.parametrize("kernel", KERNELS)
def test_gradcheck_kcl(kernel):
    _gc(lambda u, v: tuple(kcl(u, v, kernel=kernel, gamma=4.0, t=2.0).values()))


# --------------------------------------------------------------------------- extreme settings

LOSSES = {
    "gcl_logsumexp": lambda u, v, tau: generalized_contrastive(u, v, prior="logsumexp", temperature=tau),
    "gcl_normal": lambda u, v, tau: generalized_contrastive(
        u, v, prior="normal", temperature=tau, generator=torch.Generator().manual_seed(0)
    ),
    "gcl_hypersphere": lambda u, v, tau: generalized_contrastive(
        u, v, prior="hypersphere", temperature=tau, generator=torch.Generator().manual_seed(0)
    ),
    "gcl_hypercube": lambda u, v, tau: generalized_contrastive(
        u, v, prior="hypercube", temperature=tau, generator=torch.Generator().manual_seed(0)
    ),
    "dhel": lambda u, v, tau: dhel(u, v, temperature=tau),
    "dhel_pe": lambda u, v, tau: dhel(u, v, temperature=tau, positive_energy=True),
    **{f"kcl_{k}": (lambda u, v, tau, k=k: kcl(u, v, kernel=k, gamma=16.0, t=1.0 / tau)) for k in KERNELS},
}


def _cases(n=6, d=4):
    u, v = pair(n, d, seed=40)
    same = u[:1].expand(n, d).clone()
    return {
        "random": (u, v),
        "identical": (same, same.clone()),
        "antipodal": (u, -u),
        "n2": (u[:2].clone(), v[:2].clone()),
    }


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("case", ["random", "identical", "antipodal", "n2"])
@pytest.mark.parametrize("tau", [0.01, 0.3])
def test_extreme_settings_finite_values_and_gradients(name, case, tau):
    u, v = (x.clone().requires_grad_(True) for x in _cases()[case])
    parts = LOSSES[name](u, v, tau)
    for key, value in parts.items():
        assert value.dtype == torch.float32, key
        assert torch.isfinite(value), (key, value)
    total(parts).backward()
    assert u.grad is not None and v.grad is not None
    assert torch.isfinite(u.grad).all() and torch.isfinite(v.grad).all()


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_bf16_inputs_give_float32_parts_close_to_float32(name):
    u, v = pair(8, 6, seed=41)
    ub, vb = u.bfloat16().requires_grad_(True), v.bfloat16().requires_grad_(True)
    parts = LOSSES[name](ub, vb, 0.1)
    ref = LOSSES[name](ub.detach().float(), vb.detach().float(), 0.1)  # same (rounded) values, float32
    for key, value in parts.items():
        assert value.dtype == torch.float32, key
        assert torch.isfinite(value)
        assert value.item() == pytest.approx(ref[key].item(), rel=1e-5, abs=1e-5)
    total(parts).backward()
    assert ub.grad.dtype == torch.bfloat16 and torch.isfinite(ub.grad.float()).all()
    assert torch.isfinite(vb.grad.float()).all()


def test_exact_values_at_identical_embeddings():
    n, tau, gamma = 5, 0.2, 3.0
    z = torch.ones(n, 4, dtype=torch.float64)
    d = dhel(z, z, temperature=tau)
    assert d["positive"].item() == pytest.approx(-1 / tau)
    assert d["negative"].item() == pytest.approx(1 / tau + math.log(n - 1))
    g = generalized_contrastive(z, z, prior="logsumexp", temperature=tau)
    assert g["alignment"].item() == pytest.approx(0.0, abs=1e-12)
    assert g["distribution"].item() == pytest.approx(1 / tau + math.log(n))
    expected = {"gaussian": 1.0, "imq": 1.0, "log": -math.log(EPS), "riesz": -math.sqrt(EPS)}
    for kernel, k0 in expected.items():
        parts = kcl(z, z, kernel=kernel, gamma=gamma)
        assert parts["positive"].item() == pytest.approx(-k0, rel=1e-6), kernel
        assert parts["negative"].item() == pytest.approx(gamma * k0, rel=1e-6), kernel


# --------------------------------------------------------------------------- invalid parameters


@pytest.mark.parametrize("tau", [0.0, -0.1])
def test_nonpositive_temperature_raises(tau):
    u, v = pair(4, 3)
    for prior in ("logsumexp", "normal"):
        with pytest.raises(ValueError, match="temperature"):
            generalized_contrastive(u, v, prior=prior, temperature=tau)
    with pytest.raises(ValueError, match="temperature"):
        dhel(u, v, temperature=tau)


@pytest.mark.parametrize("t", [0.0, -1.0])
def test_kcl_nonpositive_t_raises(t):
    u, v = pair(4, 3)
    with pytest.raises(ValueError, match="t must be"):
        kcl(u, v, t=t)


def test_unknown_prior_or_kernel_raises():
    u, v = pair(4, 3)
    with pytest.raises(ValueError, match="unknown prior"):
        generalized_contrastive(u, v, prior="laplace")
    with pytest.raises(ValueError, match="unknown kernel"):
        kcl(u, v, kernel="cosine")
    with pytest.raises(ValueError, match="unknown kernel"):
        kernel_matrix(u, v, kernel="cosine", t=2.0)


@pytest.mark.parametrize(
    "fn",
    [
        lambda u, v: generalized_contrastive(u, v),
        lambda u, v: generalized_contrastive(u, v, prior="hypercube"),
        dhel,
        kcl,
    ],
    ids=["gcl_logsumexp", "gcl_hypercube", "dhel", "kcl"],
)
def test_bad_shapes_raise(fn):
    u, v = pair(4, 3)
    with pytest.raises(ValueError, match="at least 2"):
        fn(u[:1], v[:1])
    with pytest.raises(ValueError, match="N x d"):
        fn(u, v[:3])
    with pytest.raises(ValueError, match="N x d"):
        fn(u, randn(4, 5))
    with pytest.raises(ValueError, match="N x d"):
        fn(u[0], v[0])


@pytest.mark.parametrize("num_projections", [0, -3])
def test_nonpositive_num_projections_raises(num_projections):
    u, v = pair(4, 3)
    with pytest.raises(ValueError, match="num_projections"):
        generalized_contrastive(u, v, prior="normal", num_projections=num_projections)
