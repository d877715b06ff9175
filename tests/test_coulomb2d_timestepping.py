"""Model 000 on the time-stepping layer (issue 14): the close-pair step rule as a value, runs through
``integrate`` bit-identical to the former hand-written loops, schemes selectable and recorded, and
every bad step refused before any work."""

import numpy as np
import pytest

from meanfield.models.coulomb2d import SignedCoulomb2D, coulomb_drift
from meanfield.particles.close_pair_step import ClosePairStep, LastStateCache
from meanfield.rates import fit_rate


def _model(**kw):
    base = dict(sigma=1.0, gamma_bar=0.4, mass_plus=0.7, mass_minus=0.3, centre_plus=(-0.4, 0.0),
                centre_minus=(0.4, 0.2), width=0.4)
    base.update(kw)
    return SignedCoulomb2D(**base)


def _reference_loop(model, x0, ts, seed, dt, heun, theta=0.25, dt_min_fraction=1e-3, resolve_noise=False,
                    collision_radius=None):
    """The particle loop as it was written before the port (direct forces), kept here as the reference:
    same step rule, same noise draws ``sigma sqrt(h) z`` after the drift, t advanced by ``t += h``."""
    pos, b = x0
    rng = np.random.default_rng(seed)
    n = pos.shape[0]
    gamma = model.particle_gamma(n)
    dt_min = dt * dt_min_fraction
    x, t, out, steps, capped, t_coll = pos.copy(), 0.0, [], 0, 0, np.inf
    for t_out in ts:
        for _ in range(10**6):
            if not t < t_out - 1e-14 * max(1.0, t_out):
                break
            h = min(dt, t_out - t)
            f, dmin = coulomb_drift(x, b, gamma, model.epsilon)
            if collision_radius is not None and t_coll == np.inf and dmin.min() <= collision_radius:
                t_coll = t
            speed = np.sqrt(f[:, 0] ** 2 + f[:, 1] ** 2)
            with np.errstate(divide="ignore"):
                h_cap = np.min(np.where(speed > 0, theta * dmin / speed, np.inf))
            if resolve_noise:
                h_cap = min(h_cap, (theta * dmin.min()) ** 2 / (2 * model.sigma**2))
            if h_cap < h:
                h = max(h_cap, min(dt_min, h))
                capped += 1
            dw = model.sigma * np.sqrt(h) * rng.standard_normal((n, 2))
            if heun:
                xp = x + h * f + dw
                x = x + 0.5 * h * (f + coulomb_drift(xp, b, gamma, model.epsilon)[0]) + dw
            else:
                x = x + h * f + dw
            t += h
            steps += 1
        out.append(x.copy())
    if collision_radius is not None and t_coll == np.inf and coulomb_drift(x, b, gamma)[1].min() <= collision_radius:
        t_coll = t
    return out, steps, capped, t_coll


# --- particles ---------------------------------------------------------------------------------
@pytest.mark.parametrize("heun", [False, True])
def test_particles_bit_identical_to_the_former_loop_with_capped_steps(heun):
    """Close pairs (two points 1e-3 apart) force capped steps; positions at every output time, the
    step count and the capped-step count equal the former loop's exactly."""
    m = _model()
    x, b = m.sample_particles(40, rng=3)
    x[1] = x[0] + [1e-3, 0.0]
    ts = [0.01, 0.025, 0.04]
    tr = m.simulate_particles((x, b), 0.04, times=ts, rng=9, dt=4e-3,
                              scheme="stochastic_heun" if heun else "euler_maruyama",
                              force="direct")
    ref, steps, capped, _ = _reference_loop(m, (x, b), ts, 9, 4e-3, heun)
    assert capped > 0
    assert tr.info["steps"] == steps and tr.info["capped_steps"] == capped
    for a, r in zip(tr.positions, ref, strict=True):
        assert np.array_equal(a, r)


def test_collision_time_and_noise_resolution_match_the_former_loop():
    m = SignedCoulomb2D(sigma=1.0, gamma=0.4, gamma_bar=0.1)
    x0 = (np.array([[0.0, 0.0], [0.2, 0.0]]), np.array([1.0, -1.0]))
    kw = dict(dt_min_fraction=1e-4, resolve_noise=True, collision_radius=0.02)
    hits = 0
    for seed in range(8):
        tr = m.simulate_particles(x0, 0.05, rng=seed, dt=5e-3, force="direct", **kw)
        ref, steps, capped, t_coll = _reference_loop(m, x0, [0.05], seed, 5e-3, False, **kw)
        assert np.array_equal(tr.positions[-1], ref[-1])
        assert (tr.info["steps"], tr.info["capped_steps"]) == (steps, capped)
        assert tr.info["first_collision_time"] == t_coll
        hits += np.isfinite(t_coll)
    assert hits > 0  # some runs do collide, so the time was compared


@pytest.mark.parametrize("scheme, per_step", [("euler_maruyama", 1), ("stochastic_heun", 2)])
def test_step_rule_reuses_the_drift_of_the_step(scheme, per_step):
    """The rule and the scheme share the drift evaluation at the start state: one evaluation per
    Euler-Maruyama step, two per Heun step (the rule alone would add one more per step)."""
    m = _model()
    tr = m.simulate_particles(m.sample_particles(30, rng=0), 0.03, rng=1, scheme=scheme)
    assert tr.info["steps"] > 5
    assert tr.info["drift_evaluations"] == per_step * tr.info["steps"]


def test_scheme_is_the_preferred_spelling_of_method_and_is_recorded():
    """scheme= names the SDE scheme; the old method="euler" | "heun" still works (DeprecationWarning)
    and gives the same run bit for bit."""
    m = _model()
    x0 = m.sample_particles(20, rng=2)
    with pytest.warns(DeprecationWarning, match="scheme='stochastic_heun'"):
        a = m.simulate_particles(x0, 0.02, rng=5, method="heun")
    b = m.simulate_particles(x0, 0.02, rng=5, scheme="stochastic_heun")
    with pytest.warns(DeprecationWarning, match="scheme='euler_maruyama'"):
        ae = m.simulate_particles(x0, 0.02, rng=5, method="euler")
    assert np.array_equal(ae.positions[-1], m.simulate_particles(x0, 0.02, rng=5).positions[-1])
    assert np.array_equal(a.positions[-1], b.positions[-1])
    assert b.info["method"] == "heun" and b.info["stepper"] == "stochastic_heun"
    assert b.info["strong_order"] == 1.0 and b.info["order"] == 2 and b.info["step_rule"] == "close_pair"
    e = m.simulate_particles(x0, 0.02, rng=5, scheme="euler_maruyama")
    assert e.info["method"] == "euler" and e.info["strong_order"] == 0.5
    with pytest.raises(ValueError, match="disagree"), pytest.warns(DeprecationWarning):
        m.simulate_particles(x0, 0.02, method="euler", scheme="stochastic_heun")
    with pytest.raises(ValueError, match="scheme"):
        m.simulate_particles(x0, 0.02, scheme="rk4")


def test_close_pair_rule_steps_from_the_definition():
    """Two charges at distance d moving apart at relative speed 2g/d (each g/d): the step is
    theta d / (g/d) below dt, floored at dt_min; with noise resolution (theta d)^2 / (2 sigma^2)."""
    d, g = 0.1, 0.5
    x = np.array([[0.0, 0.0], [d, 0.0]])
    b = np.array([1.0, 1.0])
    ev = LastStateCache(lambda y: coulomb_drift(y, b, g))
    rule = ClosePairStep(ev, dt=1.0, theta=0.25, dt_min_fraction=1e-3)
    assert rule.propose(0.0, x) == pytest.approx(0.25 * d * d / g, rel=1e-14)
    assert rule.capped == 1
    floor = ClosePairStep(ev, dt=1.0, theta=0.25, dt_min_fraction=0.5)
    assert floor.propose(0.0, x) == 0.5
    noisy = ClosePairStep(ev, dt=1.0, theta=0.25, dt_min_fraction=1e-6, noise_sigma=3.0, collision_radius=0.2)
    assert noisy.propose(0.7, x) == pytest.approx((0.25 * d) ** 2 / 18, rel=1e-14)
    assert noisy.first_collision_time == 0.7
    free = ClosePairStep(ev, dt=1e-4, theta=0.25)
    assert free.propose(0.0, x) == 1e-4 and free.capped == 0
    # a step shortened only by an output time closer than the cap is not counted as capped
    near = ClosePairStep(ev, dt=1.0, theta=0.25, save_at=[0.001, 1.0])
    assert near.propose(0.0, x) == pytest.approx(0.25 * d * d / g) and near.capped == 0
    assert ev.evaluations == 1 and ev.hits == 4  # one drift evaluation served every rule


def test_last_state_cache_recognises_the_same_array_only():
    calls = []
    c = LastStateCache(lambda y: calls.append(1) or y.sum())
    y = np.arange(4.0)
    assert c(y) == c(y) == 6.0 and len(calls) == 1
    c(y.copy())
    assert len(calls) == 2 and c.hits == 1
    with pytest.raises(TypeError, match="fn"):
        LastStateCache(3)


@pytest.mark.parametrize("kw, name", [(dict(theta=0.0), "theta"), (dict(dt_min_fraction=2.0), "dt_min_fraction"),
                                      (dict(noise_sigma=-1.0), "noise_sigma"),
                                      (dict(collision_radius=np.nan), "collision_radius"), (dict(dt=np.inf), "dt")])
def test_close_pair_rule_refuses_bad_settings(kw, name):
    args = dict(dt=0.1) | kw
    with pytest.raises(ValueError, match=name):
        ClosePairStep(lambda y: None, **args)


# --- refusals before any work --------------------------------------------------------------------
BAD_DT = [0.0, -0.01, np.nan, np.inf, 1e-300]


def _particles(**kw):
    m = _model()
    return m.simulate_particles(m.sample_particles(10, rng=0), 0.1, rng=0, **kw)


def _spectral(**kw):
    return _model().solve_continuum(**({"t_end": 0.1, "resolution": 32} | kw))


def _fv(**kw):
    return _model().solve_continuum(**({"t_end": 0.1, "resolution": 32, "scheme": "finite_volume"} | kw))


@pytest.mark.parametrize("run", [_particles, _spectral, _fv], ids=["particles", "spectral", "fv"])
@pytest.mark.parametrize("dt", BAD_DT)
def test_bad_steps_refused_naming_dt(run, dt):
    with pytest.raises(ValueError, match="dt"):
        run(dt=dt)


@pytest.mark.parametrize("run, kw, name", [
    (_particles, dict(dt_min_fraction=1e-300), "dt_min_fraction"),
    (_particles, dict(max_steps=0), "max_steps"),
    (_particles, dict(dt=1e-3, max_steps=50), "max_steps"),
    (_spectral, dict(cfl=1e-300), "cfl"),
    (_fv, dict(cfl=1e-300), "cfl"),
    (_spectral, dict(dt=1e-3, max_steps=50), "max_steps"),
    (_spectral, dict(scheme="rk4"), "scheme"),
    (_fv, dict(stepper="etd2rk"), "stepper"),
    (_spectral, dict(stepper="rk4"), "stepper"),
    (_spectral, dict(method="weno"), "method"),
    (_spectral, dict(resolution=2**40), "resolution"),
])
def test_settings_that_cannot_finish_refused_before_any_work(run, kw, name):
    with pytest.raises(ValueError, match=name):
        run(**kw)


@pytest.mark.parametrize("run, kw, name", [
    (_spectral, dict(resolution="64"), "resolution"), (_spectral, dict(cfl=None), "cfl"),
    (_spectral, dict(dt=1j), "dt"), (_fv, dict(t_end="1"), "t_end"), (_particles, dict(theta="0.1"), "theta"),
    (_particles, dict(dt=None, theta=complex(0.1, 0)), "theta"),
])
def test_non_numbers_refused_naming_the_argument(run, kw, name):
    with pytest.raises(TypeError, match=name):
        run(**kw)


# --- continuum -----------------------------------------------------------------------------------
def test_spectral_etdrk4_time_order_and_recorded_scheme():
    """stepper="etdrk4": measured order in dt within 4 +- 0.3 (errors against dt = T/64), and
    the dataset records the scheme, its declared order and the step rule."""
    m = _model()
    T = 0.2
    g = m.default_grid(32, T)
    ref = m.solve_continuum(T, grid=g, dt=T / 64, stepper="etdrk4")["density"].values[-1]
    ks = (2, 4, 8)
    errs = [np.abs(m.solve_continuum(T, grid=g, dt=T / k, stepper="etdrk4")["density"].values[-1] - ref).max()
            for k in ks]
    fit = fit_rate([T / k for k in ks], errs)
    assert 3.7 < fit.slope < 4.3, (fit, errs)
    sol = m.solve_continuum(T, grid=g, stepper="etdrk4")
    assert sol.attrs["solver_scheme"] == "spectral" and sol.attrs["solver_stepper"] == "etdrk4"
    assert sol.attrs["solver_order"] == 4
    assert sol.attrs["solver_step_rule"] == "drift_cfl"
    fv = m.solve_continuum(0.05, grid=g, scheme="finite_volume")
    assert fv.attrs["solver_scheme"] == "finite_volume" and fv.attrs["solver_stepper"] == "forward_euler"
    assert fv.attrs["solver_order"] == 1
    assert fv.attrs["solver_step_rule"] == "fv_positivity" and fv.attrs["solver_steps"] > 1
    fixed = m.solve_continuum(T, grid=g, dt=T / 4)
    assert fixed.attrs["solver_stepper"] == "etd2rk" and fixed.attrs["solver_step_rule"] == "fixed"
    assert fixed.attrs["solver_steps"] == 4


def test_output_at_time_zero_only_returns_the_initial_data():
    m = _model()
    g = m.default_grid(16, 0.1)
    sol = m.solve_continuum(0.1, grid=g, times=[0.0])
    assert np.array_equal(sol["density"].values[0], m.initial_array(g))
    x0 = m.sample_particles(5, rng=0)
    assert np.array_equal(m.simulate_particles(x0, 0.1, times=[0.0]).positions[0], x0[0])


@pytest.mark.parametrize("stepper, stages", [("etd2rk", 2), ("etdrk4", 4)])
def test_cfl_rule_reuses_the_first_stage_velocity(monkeypatch, stepper, stages):
    """The default CFL rule reads the velocity the scheme's first stage computes (one LastStateCache), so
    a run evaluates the padded velocity exactly stages x steps times, the first-step check included."""
    from meanfield.models import coulomb2d

    seen = {}
    original = coulomb2d.SignedCoulomb2D.continuum_problem

    def spy(self, grid, scheme=None, *, method=None):
        problem, velocity = original(self, grid, scheme, method=method)
        seen["velocity"] = velocity
        return problem, velocity

    monkeypatch.setattr(coulomb2d.SignedCoulomb2D, "continuum_problem", spy)
    m = _model()
    ds = m.solve_continuum(2.0, times=[0.2, 2.0], resolution=32, stepper=stepper)
    steps = int(ds.attrs["solver_steps"])
    assert steps >= 3
    assert seen["velocity"].evaluations == stages * steps
    assert seen["velocity"].hits == steps


def test_cfl_rule_dt_sequence_unchanged_by_the_reuse():
    """The rule's steps are those of the CFL formula at each step's start state, computed afresh."""
    from meanfield.solvers.timestepping import ETD2RK, StepFunction, integrate

    m = _model()
    grid = m.default_grid(32, 0.6)
    rho0 = m.initial_array(grid)
    problem, _ = m.continuum_problem(grid)
    h = float(np.min(grid.spacing))
    fresh = []

    def rule(_t, rho):
        fresh.append(0.5 * h / (m.gamma_bar * float(np.max(np.abs(m.velocity(rho[0] - rho[1], grid)))) + 1e-300))
        return fresh[-1]

    ref = integrate(ETD2RK(), problem, rho0, 0.6, None, StepFunction(rule, "drift_cfl"))
    ds = m.solve_continuum(0.6, resolution=32)
    np.testing.assert_array_equal(ds["density"].values[-1], ref.states[-1])
    assert int(ds.attrs["solver_steps"]) == ref.steps == len(fresh)


def test_cfl_first_step_budget_refused_before_stepping():
    with pytest.raises(ValueError, match="first step"):
        _model().solve_continuum(5.0, resolution=32, max_steps=1)
