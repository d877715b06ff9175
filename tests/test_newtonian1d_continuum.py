"""Continuum solvers of paper 002 (system (5)): quantile (pseudo-inverse) flow and upwind finite
volumes. Exact separated-support solution (theory page 002), structure (§5.4), measured orders,
agreement of the two solvers and of particles with the quantile flow."""

import itertools

import numpy as np
import pytest

from meanfield.models.newtonian1d import Newtonian1D
from meanfield.rates import fit_rate


def _cdf(ds, t, sp):
    """Breakpoints and values of the piecewise-linear CDF of a continuum solution."""
    meas = ds.measure(t, species=sp)
    if hasattr(meas, "edges"):
        return meas.edges, np.concatenate([[0.0], np.cumsum(meas.masses)])
    g = meas.grid
    return g.edges[0], np.concatenate([[0.0], np.cumsum(meas.values * g.spacing[0])])


def _empirical_cdf_pts(x):
    """Step CDF of atoms 1/n at sorted x as a limit of piecewise-linear data (vertical jumps)."""
    n = x.size
    pts = np.repeat(x, 2)
    vals = np.repeat(np.arange(n + 1) / n, 2)[1:-1]
    return pts, vals


def _w1_private(a, b):
    """Test-only W1 = int |F_a - F_b| for piecewise-linear CDFs given by (breakpoints, values).
    (The public implementation is meanfield.metrics.wasserstein once it lands on main.)"""
    lo = min(a[0][0], b[0][0]) - 1.0
    hi = max(a[0][-1], b[0][-1]) + 1.0
    pts = np.unique(np.concatenate([a[0], b[0], [lo, hi]]))

    def ev(c, p):
        # right-continuous evaluation handles vertical jumps (repeated breakpoints)
        k = np.searchsorted(c[0], p, side="right")
        out = np.interp(p, c[0], c[1], left=0.0, right=1.0)
        dup = np.r_[False, np.diff(c[0]) == 0]
        return np.where(np.isin(p, c[0][dup]), c[1][np.minimum(k, c[0].size) - 1], out)

    eps = 1e-300
    d0 = ev(a, pts[:-1]) - ev(b, pts[:-1])
    mid = 0.5 * (pts[1:] + pts[:-1])
    # left limits at the right end of each piece
    d1 = 2 * (ev(a, mid) - ev(b, mid)) - d0
    h = np.diff(pts)
    same = d0 * d1 >= 0
    v = np.where(same, h * (np.abs(d0) + np.abs(d1)) / 2,
                 h * (d0**2 + d1**2) / (2 * (np.abs(d0) + np.abs(d1)) + eps))
    return float(v.sum())


def test_private_w1_helper_on_known_values():
    a = (np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    b = (np.array([1.0, 2.0]), np.array([0.0, 1.0]))
    assert _w1_private(a, b) == pytest.approx(1.0, rel=1e-14)
    n = 10  # atoms at midpoints vs uniform on [0,1]: W1 = 1/(4n)
    x = (np.arange(n) + 0.5) / n
    assert _w1_private(_empirical_cdf_pts(x), a) == pytest.approx(1 / (4 * n), rel=1e-12)


@pytest.mark.parametrize("profile", ["uniform", "bump"])
def test_quantile_flow_exact_for_separated_supports(profile):
    # theory page 002: X(s,t) = X0(s) + 2 s t, Y(s,t) = Y0(s) - 2(1 - s) t until contact (gap/4)
    m = Newtonian1D((0.0, 1.0), (2.0, 3.0), profile=profile)
    ts = [0.1, 0.2, 0.25]
    sol = m.solve_continuum(0.25, ts, resolution=50, scheme="quantile")
    s = np.linspace(0, 1, 51)
    for k, t in enumerate(ts):
        np.testing.assert_allclose(sol.edges.values[k, 0], m.quantile0("rho", s) + 2 * s * t, atol=1e-13)
        np.testing.assert_allclose(sol.edges.values[k, 1], m.quantile0("eta", s) - 2 * (1 - s) * t, atol=1e-13)
    en = sol.energy.values  # F(t) = F(0) - 8t/3 for separated data; uniform: 5/3 - 8t/3
    if profile == "uniform":
        np.testing.assert_allclose(en, 5 / 3 - 8 * np.array(ts) / 3, atol=1e-13)


def test_structure_mass_positivity_com_energy_support():
    m = Newtonian1D()
    ts = np.linspace(0, 1.0, 11)
    fv = m.solve_continuum(1.0, ts, resolution=200, scheme="finite_volume")
    q = m.solve_continuum(1.0, ts, resolution=200, scheme="quantile")
    dx = 1.5 / 200
    mass = fv.density.sum("x").values * dx
    np.testing.assert_allclose(mass, 1.0, rtol=0, atol=1e-13)
    assert np.all(fv.density.values >= 0)
    assert np.all(np.diff(q.edges.values, axis=-1) > 0)  # positivity = node order; mass 1/M per cell
    for sol in (fv, q):
        com = sol.centre_of_mass.values.sum(1)
        np.testing.assert_allclose(com, com[0], atol=1e-12)
        assert np.all(np.diff(sol.energy.values) < 0)
    assert q.edges.values.min() >= -1e-14 and q.edges.values.max() <= 1.5 + 1e-14  # hull kept


def test_quantile_space_order_two_overlapping():
    m = Newtonian1D()
    ref = m.solve_continuum(0.5, [0.5], resolution=1024, scheme="quantile")
    Ms = [32, 64, 128, 256]
    errs = [_w1_private(_cdf(m.solve_continuum(0.5, [0.5], resolution=M, scheme="quantile"), 0.5, "rho"),
                        _cdf(ref, 0.5, "rho"))
            for M in Ms]
    fit = fit_rate(1 / np.array(Ms), errs)
    assert 1.8 <= fit.slope <= 2.2, fit


def test_finite_volume_space_order_one_and_agreement_with_quantile():
    m = Newtonian1D()
    ref = m.solve_continuum(0.5, [0.5], resolution=1024, scheme="quantile")
    Ms = [64, 128, 256, 512]
    errs = []
    for M in Ms:
        f = m.solve_continuum(0.5, [0.5], resolution=M, scheme="finite_volume")
        errs.append(sum(_w1_private(_cdf(f, 0.5, s), _cdf(ref, 0.5, s)) for s in ("rho", "eta")))
    fit = fit_rate(1.5 / np.array(Ms), errs)
    assert 0.85 <= fit.slope <= 1.15, fit
    assert errs[-1] < 2e-3  # the two solvers agree at the FV order, constant ~ 1.7 dx


def test_finite_volume_time_order_three():
    m = Newtonian1D()
    ref = m.solve_continuum(0.5, [0.5], resolution=64, cfl=0.05, scheme="finite_volume")
    cf = [0.8, 0.4, 0.2, 0.1]
    errs = [np.abs(m.solve_continuum(0.5, [0.5], resolution=64, cfl=c, scheme="finite_volume").density.values
                   - ref.density.values).max() for c in cf]
    fit = fit_rate(cf, errs)
    assert 2.7 <= fit.slope <= 3.3, fit


def test_particles_agree_with_quantile_flow_first_order():
    # the particle system is the step-function Galerkin version of the quantile flow (theory page 002);
    # with midpoint atomisation W1(particles, continuum) = O(1/N) (theory page 002)
    m = Newtonian1D()
    ref = m.solve_continuum(0.5, [0.5], resolution=1024, scheme="quantile")
    Ns = [32, 64, 128, 256]
    errs = []
    for n in Ns:
        tr = m.simulate_particles(m.sample_particles(n), t_end=0.5, times=[0.5])
        errs.append(_w1_private(_empirical_cdf_pts(tr.info["x"][0]), _cdf(ref, 0.5, "rho")))
    fit = fit_rate(1 / np.array(Ns), errs)
    assert 0.9 <= fit.slope <= 1.1, fit


def test_separated_uniform_particles_exact_w1_formula():
    # theory page 002: midpoint atomisation of 1_[0,1] follows X((i-1/2)/N, t) and W1 = (1+2t)/(4N)
    m = Newtonian1D((0.0, 1.0), (2.0, 3.0))
    n, t = 40, 0.2
    tr = m.simulate_particles(m.sample_particles(n), t_end=t, times=[t])
    exact = (np.array([0.0, 1.0 + 2 * t]), np.array([0.0, 1.0]))
    assert _w1_private(_empirical_cdf_pts(tr.info["x"][0]), exact) == pytest.approx((1 + 2 * t) / (4 * n), rel=1e-10)


@pytest.mark.parametrize("kw, match", [({"scheme": "spectral"}, "scheme must be"), ({"cfl": 1.5}, "cfl must lie"),
                                       ({"resolution": 1}, "resolution must be"),
                                       ({"stepper": "rk4"}, "stepper must be one of"),
                                       ({"flux": "muscl"}, "flux is only used by scheme='finite_volume'"),
                                       ({"scheme": "finite_volume", "flux": "weno"}, "flux must be one of"),
                                       ({"scheme": "finite_volume", "flux": "muscl", "cfl": 0.6}, "cfl must lie")])
def test_continuum_bad_input(kw, match):
    args = {"resolution": 16, "t_end": 0.1, **kw}
    with pytest.raises(ValueError, match=match):
        Newtonian1D().solve_continuum(**args)


def test_model_bad_parameters():
    with pytest.raises(ValueError, match="rho_support must be an interval"):
        Newtonian1D(rho_support=(1.0, 0.0))
    with pytest.raises(ValueError, match="profile must be one of"):
        Newtonian1D(profile="gauss")


def test_quantile_time_order_two_kinked_rhs():
    # SSP-RK3 on a right-hand side 2s - 2H(X) that is only piecewise linear in X (kinks whenever a
    # node of X passes a node of Y): each kink crossing costs O(dt^2), so the global order is 2,
    # not 3 (measured 2.17, CI [2.01, 2.34], with 5 step sizes)
    m = Newtonian1D(profile="bump")
    ref = m.solve_continuum(0.5, [0.5], resolution=32, dt_max=1 / 16384, cfl=0.99, scheme="quantile")
    dts = [1 / 128, 1 / 256, 1 / 512, 1 / 1024]
    errs = [np.abs(m.solve_continuum(0.5, [0.5], resolution=32, dt_max=dt, cfl=0.99, scheme="quantile").edges.values
                   - ref.edges.values).max() for dt in dts]
    fit = fit_rate(dts, errs)
    assert 1.8 <= fit.slope <= 2.5, fit


@pytest.mark.parametrize("method", ["quantile", "finite_volume"])
def test_dataset_netcdf_roundtrip_and_measure(method, tmp_path):
    import xarray as xr

    sol = Newtonian1D().solve_continuum(0.2, [0.1, 0.2], resolution=32, scheme=method)
    p = tmp_path / "sol.nc"
    sol.to_netcdf(p)
    back = xr.load_dataset(p)
    xr.testing.assert_identical(sol.drop_attrs() if hasattr(sol, "drop_attrs") else sol,
                                back.drop_attrs() if hasattr(back, "drop_attrs") else back)
    mu = back.measure(0.2, species="eta")
    assert mu.mass == pytest.approx(1.0, abs=1e-13)
    assert back.attrs["solver_method"] == method and list(back.attrs["param_rho_support"]) == [0.0, 1.0]


def test_particle_velocities_are_the_pseudo_inverse_flow_on_step_functions():
    # theory page 002/§2.5/§6.3: for the step-function quantile X^N(s) = x_i on ((i-1)/N, i/N], the
    # pseudo-inverse flow d_t X = 2s - 2H(X) evaluated at the cell midpoint s_i = (i - 1/2)/N, with H
    # the CDF of the step-function Y^N (i.e. of the y-atoms), is exactly the particle velocity
    g = np.random.default_rng(4)
    n = 300
    x, y = np.sort(g.random(n)), np.sort(0.4 + g.random(n))
    m = Newtonian1D()
    for t in (0.05, 0.2, 0.7):
        tr = m.simulate_particles((x, y), t_end=t, times=[t], record_events=False)
        X, Y = tr.info["x"][0], tr.info["y"][0]
        assert np.intersect1d(X, Y).size == 0  # generic time: no x-y coincidence
        s = (np.arange(1, n + 1) - 0.5) / n
        H = np.searchsorted(Y, X) / n  # CDF of the y-atoms at x_i
        F = np.searchsorted(X, Y) / n
        np.testing.assert_allclose(tr.info["velocity_x"], 2 * s - 2 * H, rtol=0, atol=1e-14)
        np.testing.assert_allclose(tr.info["velocity_y"], 2 * s - 2 * F, rtol=0, atol=1e-14)


def test_particles_track_continuum_quantiles_at_midpoints_second_order():
    # the particle system is the pseudo-inverse flow restricted to step functions: x_i(t) follows
    # the continuum quantile X((i - 1/2)/N, t). For the overlapping uniform data the nodal error
    # max_i |x_i(t) - X((i-1/2)/N, t)| (both species) is measured second order (slope -1.99,
    # CI [-2.00, -1.99] for N = 32..512), although W1 between the atoms and the density is only
    # first order (that is quantisation, not dynamics). The bump profile gives a lower, unsettled
    # slope (about -1.35 over the same N), so the band is asserted for uniform data only.
    m = Newtonian1D()
    T = 0.5
    ref = m.solve_continuum(T, [T], resolution=2048, scheme="quantile")
    s = np.linspace(0.0, 1.0, 2049)
    Xr, Yr = ref.edges.values[0, 0], ref.edges.values[0, 1]
    Ns = [32, 64, 128, 256]
    errs = []
    for n in Ns:
        tr = m.simulate_particles(m.sample_particles(n), T, [T], record_events=False)
        sm = (np.arange(1, n + 1) - 0.5) / n
        errs.append(max(np.abs(tr.info["x"][0] - np.interp(sm, s, Xr)).max(),
                        np.abs(tr.info["y"][0] - np.interp(sm, s, Yr)).max()))
    fit = fit_rate(Ns, errs)
    assert -2.2 <= fit.slope <= -1.8, fit


# --- time stepping through meanfield.solvers.timestepping.integrate ------------------------------------------
@pytest.mark.parametrize("method", ["quantile", "finite_volume"])
@pytest.mark.parametrize("dt_max", [0.0, -0.01, np.nan, np.inf, 1e-300])
def test_continuum_refuses_bad_dt_max_before_any_work(method, dt_max, monkeypatch):
    # dt_max = 0 or 1e-300 used to hang (the FV solver ignored dt_max altogether); now a ValueError
    # naming dt_max, raised before the initial data are even built
    def no_work(*args, **kwargs):
        raise AssertionError("work started before dt_max was checked")

    monkeypatch.setattr(Newtonian1D, "quantile0", no_work)
    monkeypatch.setattr(Newtonian1D, "initial_density", no_work)
    with pytest.raises(ValueError, match="dt_max"):
        Newtonian1D().solve_continuum(1.0, resolution=64, dt_max=dt_max, scheme=method)


def test_finite_volume_honours_dt_max_and_lands_on_output_times():
    m = Newtonian1D()
    dt = 1 / 1024  # below the CFL step 0.9 dx / 4 = 0.0053 at 64 cells
    free = m.solve_continuum(0.5, [0.1, 0.5], resolution=64, scheme="finite_volume")
    capped = m.solve_continuum(0.5, [0.1, 0.5], resolution=64, dt_max=dt, scheme="finite_volume")
    assert free.attrs["solver_dt"] == 0.9 * (1.5 / 64) / 4
    assert capped.attrs["solver_dt"] == dt and capped.attrs["solver_step_rule"] == "fixed"
    # 0.1 = 102.4 dt and 0.4 = 409.6 dt: each output time is reached by one shortened step
    assert capped.attrs["solver_steps"] == 103 + 410
    assert np.abs(capped.density.values - free.density.values).max() > 0  # the cap changes the run
    np.testing.assert_allclose(capped.density.sum("x").values * 1.5 / 64, 1.0, rtol=0, atol=1e-13)


@pytest.mark.parametrize("method", ["quantile", "finite_volume"])
def test_solver_attributes_record_scheme_order_and_step_rule(method):
    sol = Newtonian1D().solve_continuum(0.2, [0.1, 0.2], resolution=32, stepper="ssp_rk2", scheme=method)
    assert sol.attrs["solver_stepper"] == "ssp_rk2" and sol.attrs["solver_order"] == 2
    assert sol.attrs["solver_step_rule"] == ("quantile_cfl" if method == "quantile" else "fixed")
    assert sol.attrs["solver_steps"] > 0


def _successive_differences(run, dts):
    """max |u(dt) - u(dt/2)| for the runs at ``dts`` (halving): same order as the error."""
    outs = [run(dt) for dt in dts]
    return [np.abs(a - b).max() for a, b in itertools.pairwise(outs)]


@pytest.mark.parametrize("scheme", ["ssp_rk3", "ssp_rk2", "forward_euler"])
def test_finite_volume_time_order_is_the_declared_order_of_each_scheme(scheme):
    # the upwind right-hand side is Lipschitz and piecewise smooth in time here: measured slopes of
    # the successive differences 3.006, 2.002, 1.014 (dt_max = 1/512 .. 1/8192, 64 cells)
    from meanfield.models.newtonian1d import SCHEMES

    m = Newtonian1D()
    dts = [1 / 512, 1 / 1024, 1 / 2048, 1 / 4096, 1 / 8192]
    diffs = _successive_differences(
        lambda dt: m.solve_continuum(0.5, [0.5], resolution=64, dt_max=dt, stepper=scheme,
                                     scheme="finite_volume").density.values,
        dts)
    fit = fit_rate(dts[:-1], diffs)
    assert abs(fit.slope - SCHEMES[scheme].order) <= 0.15, fit


@pytest.mark.parametrize("scheme", ["ssp_rk2", "forward_euler"])
def test_quantile_time_order_of_lower_order_schemes(scheme):
    # SSP-RK2 and forward Euler reach their declared orders 2 and 1 (measured 1.98 and 1.007); SSP-RK3
    # is held at 2 (2.03) by the kinks of the right-hand side (test_quantile_time_order_two_kinked_rhs)
    from meanfield.models.newtonian1d import SCHEMES

    m = Newtonian1D(profile="bump")
    dts = [1 / 128, 1 / 256, 1 / 512, 1 / 1024, 1 / 2048]
    diffs = _successive_differences(
        lambda dt: m.solve_continuum(0.5, [0.5], resolution=32, dt_max=dt, cfl=0.99, stepper=scheme,
                                     scheme="quantile").edges.values, dts)
    fit = fit_rate(dts[:-1], diffs)
    assert abs(fit.slope - SCHEMES[scheme].order) <= 0.15, fit


def test_muscl_finite_volume_second_order_in_space_on_smooth_data():
    # minmod MUSCL (meanfield.solvers.finite_volume.muscl_flux) on the bump profile: W1 against the quantile
    # flow falls at order 2 (measured 1.96); the donor-cell flux gives 1. On the discontinuous
    # uniform data MUSCL measures 1.31 (limiter at the jumps).
    m = Newtonian1D(profile="bump")
    ref = m.solve_continuum(0.5, [0.5], resolution=1024, scheme="quantile")
    Ms = [32, 64, 128, 256]
    errs = []
    for M in Ms:
        f = m.solve_continuum(0.5, [0.5], resolution=M, flux="muscl", scheme="finite_volume")
        assert f.attrs["solver_flux"] == "muscl" and f.attrs["solver_cfl"] == 0.45
        assert f.density.values.min() >= 0
        np.testing.assert_allclose(f.density.sum("x").values * 1.5 / M, 1.0, rtol=0, atol=1e-13)
        errs.append(sum(_w1_private(_cdf(f, 0.5, s), _cdf(ref, 0.5, s)) for s in ("rho", "eta")))
    fit = fit_rate(1.5 / np.array(Ms), errs)
    assert 1.8 <= fit.slope <= 2.2, fit
