"""Model 001 time stepping: the particle engine's controller comes from meanfield.solvers.timestepping, the
finite volumes go through the driver, and bad step parameters are refused before any work."""

import time

import numpy as np
import pytest

from meanfield.models.annihilation1d import Annihilation1D
from meanfield.particles.annihilation_events1d import default_controller, integrate_annihilation
from meanfield.solvers.timestepping import PIController

BAD_STEPS = [0.0, -0.01, np.nan, np.inf, 1e-300]


def _particles(**kw):
    m = Annihilation1D()
    return m.simulate_particles(m.sample_particles(60), 1.0, **kw)


def _continuum(**kw):
    return Annihilation1D().solve_continuum(1.0, resolution=64, **kw)


@pytest.mark.parametrize("value", BAD_STEPS)
@pytest.mark.parametrize("run, name", [(_particles, "rtol"), (_particles, "atol"), (_continuum, "cfl")])
def test_bad_step_parameters_are_refused_before_any_work(run, name, value):
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=name):
        run(**{name: value})
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("value", [0.0, -0.01, np.nan, np.inf])
@pytest.mark.parametrize("run", [_particles, _continuum])
def test_bad_end_times_are_refused(run, value):
    m = Annihilation1D()
    with pytest.raises(ValueError, match="t_end"):
        if run is _particles:
            m.simulate_particles(m.sample_particles(10), value)
        else:
            m.solve_continuum(value, resolution=64)


def test_tolerances_of_1e300_are_refused():
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="rtol must be at least"):
        _particles(rtol=1e-300, atol=1e-300)
    with pytest.raises(ValueError, match="atol must be at least"):
        _particles(atol=1e-300)
    assert time.perf_counter() - t0 < 1.0


def test_bad_engine_arguments():
    m = Annihilation1D()
    state = m.sample_particles(10)
    with pytest.raises(TypeError, match="controller"):
        m.simulate_particles(state, 1.0, controller=(1e-8, 1e-11))
    with pytest.raises(ValueError, match="forces"):
        m.simulate_particles(state, 1.0, force="fast")
    x, b = state
    with pytest.raises(ValueError, match="max_steps"):
        integrate_annihilation(x, b, [1.0], 0, 0, 0.3, max_steps=0)
    with pytest.raises(RuntimeError, match="max_steps=5"):
        integrate_annihilation(x, b, [1.0], 0, 0, 0.3, max_steps=5)
    with pytest.raises(ValueError, match=r"cfl=1e-300: the initial step .* would need at least 8.06\d*e\+300 steps"):
        m.solve_continuum(1.0, resolution=64, cfl=1e-300)


def test_engine_takes_its_constants_from_the_controller():
    """The default is PIController(rtol, atol, β = 0.08); an explicit equal controller gives the same run
    bit for bit, a smaller safety factor more steps, and the run records scheme and constants."""
    m = Annihilation1D()
    state = m.sample_particles(80)
    ref = m.simulate_particles(state, 1.0)
    same = m.simulate_particles(state, 1.0, controller=PIController(1e-8, 1e-11, beta=0.08))
    np.testing.assert_array_equal(same.positions[-1], ref.positions[-1])
    assert same.info["stats"] == ref.info["stats"]
    cautious = m.simulate_particles(state, 1.0, controller=PIController(1e-8, 1e-11, safety=0.5, beta=0.08))
    assert cautious.info["stats"]["accepted"] > 1.2 * ref.info["stats"]["accepted"]
    assert len(cautious.events) == len(ref.events)
    info = ref.info["solver"]
    assert info["stepper"] == "dormand_prince_54" and info["order"] == 5 and info["embedded_order"] == 4
    assert (info["rtol"], info["atol"], info["beta"], info["safety"]) == (1e-8, 1e-11, 0.08, 0.9)
    assert (info["min_factor"], info["max_factor"], info["forces"]) == (0.2, 5.0, "auto")
    assert default_controller().beta == 0.08


def test_continuum_records_scheme_order_and_step_rule():
    sol = Annihilation1D().solve_continuum(0.5, resolution=64, times=[0.25, 0.5])
    assert sol.attrs["solver_stepper"] == "ssp_rk3" and sol.attrs["solver_order"] == 3
    assert sol.attrs["solver_step_rule"].startswith("cfl")
