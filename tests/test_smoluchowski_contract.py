"""Model 004 under the model contract (issue 15): labels and parameters, ``initial=`` on every run
method, the old keywords behind a DeprecationWarning, bad input refused before any work, and the
physics open to the user (coagulation kernel, mass-dependent diffusivity, interaction profile)
against exact solutions and the preset runs."""

import warnings

import numpy as np
import pytest
from scipy.special import gammaln

from meanfield.measures import GridDensity
from meanfield.models.contract import Model, same_params
from meanfield.models.smoluchowski import (
    CoagulationDiffusion,
    SeparableKernel,
    capture_function_uniform_ball,
    coagulation_operator,
    coagulation_rates,
    solve_homogeneous,
)


def _sum_squares(x, y, z, c=0.5):
    return (x - c) ** 2 + (y - c) ** 2 + (z - c) ** 2


# --- labels, parameters, initial densities ---------------------------------------------------
def test_species_follow_max_mass_and_label_every_output():
    model = CoagulationDiffusion(max_mass=4, diffusivity=0.01, alpha=20.0)
    assert isinstance(model, Model)
    assert model.species == ("1", "2", "3", "4")
    assert CoagulationDiffusion(max_mass=2).species == ("1", "2")
    sol = model.solve_continuum(1e-3, resolution=4)
    assert tuple(str(s) for s in sol["species"].values) == model.species
    assert list(sol.measure(1e-3)) == list(model.species)
    traj = model.simulate_particles(model.sample_particles(200, rng=0), 1e-4, rng=1)
    assert set(traj.measure(1e-4)) <= set(model.species)


@pytest.mark.parametrize("kwargs", [
    {},
    {"max_mass": 5, "diffusivity": [1.0, 0.5, 0.3, 0.2, 0.1], "alpha": 30.0, "initial_mass_fractions": (0.5, 0.5)},
    {"diffusivity": lambda m: 1.0 / m, "alpha": lambda n, m: 10.0 + 0 * n * m, "interaction": lambda r: 1 - r**2},
    {"max_mass": 6, "kernel": SeparableKernel.additive(6)},
    {"max_mass": 3, "kernel": np.full((3, 3), 2.0), "domain": "free", "initial_profile": "bump", "bump_width": 0.1},
    {"max_mass": 3, "kernel": lambda n, m: n + m},
])
def test_params_hold_every_constructor_argument_and_rebuild_an_equal_model(kwargs):
    import inspect

    model = CoagulationDiffusion(**kwargs)
    names = set(inspect.signature(CoagulationDiffusion).parameters)
    assert set(model.params) == names
    rebuilt = CoagulationDiffusion(**model.params)
    assert same_params(rebuilt.params, model.params)
    for k, v in kwargs.items():
        if callable(v) or isinstance(v, SeparableKernel):
            assert model.params[k] is v  # user callables and kernels kept as the objects themselves


def test_runs_with_different_alpha_record_different_attributes():
    a = CoagulationDiffusion(max_mass=3, alpha=30.0).solve_continuum(1e-4, resolution=2)
    b = CoagulationDiffusion(max_mass=3, alpha=100.0).solve_continuum(1e-4, resolution=2)
    assert a.attrs["param_alpha"] == 30.0 and b.attrs["param_alpha"] == 100.0
    for key in ("param_diffusivity", "param_interaction", "param_initial_mass_fractions", "param_kernel"):
        assert key in a.attrs


def test_initial_density_is_one_grid_density_per_class_in_species_order():
    model = CoagulationDiffusion(max_mass=4, initial_mass_fractions=(0.5, 0.25, 0.25), initial_profile="gaussian")
    grid = model.continuum_grid(8)
    dens = model.initial_density(grid)
    assert list(dens) == list(model.species)
    assert all(isinstance(d, GridDensity) for d in dens.values())
    np.testing.assert_allclose([d.mass for d in dens.values()], [5.0, 2.5, 2.5, 0.0], rtol=1e-13, atol=1e-15)


# --- initial= on every run method ------------------------------------------------------------
def test_continuum_initial_preset_as_grid_densities_is_bit_identical_and_callable_is_close():
    model = CoagulationDiffusion(max_mass=4, diffusivity=0.01, alpha=20.0, initial_profile="gaussian",
                                 initial_mass_fractions=(0.7, 0.3))
    ref = model.solve_continuum(0.01, resolution=16)
    grid = model.continuum_grid(16)
    preset = model.initial_density(grid)
    same = model.solve_continuum(0.01, initial=preset, resolution=16)
    np.testing.assert_array_equal(same.density.values, ref.density.values)
    one = GridDensity(sum(d.values for d in preset.values()), grid)  # one value: split by the mass fractions
    np.testing.assert_allclose(model.solve_continuum(0.01, initial=one, resolution=16).density.values,
                               ref.density.values, rtol=1e-14, atol=1e-14 * float(ref.density.max()))
    # the preset profile as a callable: cell averages (2-point Gauss rule) instead of point values, an
    # O(h²) difference (the bump is two cells wide at h = 1/16): the error falls by 4 from 16 to 32 cells
    errs = []
    for res in (16, 32):
        pre = model.solve_continuum(0.01, resolution=res).density.values
        sol = model.solve_continuum(0.01, initial=model._shape_density, resolution=res)
        errs.append(float(np.abs(sol.density.values - pre).max() / pre.max()))
    assert sol.attrs["solver_initial"] == "user"
    assert 3.5 < errs[0] / errs[1] < 4.5 and errs[1] < 6e-3, errs
    np.testing.assert_allclose(sol["total_mass"].values, model.total_density * (0.7 + 2 * 0.3), rtol=1e-12)


def test_continuum_initial_custom_per_class_data_conserve_mass_and_are_checked():
    model = CoagulationDiffusion(max_mass=3, diffusivity=0.01, alpha=20.0, initial_mass_fractions=(0.5, 0.5))
    initial = {"1": lambda x, y, z: np.exp(-_sum_squares(x, y, z) / 0.02),
               "2": lambda x, y, z: 1.0 + np.cos(2 * np.pi * x)}
    sol = model.solve_continuum(0.01, times=[0.0, 0.01], initial=initial, resolution=8)
    masses = sol.density.values[0].sum(axis=(1, 2, 3)) / 8**3
    np.testing.assert_allclose(masses, [5.0, 5.0, 0.0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sol["total_mass"].values, 15.0, rtol=1e-12)
    with pytest.raises(ValueError, match=r"missing \['2'\]"):
        model.solve_continuum(0.01, initial={"1": initial["1"]}, resolution=8)
    with pytest.raises(ValueError, match="not among the species"):
        model.solve_continuum(0.01, initial={**initial, "7": initial["1"]}, resolution=8)
    with pytest.raises(ValueError, match="positive and finite"):
        model.solve_continuum(0.01, initial=lambda x, y, z: 0 * x, resolution=8)
    with pytest.raises(ValueError, match="lives on"):
        model.solve_continuum(0.01, initial=GridDensity(np.ones((4, 4, 4)), model.continuum_grid(4)), resolution=8)
    with pytest.raises(TypeError, match="callable"):
        model.solve_continuum(0.01, initial="uniform", resolution=8)


def test_free_space_wrap_around_estimate_follows_user_data():
    free = CoagulationDiffusion(max_mass=2, domain="free", initial_profile="bump", bump_width=0.1, box=1.0)
    narrow = lambda x, y, z: np.exp(-_sum_squares(x, y, z) / (2 * 0.08**2))  # noqa: E731
    wide = lambda x, y, z: np.exp(-_sum_squares(x, y, z) / (2 * 0.2**2))  # noqa: E731
    free.solve_continuum(1e-3, initial=narrow, resolution=8)
    with pytest.raises(ValueError, match="wrap-around"):
        free.solve_continuum(1e-3, initial=wide, resolution=8)


def test_homogeneous_initial_vector():
    model = CoagulationDiffusion(max_mass=6, diffusivity=0.01, alpha=20.0)
    _ts, ref = model.solve_homogeneous(0.01)
    _, same = model.solve_homogeneous(0.01, initial=model.total_density * model.fractions)
    np.testing.assert_array_equal(same, ref)
    f0 = np.array([1.0, 2.0, 0.0, 0.5, 0.0, 0.0])
    _, f = model.solve_homogeneous(0.01, initial=f0)
    assert (np.arange(1, 7) * f[-1]).sum() == pytest.approx((np.arange(1, 7) * f0).sum(), rel=1e-13)
    for bad, err in (([1.0, 2.0], ValueError), ([1, -1, 0, 0, 0, 0], ValueError), ("abc", TypeError),
                     ([1, np.nan, 0, 0, 0, 0], ValueError), ([1j, 0, 0, 0, 0, 0], TypeError)):
        with pytest.raises(err, match="initial class densities"):
            model.solve_homogeneous(0.01, initial=bad)


def test_sample_particles_from_a_callable_and_a_grid_density():
    """A Gaussian of standard deviation 0.1 about (0.3, 0.5, 0.6) for monomers and the uniform density
    for dimers: the sample means lie within 5 standard errors of the density's means (the cell
    averaging at 64 cells per axis moves the variance by h²/12 = 2e-5, far inside the band)."""
    model = CoagulationDiffusion(max_mass=3, initial_mass_fractions=(0.5, 0.5))
    gauss = lambda x, y, z: np.exp(-((x - 0.3) ** 2 + (y - 0.5) ** 2 + (z - 0.6) ** 2) / (2 * 0.01))  # noqa: E731
    grid = model.continuum_grid(16)
    flat = GridDensity(np.full(grid.shape, 5.0), grid)
    n = 4000
    pos, mass = model.sample_particles(n, rng=3, initial={"1": gauss, "2": flat})
    again = model.sample_particles(n, rng=3, initial={"1": gauss, "2": flat})
    np.testing.assert_array_equal(pos, again[0])
    np.testing.assert_array_equal(mass, model.sample_particles(n, rng=3)[1])  # masses drawn as for the preset
    mono, di = pos[mass == 1], pos[mass == 2]
    np.testing.assert_array_less(np.abs(mono.mean(axis=0) - [0.3, 0.5, 0.6]), 5 * 0.1 / np.sqrt(len(mono)))
    np.testing.assert_array_less(np.abs(mono.std(axis=0) / 0.1 - 1), 5 / np.sqrt(2 * len(mono)))
    np.testing.assert_array_less(np.abs(di.mean(axis=0) - 0.5), 5 * np.sqrt(1 / 12 / len(di)))
    with pytest.raises(ValueError, match="mass"):  # a GridDensity must carry the class mass Z/2 = 5
        model.sample_particles(n, rng=3, initial={"1": gauss, "2": GridDensity(np.ones(grid.shape), grid)})


# --- the old keywords ------------------------------------------------------------------------
def test_old_keywords_warn_and_give_the_same_numbers():
    model = CoagulationDiffusion(max_mass=4, diffusivity=0.01, alpha=20.0, initial_profile="gaussian")
    ref = model.solve_continuum(2e-3, resolution=4, sums="direct", stepper="dormand_prince_54", dt=1e-3)
    with pytest.warns(DeprecationWarning, match="sums="):
        old = model.solve_continuum(2e-3, resolution=4, method="direct", stepper="dormand_prince_54", dt=1e-3)
    np.testing.assert_array_equal(old.density.values, ref.density.values)
    for spelling in ("dp5", "dp54"):
        with pytest.warns(DeprecationWarning, match="'dormand_prince_54'"):
            old = model.solve_continuum(2e-3, resolution=4, sums="direct", stepper=spelling, dt=1e-3)
        np.testing.assert_array_equal(old.density.values, ref.density.values)
    with pytest.warns(DeprecationWarning, match="use stepper="):  # the stepper under its pre-issue-15 keyword
        old = model.solve_continuum(2e-3, resolution=4, sums="direct", scheme="dormand_prince_54", dt=1e-3)
    np.testing.assert_array_equal(old.density.values, ref.density.values)
    with pytest.raises(ValueError, match="scheme must be 'spectral'"):
        model.solve_continuum(2e-3, resolution=4, scheme="finite_volume")
    with pytest.warns(DeprecationWarning, match="sums="):
        _, f = model.solve_homogeneous(1e-3, method="fft")
    np.testing.assert_array_equal(f, model.solve_homogeneous(1e-3, sums="fft")[1])
    with pytest.warns(DeprecationWarning, match="sums="):
        solve_homogeneous(np.ones((3, 3)), np.eye(3)[0], 1.0, method="direct")
    with pytest.raises(TypeError, match="sums= only"):
        model.solve_homogeneous(1e-3, sums="fft", method="direct")
    with pytest.raises(TypeError, match=r"t_end first.*solve_continuum\(0.002, resolution=4\)"):
        model.solve_continuum(4, 2e-3)  # the old positional (resolution, t_end) call is not silently misread
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        model.solve_continuum(2e-3, resolution=4)  # the new spelling is silent


# --- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["max_mass", "diffusivity", "alpha", "box", "total_density", "bump_width"])
@pytest.mark.parametrize("value, error", [("1.0", TypeError), (None, TypeError), (1 + 2j, TypeError),
                                          (float("nan"), ValueError)])
def test_numbers_as_strings_none_complex_nan_are_refused_naming_the_argument(name, value, error):
    if name == "bump_width" and value is None:
        return  # None is the default (box/8)
    with pytest.raises(error, match=name):
        CoagulationDiffusion(**{name: value})


def test_kernels_that_do_not_fit_the_mass_classes_are_refused():
    f = np.ones((6, 2))
    for kernel in (np.ones((4, 4)), np.ones((8, 8)), SeparableKernel.constant(4)):
        with pytest.raises(ValueError, match=r"kernel must have shape \(6, 6\).*max_mass=6.*got \((4|8), (4|8)\)"):
            coagulation_operator(f, kernel, "direct")
        with pytest.raises(ValueError, match=r"kernel must have shape \(6, 6\) for max_mass=6"):
            CoagulationDiffusion(max_mass=6, kernel=kernel)
    n = np.arange(1, 5)
    for kernel, word in ((np.outer(n, n + 1.0), "symmetric"), (-np.ones((4, 4)), "non-negative"),
                         (np.full((4, 4), np.nan), "finite"), (lambda a, b: a - b, "non-negative"),
                         (SeparableKernel([n], [np.ones(4)]), "symmetric")):
        with pytest.raises(ValueError, match=word):
            CoagulationDiffusion(max_mass=4, kernel=kernel)
    with pytest.raises(TypeError, match="kernel"):
        CoagulationDiffusion(max_mass=4, kernel="smoluchowski")


def test_bad_diffusivity_and_interaction_profiles():
    for d in ([1.0, 2.0], [1.0, 0.0, 1.0, 1.0], [1.0, np.inf, 1.0, 1.0], lambda m: -m):
        with pytest.raises(ValueError, match="diffusivity"):
            CoagulationDiffusion(max_mass=4, diffusivity=d)
    with pytest.raises(TypeError, match="diffusivity"):
        CoagulationDiffusion(max_mass=4, diffusivity=["a", "b", "c", "d"])
    for prof, word in ((lambda r: r - 0.5, "non-negative"), (lambda r: 0 * r, "positive integral"),
                       (lambda r: np.full_like(r, np.nan), "finite")):
        with pytest.raises(ValueError, match=word):
            CoagulationDiffusion(interaction=prof)
    with pytest.raises(ValueError, match="interaction"):
        CoagulationDiffusion(interaction="gaussian")
    with pytest.raises(TypeError, match="initial_mass_fractions"):
        CoagulationDiffusion(initial_mass_fractions="monodisperse")


def test_sizes_that_do_not_fit_in_memory_and_empty_states_are_refused_before_any_work():
    model = CoagulationDiffusion(max_mass=4)
    for n in (2**63, 2**40, 10**12):
        with pytest.raises(ValueError, match="n"):
            model.sample_particles(n, rng=0)
    with pytest.raises(ValueError, match=r"resolution=4096.*GiB"):
        model.solve_continuum(1e-3, resolution=4096)
    with pytest.raises(ValueError, match=r"max_mass=.*GiB"):  # mass-dependent d: an (M, M) kernel table
        CoagulationDiffusion(max_mass=10**6, diffusivity=lambda m: 1.0 / m)
    with pytest.raises(ValueError, match=r"max_mass=.*GiB"):
        CoagulationDiffusion(max_mass=10**11)  # even its O(M) vectors
    with pytest.raises(ValueError, match="GiB"):
        SeparableKernel.constant(2**40)
    with pytest.raises(ValueError, match="empty"):
        model.simulate_particles((np.zeros((0, 3)), np.zeros(0, dtype=int)), 1e-3)
    with pytest.raises(ValueError, match="shape"):
        model.simulate_particles((np.zeros((5, 3)), np.ones(4, dtype=int)), 1e-3)
    with pytest.raises(TypeError, match="state"):
        model.simulate_particles(np.zeros((5, 4)), 1e-3)
    for bad, err in (("1e-3", TypeError), (None, TypeError), (float("nan"), ValueError), (-1.0, ValueError)):
        with pytest.raises(err, match="t_end"):
            model.solve_continuum(bad, resolution=4)
    with pytest.raises(ValueError, match="sums"):
        model.solve_continuum(1e-3, resolution=4, sums="gpu")
    with pytest.raises(TypeError, match="resolution"):
        model.solve_continuum(1e-3, resolution="16")


# --- custom physics: the coagulation kernel ----------------------------------------------------
def test_a_callable_equal_to_the_preset_kernel_reproduces_the_preset_runs():
    preset = CoagulationDiffusion(max_mass=6, diffusivity=lambda m: 0.05 / m, alpha=50.0, initial_profile="gaussian")
    k = preset.kernel()
    user = CoagulationDiffusion(max_mass=6, diffusivity=lambda m: 0.05 / m, alpha=50.0, initial_profile="gaussian",
                                kernel=lambda n, m: k[n - 1, m - 1])
    np.testing.assert_array_equal(user.kernel(), k)
    a = preset.solve_continuum(0.01, resolution=8).density.values
    b = user.solve_continuum(0.01, resolution=8).density.values
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-14 * a.max())
    np.testing.assert_allclose(user.solve_homogeneous(0.01)[1], preset.solve_homogeneous(0.01)[1], rtol=1e-14)
    # the particles: the hazard factors κ recovered by inverting the cell problem (round-off; pairs
    # whose product would exceed M never react and carry κ = 0)
    reach = np.add.outer(np.arange(1, 7), np.arange(1, 7)) <= 6
    np.testing.assert_allclose(user.reaction_strengths()[reach], preset.reaction_strengths()[reach], rtol=1e-10)
    assert np.all(user.reaction_strengths()[~reach] == 0)


def _exact_homogeneous(kind, t, k):
    if kind == "constant":  # K = 2: f_n = t^{n-1} / (1 + t)^{n+1}
        return t ** (k - 1) / (1 + t) ** (k + 1)
    if kind == "additive":  # K = n + m
        th = 1 - np.exp(-t)
        return np.exp(-t) * np.exp((k - 1) * np.log(k) - gammaln(k + 1) + (k - 1) * np.log(th) - k * th)
    return np.exp((k - 2) * np.log(k) - gammaln(k + 1) + (k - 1) * np.log(t) - k * t)  # K = n m, t < 1


@pytest.mark.parametrize("kind, c, t", [("constant", 2.0, 1.0), ("additive", 1.0, 0.8), ("multiplicative", 1.0, 0.6)])
@pytest.mark.parametrize("form", ["separable", "matrix", "callable"])
def test_user_kernels_give_the_exact_homogeneous_solutions(kind, c, t, form):
    """Monodisperse f_1(0) = 1 (Z = L^3 = 1), M = 400: f_n(t), n ≤ 10, against the classical exact
    solutions to 1e-7 relative, for the kernel given as a SeparableKernel, an (M, M) table or K(n, m)."""
    big_m = 400
    sep = getattr(SeparableKernel, kind)(big_m, c)
    kernel = {"separable": sep, "matrix": sep.matrix() if form == "matrix" else None,
              "callable": {"constant": lambda n, m: c + 0.0 * n * m, "additive": lambda n, m: c * (n + m),
                           "multiplicative": lambda n, m: c * n * m}[kind]}[form]
    model = CoagulationDiffusion(max_mass=big_m, total_density=1.0, kernel=kernel)
    _, f = model.solve_homogeneous(t)
    k = np.arange(1, 11)
    np.testing.assert_allclose(f[-1][:10], _exact_homogeneous(kind, t, k), rtol=1e-7)
    assert abs((np.arange(1, big_m + 1) * f[-1]).sum() - 1.0) < 1e-11  # the FFT sums' bound (other tests)


def test_separable_kernel_in_the_pde_is_never_expanded(monkeypatch):
    """K = 2 (rank 1) as a SeparableKernel: the PDE's reaction step and step rule go through the factors
    (the matrix method is disabled) and agree with the same kernel as a table to round-off."""
    big_m = 40
    dense = CoagulationDiffusion(max_mass=big_m, diffusivity=0.01, kernel=np.full((big_m, big_m), 2.0),
                                 initial_profile="gaussian")
    ref = dense.solve_continuum(0.02, resolution=4, sums="direct")

    def _no_matrix(self):
        raise AssertionError("the M x M matrix of a separable kernel was formed")

    model = CoagulationDiffusion(max_mass=big_m, diffusivity=0.01, kernel=SeparableKernel.constant(big_m, 2.0),
                                 initial_profile="gaussian")
    monkeypatch.setattr(SeparableKernel, "matrix", _no_matrix)
    sol = model.solve_continuum(0.02, resolution=4, sums="fft")
    assert sol.attrs["solver_coagulation_sums"] == "fft"
    assert sol.attrs["solver_dt"] == pytest.approx(ref.attrs["solver_dt"], rel=1e-14)
    np.testing.assert_allclose(sol.density.values, ref.density.values, rtol=0, atol=1e-13 * float(ref.density.max()))
    big = CoagulationDiffusion(max_mass=20000, total_density=1.0, kernel=SeparableKernel.constant(20000))
    _, f = big.solve_homogeneous(1.0)  # auto: FFT sums at M >= 256; a 20000² table would be 3.2 GB
    np.testing.assert_allclose(f[-1][:10], _exact_homogeneous("constant", 0.5, np.arange(1, 11)), rtol=1e-8)


def test_user_kernel_for_the_particles_inverts_the_cell_problem_and_refuses_unreachable_rates():
    """κ from K by inverting the cell problem, then K again from κ by :func:`coagulation_rates`: the
    round trip to 1e-10; a kernel at the diffusion-limited rate 4π(d(n) + d(m)) has no κ."""
    d = np.array([1.0, 0.5, 0.25, 0.2])
    kern = lambda n, m: 3.0 * (1.0 / n + 1.0 / m)  # noqa: E731 - K / (d(n) + d(m)) ≤ 3.75 < 4π
    model = CoagulationDiffusion(max_mass=4, diffusivity=d, kernel=kern)
    kappa = model.reaction_strengths()
    back = coagulation_rates(4, lambda m: d[m - 1], lambda n, m: kappa[n - 1, m - 1], capture_function_uniform_ball,
                             "unordered")
    reach = np.add.outer(np.arange(1, 5), np.arange(1, 5)) <= 4
    np.testing.assert_allclose(back[reach], model.kernel()[reach], rtol=1e-10)
    state = model.sample_particles(400, rng=0)
    traj = model.simulate_particles(state, 2e-3, rng=1)
    assert traj.info["events"] > 0 and traj.info["total_mass"] == int(state[1].sum())
    too_fast = CoagulationDiffusion(max_mass=4, diffusivity=1.0, kernel=np.full((4, 4), 8 * np.pi))
    too_fast.solve_homogeneous(1e-3)  # the continuum takes any kernel
    with pytest.raises(ValueError, match="not realisable by the particles"):
        too_fast.simulate_particles(too_fast.sample_particles(200, rng=0), 1e-4)


# --- custom physics: mass-dependent diffusivity and the interaction profile ---------------------
def test_mass_dependent_diffusivity_pde_is_the_exact_heat_flow_without_reactions():
    """Zero kernel: each class solves the heat equation with its own d(m); Gaussian data of width w on
    the torus stay periodised Gaussians of variance w² + 2 d(m) t (exact, images summed to |k| ≤ 4)."""
    d = np.array([1.0, 0.3, 0.05])
    model = CoagulationDiffusion(max_mass=3, diffusivity=d, kernel=np.zeros((3, 3)), initial_profile="bump",
                                 initial_mass_fractions=(0.5, 0.3, 0.2), bump_width=0.1)
    t = 0.02
    sol = model.solve_continuum(t, times=[t / 2, t], resolution=32)
    grid = model.continuum_grid(32)
    x, y, z = grid.mesh()
    for k, tt in enumerate((t / 2, t)):
        for m in range(3):
            var = 0.1**2 + 2 * d[m] * tt
            g = 0.0
            for sx in range(-4, 5):
                for sy in range(-4, 5):
                    for sz in range(-4, 5):
                        g = g + np.exp(-((x - 0.5 + sx) ** 2 + (y - 0.5 + sy) ** 2 + (z - 0.5 + sz) ** 2) / (2 * var))
            exact = model.total_density * model.fractions[m] * g / (2 * np.pi * var) ** 1.5
            np.testing.assert_allclose(sol.density.values[k, m], exact, rtol=0, atol=1e-10 * exact.max())


def test_mass_dependent_diffusivity_particles_have_the_generator_scale_per_class():
    """Zero kernel, d = (1, 0.4, 0.1) as an array, free space: per class, E|Δx|² = 6 d(m) t; each mean
    of 3 n_m squared standard normals lies within 5 standard deviations, sqrt(2 / (3 n_m)) relative, of 1."""
    d = np.array([1.0, 0.4, 0.1])
    model = CoagulationDiffusion(max_mass=3, diffusivity=d, kernel=np.zeros((3, 3)), domain="free",
                                 initial_profile="bump", box=2.0, bump_width=0.2, initial_mass_fractions=(1, 1, 1))
    pos, mass = model.sample_particles(3000, rng=4)
    t = 0.01
    tr = model.simulate_particles((pos, mass), t, rng=5, dt=t / 7)
    assert tr.info["events"] == 0
    disp2 = ((tr.positions[-1] - pos) ** 2).sum(axis=1)
    for m in (1, 2, 3):
        sel = mass == m
        ratio = disp2[sel].mean() / (6 * d[m - 1] * t)
        assert abs(ratio - 1) < 5 * np.sqrt(2 / (3 * sel.sum())), (m, ratio)


def test_interaction_profile_sets_the_capture_function_and_the_kernel():
    """An unnormalised constant profile is the ball: the kernel from ODE shooting equals the closed form
    to 1e-6; a smooth profile gives its own capture function (reference values of the shooting)."""
    ball = CoagulationDiffusion(max_mass=3, diffusivity=lambda m: 1.0 / m, alpha=40.0)
    flat = CoagulationDiffusion(max_mass=3, diffusivity=lambda m: 1.0 / m, alpha=40.0,
                                interaction=lambda r: np.where(r <= 1, 2.0, 0.0))
    np.testing.assert_allclose(flat.kernel(), ball.kernel(), rtol=1e-6)
    smooth = CoagulationDiffusion(interaction=lambda r: np.clip(1 - r**2, 0, None) ** 2)
    assert float(smooth.capture(1.0)) == pytest.approx(0.885441, rel=1e-6)
    assert float(ball.capture(1.0)) == pytest.approx(0.912921, rel=5e-6)
    with pytest.raises(ValueError, match="non-negative"):
        ball.capture(-1.0)
    assert ball.capacity() == 4 * np.pi and smooth.capacity() == pytest.approx(4 * np.pi, rel=1e-3)  # support tabulated
    # a user kernel with a user profile: the particles' κ from inverting the shooting (the flat
    # profile is the ball, so κ must be the ball's to the shooting's accuracy)
    k = ball.kernel()
    user = CoagulationDiffusion(max_mass=3, diffusivity=lambda m: 1.0 / m,
                                interaction=lambda r: np.where(r <= 1, 2.0, 0.0), kernel=k)
    reach = np.add.outer(np.arange(1, 4), np.arange(1, 4)) <= 3
    np.testing.assert_allclose(user.reaction_strengths()[reach], ball.reaction_strengths()[reach], rtol=1e-5)
