"""Measured orders of the time steppers on problems with exact solutions."""

import numpy as np
import pytest

from meanfield.rates import fit_rate
from solvers.timestepping import ETDRK4, cfl_step, dormand_prince, integrate_ssp
from solvers.timestepping.etdrk4 import etdrk4_coefficients

# u' = a u + u^2 (per component, a = diag L): v = 1/u solves v' = -a v - 1, so
# u(t) = 1 / ((1/u0 + 1/a) e^{-a t} - 1/a), and u(t) = 1 / (1/u0 - t) for a = 0.
A = np.array([0.0, -1.0, -20.0, -400.0, 0.5])
U0 = np.array([0.3, 0.5, 0.2, 0.1, 0.4])


def riccati_exact(t):
    with np.errstate(divide="ignore"):
        inv = np.where(A == 0, 1 / U0 - t, (1 / U0 + 1 / np.where(A == 0, 1, A)) * np.exp(-A * t) - 1 / np.where(A == 0, 1, A))
    return 1 / inv


def test_etdrk4_coefficients_match_closed_forms_and_small_z_limit():
    z = np.array([-3.0, -0.5, 0.7, 2.0])
    e, e2, q, f1, f2, f3 = etdrk4_coefficients(z, 1.0)
    np.testing.assert_allclose(q, (np.exp(z / 2) - 1) / z, rtol=1e-12)
    np.testing.assert_allclose(f1, (-4 - z + np.exp(z) * (4 - 3 * z + z**2)) / z**3, rtol=1e-10)
    # z -> 0 limits: Q = 1/2, f1 = 1/6, f2 = 1/6, f3 = 1/6 (Kassam & Trefethen 2005, eq. (2.5))
    _, _, q0, a0, b0, c0 = etdrk4_coefficients(np.array([0.0, 1e-14]), 1.0)
    np.testing.assert_allclose(np.stack([q0, a0, b0, c0]), [[0.5] * 2, [1 / 6] * 2, [1 / 6] * 2, [1 / 6] * 2], rtol=1e-12)


def test_etdrk4_fourth_order_on_stiff_riccati():
    errors, hs = [], [1 / 8, 1 / 16, 1 / 32, 1 / 64]
    for h in hs:
        (u,) = ETDRK4(A, lambda u: u * u, h).integrate(U0, 1.0)
        err = np.abs(u - riccati_exact(1.0))
        errors.append(err.max())
        # the stiff components (h a down to -50) are the most accurate ones: no step restriction
        assert err[2:4].max() <= err[[0, 1, 4]].min()
    fit = fit_rate(hs, errors)
    assert 3.7 < fit.slope < 4.4, fit


def test_etdrk4_exact_for_linear_problems():
    lam = np.array([-5.0, 1j * 3.0, 0.0])
    (u,) = ETDRK4(lam, lambda u: np.zeros_like(u), 0.3).integrate(np.ones(3, complex), 1.0)
    np.testing.assert_allclose(u, np.exp(lam), rtol=1e-13)


def test_ssp_rk3_third_order_and_lands_on_output_times():
    def rhs(t, u):
        return -t * u

    errors, dts = [], [0.1, 0.05, 0.025, 0.0125]
    for dt in dts:
        states, _ = integrate_ssp(rhs, np.array([1.0]), 2.0, times=[0.7, 2.0], dt=dt)
        errors.append(abs(states[1][0] - np.exp(-2.0)))
        assert abs(states[0][0] - np.exp(-0.245)) < 10 * dt**3
    fit = fit_rate(dts, errors)
    assert 2.8 < fit.slope < 3.3, fit


def test_ssp_rk3_keeps_positivity_of_upwind_advection_under_cfl():
    n = 100
    dx = 1.0 / n
    u0 = np.where(np.abs(np.arange(n) * dx - 0.5) < 0.1, 1.0, 0.0)

    def rhs(t, u):
        return -(u - np.roll(u, 1)) / dx  # upwind, speed 1

    rule = lambda t, u: cfl_step(1.0, dx, 1.0)  # noqa: E731 - forward Euler is positive for CFL <= 1
    (u,), steps = integrate_ssp(rhs, u0, 0.37, dt_rule=rule)
    assert u.min() >= -1e-15 and abs(u.sum() - u0.sum()) < 1e-12
    assert steps == 37


def test_dormand_prince_fifth_order_fixed_steps_and_tolerance_control():
    f = lambda t, y: np.array([y[1], -y[0]])  # noqa: E731
    exact = np.array([np.cos(3.0), -np.sin(3.0)])
    hs = [0.3, 0.15, 0.075, 0.0375]
    errors = [np.max(np.abs(dormand_prince(f, [1.0, 0.0], 3.0, fixed_step=h).states[-1] - exact)) for h in hs]
    fit = fit_rate(hs, errors)
    assert 4.7 < fit.slope < 5.4, fit
    previous = np.inf
    for tol in (1e-4, 1e-7, 1e-10):
        res = dormand_prince(f, [1.0, 0.0], 3.0, rtol=tol, atol=tol)
        err = np.max(np.abs(res.states[-1] - exact))
        assert err < 100 * tol and err < previous
        previous = err


def test_dormand_prince_locates_events_to_round_off():
    f = lambda t, y: np.array([y[1], -1.0])  # noqa: E731 - free fall from height 1
    res = dormand_prince(f, [1.0, 0.0], 5.0, rtol=1e-8, atol=1e-10, event=lambda t, y: y[0])
    assert res.stopped_at == pytest.approx(np.sqrt(2.0), abs=1e-12)
    assert abs(res.states[-1][0]) < 1e-12


def test_bad_input():
    with pytest.raises(ValueError, match="dt"):
        ETDRK4(A, lambda u: u, 0.0)
    with pytest.raises(ValueError, match="times"):
        integrate_ssp(lambda t, u: u, [1.0], 1.0, times=[0.5, 0.2], dt=0.1)
    with pytest.raises(ValueError, match="cfl"):
        cfl_step(1.0, 0.1, -1)
    with pytest.raises(ValueError, match="rtol"):
        dormand_prince(lambda t, y: y, [1.0], 1.0, rtol=0)


def test_dormand_prince_tableau_is_consistent():
    """Row sums of A are the nodes; FSAL (A[6] = B5); E = B5 - B4; the continuous extension ends
    on the 5th-order solution (θ = 1: Σ_q P[i, q] = B5[i]) and both weight sets sum to 1."""
    from solvers.timestepping.dormand_prince_tableau import A, B4, B5, C, E, P

    assert np.allclose([sum(row) for row in A[1:]], C[1:], atol=1e-15)
    assert np.allclose(A[6], B5[:6], atol=0) and B5[6] == 0
    assert np.allclose(E, B5 - B4, atol=1e-16)
    assert np.allclose(P.sum(axis=1), B5, atol=1e-14)
    assert np.isclose(B5.sum(), 1) and np.isclose(B4.sum(), 1)
