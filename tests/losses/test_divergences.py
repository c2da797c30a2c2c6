"""The f-divergence table of f-MICL (objectives section 2a), checked in float64.

Reference formulas below are written from the objectives table, independently of the module. The
conjugate is checked against a brute-force sup over u > 0 (a dense log-grid refined around its
argmax, plus the u -> 0 limit -f(0+)), which is what confirms the module's correction of the table:
below the lower end of the range of f' (Pearson -2, Tsallis -1/(a-1), VLC -3) the exact conjugate
over u > 0 is the constant -f(0+), not the table's closed form.
"""

from __future__ import annotations

import math

import pytest
import torch

from fmicl_text.losses.divergences import EXP_CAP, NAMES, exp_linear, get_divergence

DT = torch.float64
LOG2 = math.log(2.0)

# (name, tsallis alpha): every entry, Tsallis at three orders.
ENTRIES = [
    ("kl", 2.0),
    ("js", 2.0),
    ("pearson", 2.0),
    ("squared_hellinger", 2.0),
    ("tsallis", 1.5),
    ("tsallis", 2.0),
    ("tsallis", 3.0),
    ("vlc", 2.0),
]
IDS = [n if n != "tsallis" else f"tsallis-{a}" for n, a in ENTRIES]
each_entry = pytest.mark.parametrize(("name", "a"), ENTRIES, ids=IDS)


# --------------------------------------------------------------------------- reference formulas (the spec's table)


def ref_f(name: str, a: float, u: torch.Tensor) -> torch.Tensor:
    if name == "kl":
        return u * torch.log(u)
    if name == "js":
        return u * torch.log(u) - (1 + u) * torch.log((1 + u) / 2)
    if name == "pearson":
        return (u - 1) ** 2
    if name == "squared_hellinger":
        return (torch.sqrt(u) - 1) ** 2
    if name == "tsallis":
        return (u**a - u) / (a - 1)
    if name == "vlc":
        return (u - 1) ** 2 / (u + 1)
    raise AssertionError(name)


def ref_f_prime(name: str, a: float, u: torch.Tensor) -> torch.Tensor:
    if name == "kl":
        return 1 + torch.log(u)
    if name == "js":
        return torch.log(2 * u / (1 + u))
    if name == "pearson":
        return 2 * (u - 1)
    if name == "squared_hellinger":
        return 1 - u ** (-0.5)
    if name == "tsallis":
        return (a * u ** (a - 1) - 1) / (a - 1)
    if name == "vlc":
        return 1 - 4 / (u + 1) ** 2
    raise AssertionError(name)


def ref_conjugate_closed_form(name: str, a: float, t: torch.Tensor) -> torch.Tensor:
    """The table's f* column (valid only between ``lower`` and ``upper``)."""
    if name == "kl":
        return torch.exp(t - 1)
    if name == "js":
        return -torch.log(2 - torch.exp(t))
    if name == "pearson":
        return t + t**2 / 4
    if name == "squared_hellinger":
        return t / (1 - t)
    if name == "tsallis":
        return (((a - 1) * t + 1) / a) ** (a / (a - 1))
    if name == "vlc":
        return 4 - t - 4 * torch.sqrt(1 - t)
    raise AssertionError(name)


def f_at_zero(name: str) -> float:
    """lim_{u -> 0+} f(u)."""
    return {"kl": 0.0, "js": LOG2, "pearson": 1.0, "squared_hellinger": 1.0, "tsallis": 0.0, "vlc": 1.0}[name]


def lower(name: str, a: float) -> float:
    """inf of the range of f' over u > 0 (= f'(0+))."""
    return {
        "kl": -math.inf,
        "js": -math.inf,
        "pearson": -2.0,
        "squared_hellinger": -math.inf,
        "tsallis": -1.0 / (a - 1.0),
        "vlc": -3.0,
    }[name]


def upper(name: str) -> float:
    """sup of the range of f' (= the right end of dom f*)."""
    return {"kl": math.inf, "js": LOG2, "pearson": math.inf, "squared_hellinger": 1.0, "tsallis": math.inf, "vlc": 1.0}[
        name
    ]


def t_grid(name: str, a: float, n: int = 241) -> torch.Tensor:
    """t inside (-10, upper), including points at and below the lower end of the range of f'."""
    hi = 10.0 if math.isinf(upper(name)) else upper(name) - 1e-2
    ts = torch.linspace(-9.99, hi, n, dtype=DT)
    lo = lower(name, a)
    extra = [] if math.isinf(lo) else [lo - 1.0, lo - 1e-3, lo, lo + 1e-3, lo + 0.1]
    return torch.sort(torch.cat([ts, torch.tensor(extra, dtype=DT)])).values


def brute_sup(name: str, a: float, ts: torch.Tensor) -> torch.Tensor:
    """sup_{u>0} (u t - f(u)) by brute force: a log-grid of u in [1e-8, 1e6], refined around the argmax.

    u t - f(u) is concave in u, so the two grid neighbours of the coarse argmax bracket the true
    maximiser; a fine linear grid between them makes the grid error ~1e-9 relative. The u -> 0
    limit -f(0+) is included (it is the sup when t is below the range of f').
    """
    div = get_divergence(name, a)
    u = torch.logspace(-8, 6, 20001, dtype=DT)
    fu = div.f(u)
    out = []
    for t in ts.tolist():
        vals = u * t - fu
        k = int(torch.argmax(vals))
        lo, hi = u[max(k - 1, 0)], u[min(k + 1, len(u) - 1)]
        fine = torch.linspace(float(lo), float(hi), 4001, dtype=DT)
        best = max(float(vals[k]), float(torch.max(fine * t - div.f(fine))), -f_at_zero(name))
        out.append(best)
    return torch.tensor(out, dtype=DT)


# --------------------------------------------------------------------------- the generator f


@each_entry
def test_f_and_f_prime_match_the_table(name, a):
    div = get_divergence(name, a)
    u = torch.logspace(-6, 6, 241, dtype=DT)
    torch.testing.assert_close(div.f(u), ref_f(name, a, u), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(div.f_prime(u), ref_f_prime(name, a, u), rtol=1e-10, atol=1e-12)
    assert div.upper == upper(name)
    assert div.name == name


@each_entry
def test_f_vanishes_at_one_and_has_the_right_limit_at_zero(name, a):
    div = get_divergence(name, a)
    assert abs(float(div.f(torch.tensor(1.0, dtype=DT)))) <= 1e-15
    assert abs(float(div.f(torch.tensor(1.0, dtype=torch.float32)))) <= 1e-7
    assert float(div.f(torch.tensor(1e-12, dtype=DT))) == pytest.approx(f_at_zero(name), abs=1e-5)


@each_entry
def test_f_is_convex(name, a):
    div = get_divergence(name, a)
    # Second differences on a uniform grid.
    u = torch.linspace(1e-3, 20.0, 4001, dtype=DT)
    fu = div.f(u)
    second = fu[2:] - 2 * fu[1:-1] + fu[:-2]
    assert (second >= -1e-12 * fu.abs().max().clamp_min(1.0)).all()
    assert (second > 0).any()
    # Chord slopes nondecreasing on a wide log-grid.
    u = torch.logspace(-6, 6, 3001, dtype=DT)
    fu = div.f(u)
    du = u[1:] - u[:-1]
    slopes = (fu[1:] - fu[:-1]) / du
    err = 1e-15 * (fu[1:].abs() + fu[:-1].abs() + 1.0) / du  # rounding of each chord slope
    assert (slopes[1:] - slopes[:-1] >= -(err[1:] + err[:-1])).all()


@each_entry
def test_f_prime_is_the_derivative(name, a):
    div = get_divergence(name, a)
    u = torch.logspace(-3, 3, 121, dtype=DT)
    h = 1e-6 * u
    fd = (div.f(u + h) - div.f(u - h)) / (2 * h)
    torch.testing.assert_close(div.f_prime(u), fd, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------- the conjugate f*


@each_entry
def test_fenchel_young_equality(name, a):
    div = get_divergence(name, a)
    u = torch.logspace(-4, 4, 801, dtype=DT)
    t = div.f_prime(u)
    keep = t < div.upper
    assert keep.sum() > 700
    u, t = u[keep], t[keep]
    torch.testing.assert_close(div.conjugate(t), u * t - div.f(u), rtol=1e-9, atol=1e-10)


@each_entry
def test_conjugate_is_the_sup_over_positive_u(name, a):
    div = get_divergence(name, a)
    ts = t_grid(name, a)
    got = div.conjugate(ts)
    sup = brute_sup(name, a, ts)
    assert torch.isfinite(got).all()
    # The grid value can only undershoot the sup; the conjugate must not undershoot it (FY inequality).
    assert (got >= sup - 1e-9 * (1.0 + sup.abs())).all(), (ts[got < sup - 1e-9], got, sup)
    torch.testing.assert_close(got, sup, rtol=1e-7, atol=1e-8)


@each_entry
def test_conjugate_closed_form_above_the_range_and_flat_below(name, a):
    """The module's correction: the table's closed form above inf f', the constant -f(0+) below it."""
    div = get_divergence(name, a)
    ts = t_grid(name, a)
    lo = lower(name, a)
    above, below = ts > lo, ts <= lo
    torch.testing.assert_close(div.conjugate(ts[above]), ref_conjugate_closed_form(name, a, ts[above]))
    if math.isinf(lo):
        assert below.sum() == 0
        return
    assert below.sum() >= 3
    torch.testing.assert_close(div.conjugate(ts[below]), torch.full_like(ts[below], -f_at_zero(name)))
    # ... and the table's closed form there is *not* the sup over u > 0 (it is not even real for
    # some Tsallis orders): the correction is needed, not cosmetic.
    t_far = torch.tensor([lo - 2.0], dtype=DT)
    sup = float(brute_sup(name, a, t_far)[0])
    assert sup == pytest.approx(-f_at_zero(name), abs=1e-12)
    closed = float(ref_conjugate_closed_form(name, a, t_far)[0])
    assert not math.isclose(closed, sup, abs_tol=1e-3)


@each_entry
def test_conjugate_nondecreasing_and_convex(name, a):
    div = get_divergence(name, a)
    hi = 10.0 if math.isinf(div.upper) else div.upper - 1e-2
    ts = torch.linspace(-10.0, hi, 4001, dtype=DT)
    c = div.conjugate(ts)
    assert torch.isfinite(c).all()
    tol = 1e-12 * c.abs().max().clamp_min(1.0)
    first = c[1:] - c[:-1]
    second = c[2:] - 2 * c[1:-1] + c[:-2]
    assert (first >= -tol).all()
    assert (second >= -tol).all()
    assert c[-1] > c[0]


# --------------------------------------------------------------------------- the stable composites


@each_entry
def test_composites_equal_the_plain_compositions(name, a):
    div = get_divergence(name, a)
    lg = torch.linspace(-30.0, 0.0, 301, dtype=DT)
    g = torch.exp(lg)
    torch.testing.assert_close(div.critic_from_log_kernel(lg), div.f_prime(g), rtol=1e-10, atol=1e-12)
    fy = g * div.f_prime(g) - div.f(g)
    torch.testing.assert_close(div.negative_from_log_kernel(lg), fy, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(div.negative_from_log_kernel(lg), div.conjugate(div.f_prime(g)), rtol=1e-9, atol=1e-12)
    v = torch.linspace(-20.0, 20.0, 401, dtype=DT)
    plain = div.conjugate(div.activation(v))
    assert torch.isfinite(plain).all()
    # 1e-6: the plain JS / Hellinger compositions lose ~7 digits at v = 20 (1 - sigmoid(20), 1 - (1 - e^-20)).
    torch.testing.assert_close(div.negative_from_cosine(v), plain, rtol=1e-6, atol=1e-9)


@each_entry
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_composites_finite_with_finite_gradients_at_extremes(name, a, dtype):
    """Log-kernels down to -1e6 (sigma -> 0) and cosine logits up to +-1e4 (temperature -> 0)."""
    div = get_divergence(name, a)
    lg = torch.tensor([-1e6, -1e4, -800.0, -200.0, -120.0, -50.0, -1.0, 0.0], dtype=dtype, requires_grad=True)
    v = torch.tensor([-1e4, -1e3, -100.0, -20.0, 0.0, 20.0, 100.0, 1e3, 1e4], dtype=dtype, requires_grad=True)
    outs = {
        "critic_from_log_kernel": div.critic_from_log_kernel(lg),
        "negative_from_log_kernel": div.negative_from_log_kernel(lg),
        "activation": div.activation(v),
        "negative_from_cosine": div.negative_from_cosine(v),
    }
    for what, out in outs.items():
        assert torch.isfinite(out).all(), (what, out)
        x = lg if "log_kernel" in what else v
        (grad,) = torch.autograd.grad(out.sum(), x)
        assert torch.isfinite(grad).all(), (what, grad)


@each_entry
def test_activation_maps_into_dom_conjugate_monotonically(name, a):
    div = get_divergence(name, a)
    v = torch.linspace(-50.0, 30.0, 1601, dtype=DT)
    t = div.activation(v)
    assert torch.isfinite(t).all()
    assert (t < div.upper).all()
    assert (t[1:] > t[:-1]).all()  # strictly increasing where float64 resolves it
    big = torch.tensor([40.0, 1e3, 1e6], dtype=DT)
    tb = div.activation(big)
    assert (tb <= div.upper).all()
    assert (tb[1:] >= tb[:-1]).all()
    assert torch.isfinite(div.negative_from_cosine(big)).all()


# --------------------------------------------------------------------------- exp_linear and the registry


def test_exp_linear_is_exp_below_the_cap():
    x = torch.linspace(-50.0, EXP_CAP, 1101, dtype=DT)
    torch.testing.assert_close(exp_linear(x), torch.exp(x), rtol=1e-14, atol=0.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_exp_linear_is_finite_with_positive_gradient_above_the_cap(dtype):
    # far above the cap, yet e^cap * (1 + x - cap) stays below float32's max (x up to ~2e12)
    x = torch.tensor([EXP_CAP + 1.0, 100.0, 1e3, 1e6, 1e9], dtype=dtype, requires_grad=True)
    y = exp_linear(x)
    assert torch.isfinite(y).all()
    assert (y[1:] > y[:-1]).all()
    # the tangent line of exp at the cap
    expected = math.exp(EXP_CAP) * (1.0 + (x.detach().double() - EXP_CAP))
    torch.testing.assert_close(y.detach().double(), expected, rtol=1e-5, atol=0.0)
    (g,) = torch.autograd.grad(y.sum(), x)
    assert torch.isfinite(g).all()
    assert (g > 0).all()
    # continuous at the cap, and exp(x) itself overflows float32 there, so the cap is doing work
    c = torch.tensor([EXP_CAP - 1e-9, EXP_CAP, EXP_CAP + 1e-9], dtype=DT)
    assert exp_linear(c).tolist() == pytest.approx([math.exp(EXP_CAP)] * 3, rel=1e-8)
    assert not torch.isfinite(torch.exp(torch.tensor(1e3, dtype=torch.float32)))


def test_get_divergence_unknown_name_lists_the_names():
    with pytest.raises(ValueError) as err:
        get_divergence("nope")
    for name in ("kl", "js", "pearson", "squared_hellinger", "tsallis", "vlc"):
        assert name in str(err.value)
    assert set(NAMES) == {"kl", "js", "pearson", "squared_hellinger", "tsallis", "vlc"}


@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.0, -2.0, float("nan")])
def test_tsallis_order_must_exceed_one(alpha):
    with pytest.raises(ValueError):
        get_divergence("tsallis", alpha)


def test_every_name_resolves():
    for name in NAMES:
        assert get_divergence(name).name == name
