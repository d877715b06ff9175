"""Model 003 and the model contract (issue 15): species and params, ``initial=`` on every run method
(a callable equal to the preset reproduces it to round-off), the deprecated call forms, bad input
refused before any work, and the user mollifier (a callable radial profile) against the built-in
kernels and through Theorem 1.3's rate."""

import warnings

import numpy as np
import pytest

from meanfield.measures import GridDensity
from meanfield.models.contract import Model, same_params
from meanfield.models.dislocations import Dislocations2D, bump, potential_hat, preset_density
from meanfield.rates import fit_rate
from meanfield.solvers.grids import UniformGrid


def gauss_profile(r):
    """The built-in Gaussian mollifier as a profile: φ̂_1(s) = exp(-2π²s²) ⇔ φ_1(r) = e^{-r²/2}/(2π)."""
    return np.exp(-0.5 * r**2) / (2 * np.pi)


def ring_profile(r):
    """A smooth ring-shaped mollifier (mass near r = 2), none of the presets: φ_1(r) ∝ r² e^{-(r² - 4)²}."""
    return r**2 * np.exp(-((r**2 - 4) ** 2))


def preset_plus(x, y):
    return preset_density(x, y, 0.4)[0]


def preset_minus(x, y):
    return preset_density(x, y, 0.4)[1]


PRESET = {"+": preset_plus, "-": preset_minus}


# -- shape ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"mollifier": "bump", "kernel_tol": 1e-9},
                                    {"mollifier": gauss_profile, "mollifier_support": 10.0, "delta": 0.2}])
def test_params_round_trip_and_species(kwargs):
    m = Dislocations2D(**kwargs)
    again = type(m)(**m.params)
    assert same_params(again.params, m.params)
    assert set(m.params) == {"delta", "beta", "amplitude", "c_prime", "mollifier", "kernel_tol", "mollifier_support"}
    assert m.species == ("+", "-") and isinstance(m, Model)
    grid = m.continuum_grid(16)
    dens = m.initial_density(grid)
    assert list(dens) == ["+", "-"] and all(isinstance(d, GridDensity) for d in dens.values())
    for d in dens.values():
        assert d.mass == pytest.approx(0.5, rel=1e-14)
    sol = m.solve_continuum(0.001, resolution=16)
    traj = m.simulate_particles(m.sample_particles(20, rng=0), 0.001, rng=1)
    assert sorted(sol.measure(0.001)) == sorted(traj.measure(0.001)) == ["+", "-"]


def test_old_initial_density_call_warns_and_gives_the_preset():
    m = Dislocations2D()
    x, y = np.meshgrid(np.arange(8) / 8, np.arange(8) / 8, indexing="ij")
    with pytest.warns(DeprecationWarning, match="preset_density"):
        old = m.initial_density(x, y)
    assert np.array_equal(old, preset_density(x, y, m.amplitude))
    dens = m.initial_density(m.continuum_grid(8))
    np.testing.assert_allclose(dens["+"].values, old[0], rtol=0, atol=1e-15)


# -- initial= -------------------------------------------------------------------------------------
def test_initial_callable_and_grid_density_equal_the_preset_on_the_continuum():
    m = Dislocations2D()
    ref = m.solve_continuum(0.01, times=[0.005, 0.01], resolution=32).density.values
    via_callable = m.solve_continuum(0.01, times=[0.005, 0.01], initial=PRESET, resolution=32).density.values
    via_grid = m.solve_continuum(0.01, times=[0.005, 0.01], initial=m.initial_density(m.continuum_grid(32)),
                                 resolution=32).density.values
    np.testing.assert_allclose(via_callable, ref, rtol=0, atol=1e-14)  # grid centres vs j/n: round-off
    np.testing.assert_allclose(via_grid, ref, rtol=0, atol=1e-14)


def test_initial_callable_grid_density_and_masses_equal_the_preset_on_the_lattice():
    m = Dislocations2D()
    eps = 1 / 16
    ref = m.solve_lattice(eps, 0.01).density.values
    for initial in (PRESET, m.initial_density(m.lattice_grid(eps)), m.lattice_initial_masses(eps)):
        got = m.solve_lattice(eps, 0.01, initial=initial).density.values
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13)
    np.testing.assert_allclose(m.lattice_initial_masses(eps, PRESET), m.lattice_initial_masses(eps), atol=1e-16)
    a = m.sample_lattice_particles(40, eps, rng=3, initial=PRESET)
    b = m.sample_lattice_particles(40, eps, rng=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_couplings_take_initial_data():
    """The couplings' mean fields from ``initial=``: the preset's formula gives the default coupling
    (X to the last bit, the McKean–Vlasov copies to round-off)."""
    m = Dislocations2D()
    state = m.sample_particles(8, rng=0)
    a = m.couple_sde_mean_field(state, 0.002, rng=1, resolution=16)
    b = m.couple_sde_mean_field(state, 0.002, rng=1, resolution=16, initial=PRESET)
    assert np.array_equal(a.x[-1], b.x[-1])
    np.testing.assert_allclose(b.x_bar[-1], a.x_bar[-1], rtol=0, atol=1e-13)
    walkers = [m.sample_lattice_particles(8, 1 / 16, rng=2)]
    a = m.couple_walkers_mean_field(walkers, 1 / 16, 0.005, rng=3)[0]
    b = m.couple_walkers_mean_field(walkers, 1 / 16, 0.005, rng=3, initial=PRESET)[0]
    assert np.array_equal(a.x[-1], b.x[-1]) and np.array_equal(a.x_bar[-1], b.x_bar[-1])


def test_custom_initial_data_lattice_converges_to_continuum_at_order_eps_squared():
    """Theorem 1.3 with user data none of the presets covers (band stated before the run: 1.8–2.2)."""
    m = Dislocations2D(delta=0.1)
    initial = {"+": lambda x, y: 1 + 0.8 * np.cos(2 * np.pi * x) * np.cos(2 * np.pi * y),
               "-": lambda x, y: np.exp(np.sin(2 * np.pi * (x - y)))}
    t_end = 0.02
    ref = m.solve_continuum(t_end, times=[0.0, t_end], initial=initial, resolution=128).density.values
    np.testing.assert_allclose(ref.sum(axis=(2, 3)) / 128**2, 0.5, rtol=1e-12)
    errors, epss = [], [1 / 16, 1 / 32, 1 / 64]
    for eps in epss:
        n = round(1 / eps)
        f = m.solve_lattice(eps, t_end, initial=initial).density.values[-1]
        errors.append(np.sqrt(eps**2 * np.sum((f - ref[-1][:, :: 128 // n, :: 128 // n]) ** 2)))
    fit = fit_rate(epss, errors)
    assert 1.8 < fit.slope < 2.2, fit


def test_sample_particles_from_a_callable_and_a_grid_density():
    m = Dislocations2D()
    initial = {"+": lambda x, y: 1 + np.cos(2 * np.pi * x), "-": lambda x, y: 1 + 0 * x}
    n = 40_000
    x, b = m.sample_particles(n, rng=7, initial=initial)
    assert x.shape == (n, 2) and set(np.unique(b)) == {-1, 1}
    assert np.all((x >= 0) & (x < 1))
    plus = x[b > 0, 0]
    # E cos(2πX) under 1 + cos(2πx) is 1/2 (cell averaging changes it by O(1/256²)); CLT band 5σ
    mean = np.cos(2 * np.pi * plus).mean()
    assert abs(mean - 0.5) < 5 * np.sqrt(0.5 / plus.size), mean
    assert abs((b > 0).mean() - 0.5) < 5 * 0.5 / np.sqrt(n)
    grid = UniformGrid(0.0, 1.0, (8, 8), periodic=True)
    dens = {"+": GridDensity(np.full((8, 8), 0.5), grid), "-": GridDensity(np.full((8, 8), 0.5), grid)}
    y, c = m.sample_particles(100, rng=1, initial=dens)
    assert y.shape == (100, 2) and c.shape == (100,)



def _g_plus(x, y):
    return np.cos(2 * np.pi * x) * np.sin(2 * np.pi * y) + 0.5 * np.sin(4 * np.pi * x)


def _g_minus(x, y):
    return np.sin(2 * np.pi * (x + y)) - 0.5 * np.cos(2 * np.pi * y)


def test_sample_particles_with_fixed_sign_counts():
    """``n_plus`` fixes the signs (as in sample_lattice_particles): exact counts, + first, positions from
    each species' normalised density. Preset (amplitude 0.4): E g_+ = (0.4/1.5)(1/4 + 1/8) = 0.1 under
    2f^+ and E g_- = -(0.4/1.5)(1/2 + 1/8) = -1/6 under 2f^-; a callable 1 + cos 2πx: E cos 2πX = 1/2;
    each within 5 standard errors. The default (n_plus=None) keeps its random stream."""
    m = Dislocations2D()
    n, n_plus = 40_000, 10_000
    x, b = m.sample_particles(n, rng=3, n_plus=n_plus)
    assert x.shape == (n, 2) and np.all(b[:n_plus] == 1) and np.all(b[n_plus:] == -1)
    assert np.all((x >= 0) & (x < 1))
    for vals, expected in ((_g_plus(*x[:n_plus].T), 0.1), (_g_minus(*x[n_plus:].T), -1 / 6)):
        assert abs(vals.mean() - expected) < 5 * vals.std() / np.sqrt(vals.size), (vals.mean(), expected)
    initial = {"+": lambda x, y: 1 + np.cos(2 * np.pi * x), "-": lambda x, y: 1 + 0 * x}
    y, c = m.sample_particles(n, rng=7, initial=initial, n_plus=n // 2)
    assert np.all(c[: n // 2] == 1) and np.all(c[n // 2:] == -1)
    cos = np.cos(2 * np.pi * y[: n // 2, 0])
    assert abs(cos.mean() - 0.5) < 5 * cos.std() / np.sqrt(cos.size), cos.mean()
    for k in (0, 7):  # one species empty
        z, d = m.sample_particles(7, rng=0, n_plus=k)
        assert z.shape == (7, 2) and (d > 0).sum() == k
    a, s = m.sample_particles(50, rng=5)
    a2, s2 = m.sample_particles(50, rng=5, n_plus=None)
    assert np.array_equal(a, a2) and np.array_equal(s, s2)


@pytest.mark.parametrize("n_plus, error", [(-1, ValueError), (11, ValueError), ("5", TypeError),
                                           (2.5, (TypeError, ValueError)), (None, None)])
def test_sample_particles_refuses_bad_n_plus(n_plus, error):
    m = Dislocations2D()
    if error is None:
        assert m.sample_particles(10, rng=0, n_plus=n_plus)[0].shape == (10, 2)
        return
    with pytest.raises(error, match="n_plus"):
        m.sample_particles(10, rng=0, n_plus=n_plus)


# -- deprecated call forms ------------------------------------------------------------------------------
def test_deprecated_call_forms_warn_and_give_the_same_numbers():
    m = Dislocations2D()
    with pytest.warns(DeprecationWarning, match=r"solve_continuum\(t_end, times, resolution=...\)"):
        old = m.solve_continuum(16, 0.005)
    assert np.array_equal(old.density.values, m.solve_continuum(0.005, resolution=16).density.values)
    state = m.sample_particles(8, rng=0)
    with pytest.warns(DeprecationWarning, match="scheme='euler_maruyama'"):
        a = m.simulate_particles(state, 0.002, rng=1, method="sde")
    assert np.array_equal(a.positions[-1], m.simulate_particles(state, 0.002, rng=1).positions[-1])
    walkers = m.sample_lattice_particles(8, 1 / 16, rng=0)
    with pytest.warns(DeprecationWarning, match="simulate_random_walks"):
        a = m.simulate_particles(walkers, 0.01, rng=2, method="rw", eps=1 / 16)
    b = m.simulate_random_walks(walkers, 1 / 16, 0.01, rng=2)
    assert np.array_equal(a.positions[-1], b.positions[-1])


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["delta", "beta", "amplitude", "c_prime", "kernel_tol", "mollifier_support"])
@pytest.mark.parametrize("value", ["0.1", None, 0.1 + 0j, float("nan")])
def test_constructor_refuses_non_numbers(name, value):
    with pytest.raises((TypeError, ValueError), match=name):
        Dislocations2D(**{name: value})


def test_run_methods_refuse_bad_input_before_any_work():
    m = Dislocations2D()
    state = m.sample_particles(4, rng=0)
    for eps in ("0.1", None, float("nan"), 1j):
        with pytest.raises((TypeError, ValueError), match="eps"):
            m.solve_lattice(eps, 0.1)
    with pytest.raises(ValueError, match=r"eps=1e-07.*GiB.*refused before allocating"):
        Dislocations2D(delta=1.0, beta=1e-3).solve_lattice(1e-7, 0.1)
    with pytest.raises(ValueError, match=r"resolution=1048576.*GiB"):
        m.solve_continuum(0.1, resolution=2**20)
    for n in (2**63, "5", 0, 2.5):
        with pytest.raises((TypeError, ValueError), match="n must"):
            m.sample_particles(n)
        with pytest.raises((TypeError, ValueError), match="n must"):
            m.sample_lattice_particles(n, 1 / 16)
    with pytest.raises(ValueError, match=r"sample_particles\(n=549755813888\).*GiB"):
        m.sample_particles(2**39)
    empty = (np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="empty state"):
        m.simulate_particles(empty, 0.1)
    with pytest.raises(ValueError, match="at least one walker"):
        m.simulate_random_walks(empty, 1 / 16, 0.1)
    for t_end in ("1", None, float("nan"), -1.0):
        with pytest.raises((TypeError, ValueError), match="t_end"):
            m.simulate_particles(state, t_end)
    with pytest.raises(ValueError, match="scheme must be one of"):
        m.simulate_particles(state, 0.1, scheme="heun")
    with pytest.raises(ValueError, match="scheme must be one of"):
        m.solve_continuum(0.1, scheme="rk4")
    with pytest.raises(ValueError, match="stepper must be one of"):
        m.solve_continuum(0.1, stepper="rk4")
    with pytest.warns(DeprecationWarning, match="use stepper="):
        old = m.solve_continuum(0.01, resolution=16, scheme="etdrk4")
    assert np.array_equal(old.density.values, m.solve_continuum(0.01, resolution=16).density.values)
    with pytest.raises(ValueError, match="eps and kmc belong to the lattice random walks"):
        m.simulate_particles(state, 0.1, eps=1 / 16)
    for dt in (0.0, float("nan"), "0.1", 1e-12):
        with pytest.raises((TypeError, ValueError), match="dt"):
            m.solve_continuum(0.1, dt=dt)
        with pytest.raises((TypeError, ValueError), match="dt"):
            m.solve_lattice(1 / 16, 0.1, dt=dt)
        with pytest.raises((TypeError, ValueError), match="dt"):
            m.simulate_particles(state, 0.1, dt=dt)


@pytest.mark.parametrize("bad, match", [
    (lambda x, y: 0 * x, "positive and finite"),
    (lambda x, y: -1 + 0 * x, "positive and finite"),
    (lambda x, y: np.inf + 0 * x, "unusable values"),
    (lambda x, y: np.sin(2 * np.pi * x) + 0.5, "non-negative"),
])
def test_user_initial_data_refused(bad, match):
    m = Dislocations2D()
    initial = {"+": bad, "-": preset_minus}
    with pytest.raises(ValueError, match=match):
        m.solve_continuum(0.01, initial=initial, resolution=16)
    with pytest.raises(ValueError, match=match):
        m.solve_lattice(1 / 16, 0.01, initial=initial)
    with pytest.raises(ValueError, match=match):
        m.sample_particles(4, initial=initial)


def test_initial_of_the_wrong_shape_refused():
    m = Dislocations2D()
    with pytest.raises(ValueError, match=r"initial must name the species \['\+', '-'\]"):
        m.solve_continuum(0.01, initial={"+": preset_plus}, resolution=16)
    with pytest.raises(TypeError, match="initial must be a dict keyed by species"):
        m.solve_continuum(0.01, initial=preset_plus, resolution=16)
    with pytest.raises(ValueError, match="lives on"):
        m.solve_continuum(0.01, initial=m.initial_density(m.continuum_grid(32)), resolution=16)
    with pytest.raises(ValueError, match=r"per-site masses.*shape \(2, 16, 16\)"):
        m.solve_lattice(1 / 16, 0.01, initial=np.ones((2, 8, 8)))
    with pytest.raises(ValueError, match=r"each species mass 0\.5"):
        m.solve_lattice(1 / 16, 0.01, initial=np.ones((2, 16, 16)))


# -- the user mollifier -----------------------------------------------------------------------------
def test_callable_gaussian_and_bump_reproduce_the_built_in_kernels():
    k = np.arange(-80, 81)
    k1, k2 = np.meshgrid(k, k, indexing="ij")
    g = Dislocations2D(delta=0.1, mollifier=gauss_profile, mollifier_support=10.0, kernel_tol=1e-13)
    b = Dislocations2D(delta=0.1, mollifier=bump)
    assert np.abs(g.potential_hat(k1, k2) - potential_hat(k1, k2, 0.1)).max() < 1e-15  # measured 1.4e-16
    assert np.abs(b.potential_hat(k1, k2) - potential_hat(k1, k2, 0.1, "bump")).max() < 1e-15
    for custom, builtin in ((g, Dislocations2D(delta=0.1)), (b, Dislocations2D(delta=0.1, mollifier="bump"))):
        a = custom.solve_lattice(1 / 32, 0.01).density.values
        c = builtin.solve_lattice(1 / 32, 0.01).density.values
        assert np.abs(a - c).max() < 1e-13
        a = custom.solve_continuum(0.01, resolution=32).density.values
        c = builtin.solve_continuum(0.01, resolution=32).density.values
        assert np.abs(a - c).max() < 1e-13
    # two independent force evaluations: the interpolated fine grid against the Gaussian's Fourier sum
    x, s = Dislocations2D().sample_particles(30, rng=4)
    ref = Dislocations2D(delta=0.1).particle_force(x, s.astype(float))
    got = g.particle_force(x, s.astype(float))
    assert np.abs(got - ref).max() < 1e-9 * np.abs(ref).max()


def test_new_profile_lattice_converges_to_continuum_at_the_built_in_rate():
    """Theorem 1.3 with a ring-shaped mollifier (none of the presets): band 1.9–2.1, the built-in's,
    stated before the run; and the kernel is really another one (MF differs from the Gaussian MF)."""
    m = Dislocations2D(delta=0.1, mollifier=ring_profile, mollifier_support=4.0)
    t_end = 0.05
    ref = m.solve_continuum(t_end, resolution=128).density.values[-1]
    errors, epss = [], [1 / 16, 1 / 32, 1 / 64]
    for eps in epss:
        n = round(1 / eps)
        f = m.solve_lattice(eps, t_end, times=[0.0, t_end]).density.values
        np.testing.assert_allclose(f.sum(axis=(2, 3)) / n**2, 0.5, rtol=1e-13)
        errors.append(np.sqrt(eps**2 * np.sum((f[-1] - ref[:, :: 128 // n, :: 128 // n]) ** 2)))
    fit = fit_rate(epss, errors)
    assert 1.9 < fit.slope < 2.1, fit
    gauss = Dislocations2D(delta=0.1).solve_continuum(t_end, resolution=128).density.values[-1]
    assert np.sqrt(np.mean((gauss - ref) ** 2)) > 2 * errors[-1]
    traj = m.simulate_particles(m.sample_particles(10, rng=0), 0.002, rng=1)  # the SDE runs with it
    assert np.all(np.isfinite(traj.positions[-1]))


def test_user_profiles_checked():
    with pytest.raises(ValueError, match="not smooth enough"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Dislocations2D(mollifier=lambda r: np.where(r < 0.5, 1.0, 0.0))
    with pytest.raises(ValueError, match="positive and finite"):
        Dislocations2D(mollifier=lambda r: 0 * r)
    with pytest.raises(ValueError, match="non-finite"):
        Dislocations2D(mollifier=lambda r: np.where(r < 0.5, np.nan, 1.0))
    with pytest.raises(TypeError, match=r"vectorised|array of radii"):
        Dislocations2D(mollifier=lambda r: 1.0)
    with pytest.raises(TypeError, match="mollifier must be one of"):
        Dislocations2D(mollifier=3)
    with pytest.raises(ValueError, match="mollifier_support is for a callable profile"):
        Dislocations2D(mollifier="bump", mollifier_support=2.0)
    with pytest.raises(ValueError, match=r"mollifier_support=1000000000.0 would need .* GiB"):
        Dislocations2D(mollifier=gauss_profile, mollifier_support=1e9)
    with pytest.warns(UserWarning, match="negative values"):
        Dislocations2D(mollifier=lambda r: (1 - 0.5 * r**2) * np.exp(-(r**2)), mollifier_support=7.0)
    # cut at R = 3 the profile jumps by e^{-4.5}/(2π): warned, then refused (its transform decays too slowly)
    with pytest.warns(UserWarning, match="not negligible beyond mollifier_support"), pytest.raises(
            ValueError, match="not smooth enough"):
        Dislocations2D(mollifier=gauss_profile, mollifier_support=3.0)
