"""(SDE_n) of paper 003 through meanfield.solvers.timestepping.integrate: the same numbers as the Euler–Maruyama
recursion written out, output times hit exactly, and bad steps refused before any work."""

import numpy as np
import pytest

from meanfield.models.dislocations import Dislocations2D


def _euler_maruyama_by_hand(m, x, b, times, dt, seed):
    """X <- (X + h F(X) + sqrt(2/β) sqrt(h) N(0, I)) mod 1, the last step before each output time
    shortened to land on it."""
    g = np.random.default_rng(seed)
    modes = m.grad_potential_grid() if m.mollifier == "bump" else m._modes()
    x = np.mod(np.array(x, dtype=float), 1.0)
    out, t = [], 0.0
    for t_out in times:
        while t_out - t > 1e-12 * max(1.0, t_out):
            h = min(dt, t_out - t)
            noise = np.sqrt(2 / m.beta) * np.sqrt(h) * g.normal(size=x.shape)
            x = np.mod(x + h * m.particle_force(x, b, modes) + noise, 1.0)
            t = t_out if h == t_out - t else t + h
        out.append(x.copy())
    return out


@pytest.mark.parametrize("mollifier", ["gaussian", "bump"])
def test_sde_is_the_euler_maruyama_recursion_to_the_last_bit(mollifier):
    m = Dislocations2D(delta=0.1, beta=2.0, mollifier=mollifier)
    x, b = m.sample_particles(40, rng=2)
    times = [0.0013, 0.004, 0.01]  # not multiples of dt: shortened steps land on them
    tr = m.simulate_particles((x, b), 0.01, times, rng=11, dt=7e-4)
    ref = _euler_maruyama_by_hand(m, x, b, times, 7e-4, 11)
    for k in range(len(times)):
        np.testing.assert_array_equal(tr.positions[k], ref[k])
    assert np.all((tr.positions[-1] >= 0) & (tr.positions[-1] < 1))
    # steps: ceil per interval (2 + 4 + 9)
    assert tr.info["steps"] == 15 and tr.info["dt"] == 7e-4
    assert tr.info["stepper"] == "euler_maruyama" and tr.info["strong_order"] == 0.5 and tr.info["weak_order"] == 1


def test_generator_normal_is_standard_normal():
    # the old loop drew g.normal(size=...), the driver draws g.standard_normal(...): same stream
    a, c = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(20):
        np.testing.assert_array_equal(a.normal(size=(7, 2)), c.standard_normal((7, 2)))


@pytest.mark.parametrize("mollifier", ["gaussian", "bump"])
@pytest.mark.parametrize("dt", [0.0, -0.01, np.nan, np.inf, 1e-300])
def test_sde_refuses_bad_dt_before_any_work(mollifier, dt, monkeypatch):
    # dt = 0 or 1e-300 used to loop for ever; now a ValueError naming dt before the force tables exist
    def no_work(*args, **kwargs):
        raise AssertionError("work started before dt was checked")

    m = Dislocations2D(delta=0.1, mollifier=mollifier)
    x, b = m.sample_particles(8, rng=0)
    monkeypatch.setattr(Dislocations2D, "_modes", no_work)
    monkeypatch.setattr(Dislocations2D, "grad_potential_grid", no_work)
    with pytest.raises(ValueError, match="dt"):
        m.simulate_particles((x, b), 0.1, rng=1, dt=dt)
