"""Tests for model 000 (SignedCoulomb2D): exact particle facts and continuum structure/orders.

References: theory page 000 (V2 centre of mass, V3/(4.26) spread process, V10 heat flow,
V11 second-moment law); paper eqs. (1.1), (1.3) with diffusion sigma^2/2.
"""

import numpy as np
import pytest

from meanfield.measures import GridDensity
from meanfield.models.coulomb2d import SignedCoulomb2D, coulomb_drift
from meanfield.rates import fit_rate


def _model(**kw):
    base = dict(sigma=1.0, gamma_bar=0.4, mass_plus=0.7, mass_minus=0.3, centre_plus=(-0.4, 0.0),
                centre_minus=(0.4, 0.2), width=0.4)
    base.update(kw)
    return SignedCoulomb2D(**base)


# --- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, name", [(dict(sigma=0.0), "sigma"), (dict(sigma=-1.0), "sigma"),
                                      (dict(gamma_bar=0.5), "gamma_bar"), (dict(gamma_bar=0.7), "gamma_bar"),
                                      (dict(width=0.0), "width"), (dict(mass_plus=0.9), "mass_plus")])
def test_bad_parameters_raise_naming_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        _model(**kw)


def test_gamma_above_threshold_warns():
    with pytest.warns(RuntimeWarning, match="sigma\\^2/2"):
        SignedCoulomb2D(sigma=1.0, gamma=0.6)


def test_negative_density_refused():
    m = _model()
    g = m.default_grid(16, 0.1)
    r = m.initial_density(g)
    bad = r["+"].values.copy()
    bad[3, 3] = -1e-3
    with pytest.raises(ValueError, match=r"initial\['\+'\] must be non-negative"):
        m.solve_continuum(0.1, grid=g, initial={"+": GridDensity(bad, g), "-": r["-"]})


# --- particles ---------------------------------------------------------------------------------
def test_drift_matches_naive_sum_and_is_antisymmetric():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 2))
    b = np.where(rng.random(40) < 0.5, 1.0, -1.0)
    x[5] = x[7]  # coincident points: K(0) := 0, no division by zero
    f, dmin = coulomb_drift(x, b, 0.3)
    d = x[:, None, :] - x[None, :, :]
    r2 = (d**2).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(r2[..., None] > 0, d / r2[..., None], 0.0)
    naive = 0.3 * b[:, None] * np.einsum("j,ijk->ik", b, k)
    assert np.allclose(f, naive, rtol=1e-12, atol=1e-12)
    # sum_i b^i drift_i / ... : total drift vanishes (K odd) -> centre of mass has no drift
    assert abs(f.sum(axis=0)).max() < 1e-12 * np.abs(f).sum()
    assert dmin[5] == 0.0


def test_same_seed_same_trajectory_bit_for_bit():
    m = _model()
    x0 = m.sample_particles(30, rng=3)
    a = m.simulate_particles(x0, 0.05, rng=7, scheme="stochastic_heun")
    b = m.simulate_particles(x0, 0.05, rng=7, scheme="stochastic_heun")
    assert np.array_equal(a.positions[-1], b.positions[-1])


def test_centre_of_mass_is_brownian_motion():
    """V2: Xbar_t - Xbar_0 ~ N(0, sigma^2 t / N I) exactly (drift sums to zero)."""
    m = SignedCoulomb2D(sigma=0.8, gamma=0.15, gamma_bar=0.1)
    n, t, runs = 6, 0.2, 300
    disp = []
    for s in range(runs):
        x0 = m.sample_particles(n, rng=s)
        tr = m.simulate_particles(x0, t, rng=1000 + s, dt=0.02)
        disp.append(tr.positions[-1].mean(0) - x0[0].mean(0))
    z = np.array(disp).ravel() / np.sqrt(m.sigma**2 * t / n)
    # chi^2 with 2*runs dof: mean of z^2 is 1 with sd sqrt(2/(2 runs))
    assert abs(np.mean(z**2) - 1) < 4 * np.sqrt(2 / z.size)
    assert abs(np.mean(z)) < 4 / np.sqrt(z.size)


@pytest.mark.parametrize("signs, gamma", [((1, 1, 1, 1, 1), 0.2), ((1, 1, -1, -1), 0.05)])
def test_spread_process_mean_grows_at_bessel_rate(signs, gamma):
    """(4.26), I = all particles: R = sigma^-2 sum|X - Xbar|^2 is BESQ of dimension
    2(N-1) + gamma((N+ - N-)^2 - N)/sigma^2, so E R_t = R_0 + dim * t."""
    sigma = 1.0
    m = SignedCoulomb2D(sigma=sigma, gamma=gamma, gamma_bar=0.1)
    b = np.array(signs, float)
    n = b.size
    n_plus = int((b > 0).sum())
    dim = m.spread_dimension(n_plus, n - n_plus)
    t, runs = 0.2, 400
    rng = np.random.default_rng(11)
    inc = []
    for s in range(runs):
        x = 1.5 * rng.standard_normal((n, 2))
        tr = m.simulate_particles((x, b), t, rng=s, dt=0.002)
        r = lambda y: ((y - y.mean(0)) ** 2).sum() / sigma**2  # noqa: E731
        inc.append(r(tr.positions[-1]) - r(x))
    inc = np.array(inc)
    se = inc.std(ddof=1) / np.sqrt(runs)
    assert abs(inc.mean() - dim * t) < 4 * se, (inc.mean(), dim * t, se)


def test_trajectory_measures_have_species_masses():
    m = _model()
    x0 = m.sample_particles(50, rng=1)
    tr = m.simulate_particles(x0, 0.02, rng=2)
    mu = tr.measure(0.02)
    assert set(mu) == {"+", "-"}
    assert mu["+"].mass == pytest.approx(35 / 50) and mu["-"].mass == pytest.approx(15 / 50)


# --- continuum -------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["spectral", "finite_volume"])
def test_mass_conserved_to_roundoff(scheme):
    m = _model()
    g = m.default_grid(32, 0.2)
    sol = m.solve_continuum(0.2, grid=g, times=[0.1, 0.2], scheme=scheme)
    assert np.allclose(sol["mass"].values, [[0.7, 0.3]] * 2, rtol=0, atol=1e-13)


def test_fv_keeps_positivity():
    m = _model(width=0.15)
    g = m.default_grid(32, 0.1)
    sol = m.solve_continuum(0.1, grid=g, scheme="finite_volume")
    assert sol["density"].values.min() >= 0.0


def test_spectral_second_moment_law():
    """V11: d/dt int |x|^2 (rho+ + rho-) = 2 sigma^2 m + gamma_bar (m+ - m-)^2."""
    m = _model()
    T = 0.2
    g = m.default_grid(64, T)
    sol = m.solve_continuum(T, grid=g, times=[0, T], dt=T / 64)
    rate = np.diff(sol["second_moment"].values)[0] / T
    assert rate == pytest.approx(m.second_moment_rate(), rel=1e-3)
    assert abs(rate - 2.0) > 0.05  # not the pure-diffusion rate: the interaction part gamma_bar*0.16 is resolved


def test_neutral_symmetric_data_is_heat_flow():
    """V10: rho+ = rho- -> each species solves the heat equation with diffusivity sigma^2/2."""
    m = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4, width=0.5)
    T = 0.3
    g = m.default_grid(64, T, tail=8.0)
    sol = m.solve_continuum(T, grid=g)
    exact = SignedCoulomb2D(sigma=1.0, gamma_bar=0.4, width=np.sqrt(0.25 + T)).initial_array(g)
    assert np.abs(sol["density"].values[-1] - exact).max() < 1e-8 * exact.max()


def test_spectral_etd2_time_order():
    m = _model()
    T = 0.2
    g = m.default_grid(32, T)
    ref = m.solve_continuum(T, grid=g, dt=T / 128)["density"].values[-1]
    dts, errs = [], []
    for k in (4, 8, 16):
        s = m.solve_continuum(T, grid=g, dt=T / k)["density"].values[-1]
        dts.append(T / k)
        errs.append(np.abs(s - ref).max())
    fit = fit_rate(dts, errs)
    assert 1.8 < fit.slope < 2.3, fit


@pytest.mark.slow
def test_fv_and_spectral_agree_at_first_order():
    """Two independent solvers: L1 gap shrinks at the upwind scheme's first order in h.
    (Slow: FV at n = 96; the fast version is test_coulomb2d_orders.py::test_spectral_and_fv_orders_two_grids.)"""
    m = _model()
    T = 0.1
    hs, gaps = [], []
    for n in (24, 48, 96):
        g = m.default_grid(n, T)
        sp = m.solve_continuum(T, grid=g, dt=T / 32)["density"].values[-1]
        fv = m.solve_continuum(T, grid=g, scheme="finite_volume")["density"].values[-1]
        hs.append(g.spacing[0])
        gaps.append(np.abs(sp - fv).sum() * g.cell_volume)
    fit = fit_rate(hs, gaps)
    assert 0.8 < fit.slope < 1.3, fit
    assert gaps[-1] < 0.01


def test_dataset_measure_accessor():
    m = _model()
    g = m.default_grid(16, 0.05)
    sol = m.solve_continuum(0.05, grid=g)
    mu = sol.measure(0.05)
    assert mu["+"].mass == pytest.approx(0.7) and mu["-"].mass == pytest.approx(0.3)


@pytest.mark.parametrize("runs, dt", [(150, 2.5e-3), pytest.param(1000, 5e-4, marks=pytest.mark.slow)])
def test_opposite_pair_separation_follows_bessel_law(runs, dt):
    """(2.6): for an isolated +- pair, |D_t|^2 / (2 sigma^2 t) is noncentral chi^2 with
    delta = 2 (1 - gamma/sigma^2) degrees of freedom and noncentrality |D_0|^2 / (2 sigma^2 t)
    (reflecting BESQ, 0 < gamma < sigma^2; theory page 000). Kolmogorov-Smirnov against that law,
    and the mean E|D_t|^2 = |D_0|^2 + 4 (sigma^2 - gamma) t within 4 standard errors."""
    from scipy import stats

    sigma, gamma, t = 1.0, 0.25, 0.25
    m = SignedCoulomb2D(sigma=sigma, gamma=gamma, gamma_bar=0.1)
    x0 = (np.array([[0.0, 0.0], [0.5, 0.0]]), np.array([1.0, -1.0]))
    d0sq = 0.25
    d2 = np.array([((lambda p: p[0] - p[1])(m.simulate_particles(x0, t, rng=s, dt=dt).positions[-1]) ** 2).sum()
                   for s in range(runs)])
    dof = 2 * (1 - gamma / sigma**2)
    law = stats.ncx2(dof, d0sq / (2 * sigma**2 * t), scale=2 * sigma**2 * t)
    assert stats.kstest(d2, law.cdf).pvalue > 1e-3
    se = d2.std(ddof=1) / np.sqrt(runs)
    assert abs(d2.mean() - (d0sq + 4 * (sigma**2 - gamma) * t)) < 4 * se


@pytest.mark.parametrize("scheme", ["finite_volume", "spectral"])
def test_free_energy_non_increasing(scheme):
    """Gradient-flow structure of the corrected (1.3): F = (sigma^2/2) sum int rho log rho
    - (gamma_bar/2) int q (log|.| * q) decreases along the solution."""
    m = _model(width=0.3)
    T = 0.1
    g = m.default_grid(32, T)
    ts = np.linspace(T / 10, T, 10)
    sol = m.solve_continuum(T, grid=g, times=ts, scheme=scheme)
    F = np.array([m.free_energy(r, g) for r in sol["density"].values])
    assert np.all(np.diff(F) < 0), F
