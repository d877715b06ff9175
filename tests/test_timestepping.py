"""Measured orders of every time stepper against its declared order, and the driver's guarantees."""

import numpy as np
import pytest

from meanfield.solvers.timestepping import (
    ETD1,
    ETD2RK,
    ETDRK4,
    RK4,
    SSPRK3,
    STEPPERS,
    DormandPrince54,
    EulerMaruyama,
    Event,
    ExactLinear,
    FixedStep,
    ForwardEuler,
    ODEProblem,
    PIController,
    SDEProblem,
    SemilinearProblem,
    StepFunction,
    StochasticHeun,
    StrangSplitting,
    cfl_step,
    contour_phi,
    dormand_prince,
    etdrk4_coefficients,
    integrate,
    integrate_ssp,
    phi_functions,
)
from meanfield.solvers.timestepping.orders import (
    STIFF_A,
    STIFF_U0,
    measured_order,
    measured_strong_order,
    riccati_exact,
    stepper_instance,
)

ORDER_BAND = 0.15
A, U0 = STIFF_A, STIFF_U0


@pytest.mark.parametrize("cls", [c for c in STEPPERS if c is not ExactLinear], ids=lambda c: c.__name__)
def test_measured_order_matches_declared_order(cls):
    measured = measured_order(cls)
    assert abs(measured - stepper_instance(cls).order) <= ORDER_BAND, (cls.__name__, measured)


@pytest.mark.parametrize("cls", [EulerMaruyama, StochasticHeun], ids=lambda c: c.__name__)
def test_measured_strong_order_matches_declared_strong_order(cls):
    measured = measured_strong_order(cls)
    assert abs(measured - cls.strong_order) <= ORDER_BAND, (cls.__name__, measured)


def test_phi_functions_match_the_contour_integral_and_their_limits():
    z = np.concatenate([np.linspace(-50, 3, 101), [0.0, 1e-14, -1e-8, 0.999, -1.0, 1.0],
                        np.array([0.5j, 3j - 1, -2 + 0.2j])]).astype(complex)
    for mine, ref in zip(phi_functions(z, 3), contour_phi(z, 3), strict=True):
        # the 64-point contour mean itself carries ~3e-14 of spurious imaginary part at |z| ~ 1
        np.testing.assert_allclose(mine, ref, rtol=2e-13, atol=1e-15)
    _, p1, p2, p3 = phi_functions(np.array([0.0, 1.0, -1.0]), 3)
    assert (p1[0], p2[0], p3[0]) == pytest.approx((1.0, 0.5, 1 / 6), rel=1e-15)
    assert p3[1] == pytest.approx(np.e - 2.5, rel=2e-15) and p3[2] == pytest.approx(-(np.exp(-1) - 0.5), rel=2e-15)


def test_etdrk4_coefficients_match_closed_forms_and_small_z_limit():
    z = np.array([-3.0, -0.5, 0.7, 2.0])
    _e, _e2, q, f1, _f2, _f3 = etdrk4_coefficients(z, 1.0)
    np.testing.assert_allclose(q, (np.exp(z / 2) - 1) / z, rtol=1e-13)
    np.testing.assert_allclose(f1, (-4 - z + np.exp(z) * (4 - 3 * z + z**2)) / z**3, rtol=1e-10)
    # z -> 0 limits: Q = 1/2, f1 = 1/6, f2 = 1/6, f3 = 1/6 (Kassam & Trefethen 2005, eq. (2.5))
    _, _, q0, a0, b0, c0 = etdrk4_coefficients(np.array([0.0, 1e-14]), 1.0)
    np.testing.assert_allclose(np.stack([q0, a0, b0, c0]), [[0.5] * 2, [1 / 6] * 2, [1 / 6] * 2, [1 / 6] * 2],
                               rtol=1e-12)


@pytest.mark.parametrize("cls", [ExactLinear, ETD1, ETD2RK, ETDRK4], ids=lambda c: c.__name__)
def test_etd_exact_for_linear_problems_also_through_a_transform(cls):
    """ExactLinear declares an infinite order: it is the exact flow of u' = Lu, as every ETD scheme is."""
    lam = np.array([-5.0, 1j * 3.0, 0.0])
    sol = integrate(cls(), SemilinearProblem(lam), np.ones(3, complex), 1.0, None, 0.3)
    np.testing.assert_allclose(sol.states[-1], np.exp(lam), rtol=1e-13)
    # heat equation on a periodic grid, diagonal in Fourier space, state on the grid
    n = 32
    x = np.arange(n) / n
    k = 2 * np.pi * np.fft.rfftfreq(n, 1.0 / n)
    prob = SemilinearProblem(-(k**2), forward=np.fft.rfft, inverse=lambda c: np.fft.irfft(c, n))
    u0 = np.sin(2 * np.pi * x) + 0.5 * np.cos(6 * np.pi * x)
    sol = integrate(cls(), prob, u0, 0.01, None, 0.003)
    exact = (np.exp(-4 * np.pi**2 * 0.01) * np.sin(2 * np.pi * x)
             + 0.5 * np.exp(-36 * np.pi**2 * 0.01) * np.cos(6 * np.pi * x))
    np.testing.assert_allclose(sol.states[-1], exact, atol=1e-14)


def test_etdrk4_stiff_components_are_the_most_accurate():
    sol = integrate(ETDRK4(), SemilinearProblem(A, lambda t, u: u * u), U0, 1.0, None, 1 / 16)
    err = np.abs(sol.states[-1] - riccati_exact(1.0))
    assert err[2:4].max() <= err[[0, 1, 4]].min()  # h a down to -25: no step restriction


def test_output_times_are_hit_exactly_and_steps_counted():
    sol = integrate(ForwardEuler(), ODEProblem(lambda t, u: np.ones_like(u)), np.zeros(1), 1.0, [0.25, 0.7, 1.0], 0.1)
    np.testing.assert_array_equal(sol.times, [0.25, 0.7, 1.0])
    np.testing.assert_allclose([s[0] for s in sol.states], [0.25, 0.7, 1.0], rtol=1e-15)
    assert sol.steps == 3 + 5 + 3  # 0.1, 0.1, 0.05 | 0.1 x4, 0.05 | 0.1, 0.1, 0.1


def test_ssp_rk3_lands_on_output_times_and_keeps_positivity_under_cfl():
    states, _ = integrate_ssp(lambda t, u: -t * u, np.array([1.0]), 2.0, times=[0.7, 2.0], dt=0.0125)
    assert abs(states[0][0] - np.exp(-0.245)) < 10 * 0.0125**3
    n = 100
    dx = 1.0 / n
    u0 = np.where(np.abs(np.arange(n) * dx - 0.5) < 0.1, 1.0, 0.0)
    rule = lambda t, u: cfl_step(1.0, dx, 1.0)  # noqa: E731 - forward Euler is positive for CFL <= 1
    (u,), steps = integrate_ssp(lambda t, u: -(u - np.roll(u, 1)) / dx, u0, 0.37, dt_rule=rule)
    assert u.min() >= -1e-15 and abs(u.sum() - u0.sum()) < 1e-12
    assert steps == 37


def test_dormand_prince_tolerance_control_and_pi_controller():
    f = lambda t, y: np.array([y[1], -y[0]])  # noqa: E731
    exact = np.array([np.cos(3.0), -np.sin(3.0)])
    previous = np.inf
    for tol in (1e-4, 1e-7, 1e-10):
        res = dormand_prince(f, [1.0, 0.0], 3.0, rtol=tol, atol=tol)
        err = np.max(np.abs(res.states[-1] - exact))
        assert err < 100 * tol and err < previous
        previous = err
        sol = integrate(DormandPrince54(), ODEProblem(f), np.array([1.0, 0.0]), 3.0, None, PIController(tol, tol))
        assert np.max(np.abs(sol.states[-1] - exact)) < 100 * tol


def test_dormand_prince_locates_events_to_round_off():
    f = lambda t, y: np.array([y[1], -1.0])  # noqa: E731 - free fall from height 1
    res = dormand_prince(f, [1.0, 0.0], 5.0, rtol=1e-8, atol=1e-10, event=lambda t, y: y[0])
    assert res.stopped_at == pytest.approx(np.sqrt(2.0), abs=1e-12)
    assert abs(res.states[-1][0]) < 1e-12
    # a non-terminal event is recorded and the run goes on; direction filters crossings
    sol = integrate(RK4(), ODEProblem(lambda t, y: np.array([np.cos(t)])), np.zeros(1), 7.0, None, 0.01,
                    events=[Event(lambda t, y: y[0] - 0.5, terminal=False, direction=-1)])
    assert len(sol.events) == 1 and sol.events[0][0] == pytest.approx(np.pi - np.arcsin(0.5), abs=1e-9)


def test_stochastic_runs_depend_only_on_the_seed():
    prob = SDEProblem(lambda t, x: -x, 0.5)
    a = integrate(EulerMaruyama(), prob, np.ones(4), 1.0, [0.5, 1.0], 0.01, rng=3).states
    b = integrate(EulerMaruyama(), prob, np.ones(4), 1.0, [0.5, 1.0], 0.01, rng=np.random.default_rng(3)).states
    c = integrate(EulerMaruyama(), prob, np.ones(4), 1.0, [0.5, 1.0], 0.01, rng=4).states
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("dt", [0.0, -0.01, np.nan, np.inf, 1e-300, "0.1", None, 1j])
def test_bad_steps_are_refused_before_any_work(dt):
    calls = []

    def rhs(t, u):
        calls.append(t)
        return u

    with pytest.raises((ValueError, TypeError), match="dt"):
        integrate(SSPRK3(), ODEProblem(rhs), np.ones(1), 1.0, None, dt)
    assert calls == []


def test_runs_that_cannot_finish_raise_instead_of_hanging():
    prob = ODEProblem(lambda t, u: -u)
    with pytest.raises(ValueError, match="would need 1e\\+06 steps"):
        integrate(ForwardEuler(), prob, np.ones(1), 1.0, None, 1e-6, max_steps=1000)
    with pytest.raises(RuntimeError, match="max_steps=50"):
        integrate(ForwardEuler(), prob, np.ones(1), 1.0, None, StepFunction(lambda t, u: 1e-3), max_steps=50)
    with pytest.raises(ValueError, match="non-positive or NaN"):
        integrate(ForwardEuler(), prob, np.ones(1), 1.0, None, lambda t, u: 0.0)
    with pytest.raises(ValueError, match="non-positive or NaN"):
        integrate(ForwardEuler(), prob, np.ones(1), 1.0, None, lambda t, u: np.nan)
    with pytest.raises(RuntimeError, match="below the resolution"):
        integrate(ForwardEuler(), prob, np.ones(1), 1.0, None, lambda t, u: 1e-300)
    with pytest.raises(ValueError, match="rtol"):
        PIController(rtol=1e-300, atol=1e-300)
    with pytest.raises(ValueError, match="rtol"):
        dormand_prince(lambda t, y: y, [1.0], 1.0, rtol=0)
    with pytest.raises(RuntimeError, match="finite"), np.errstate(over="ignore", invalid="ignore"):
        # forward Euler far outside its stability region
        integrate(ForwardEuler(), ODEProblem(lambda t, u: -1e6 * u), np.ones(1), 1.0, None, 0.01, max_steps=10**4)


def test_bad_arguments_name_themselves():
    prob = ODEProblem(lambda t, u: u)
    with pytest.raises(ValueError, match="times"):
        integrate(SSPRK3(), prob, [1.0], 1.0, [0.5, 0.2], 0.1)
    with pytest.raises(TypeError, match="ODEProblem"):
        integrate(ETDRK4(), prob, [1.0], 1.0, None, 0.1)
    with pytest.raises(ValueError, match="embedded pair"):
        integrate(RK4(), prob, [1.0], 1.0, None, PIController())
    with pytest.raises(ValueError, match="y0"):
        integrate(RK4(), prob, [np.nan], 1.0, None, 0.1)
    with pytest.raises(TypeError, match="max_steps"):
        integrate(RK4(), prob, [1.0], 1.0, None, 0.1, max_steps=1.5)
    with pytest.raises(ValueError, match="cfl"):
        cfl_step(1.0, 0.1, -1)
    with pytest.raises(TypeError, match="rng"):
        integrate(EulerMaruyama(), SDEProblem(lambda t, x: x, 1.0), [1.0], 1.0, None, 0.1, rng="seed")
    assert FixedStep(0.5).dt == 0.5


def test_declared_orders_are_recorded():
    assert ETDRK4().describe() == {"stepper": "etdrk4", "order": 4}
    assert EulerMaruyama().describe() == {"stepper": "euler_maruyama", "order": 1, "strong_order": 0.5, "weak_order": 1}
    assert StrangSplitting(ETD1(), SSPRK3()).describe()["order"] == 1  # limited by ETD1
    assert StrangSplitting(ExactLinear(), SSPRK3()).order == 2
    with pytest.raises(ValueError, match="nonlinear"):
        integrate(ExactLinear(), SemilinearProblem(A, lambda t, u: u), U0, 1.0, None, 0.1)


def test_dormand_prince_tableau_is_consistent():
    """Row sums of A are the nodes; FSAL (A[6] = B5); E = B5 - B4; the continuous extension ends
    on the 5th-order solution (θ = 1: Σ_q P[i, q] = B5[i]) and both weight sets sum to 1."""
    from meanfield.solvers.timestepping.dormand_prince_tableau import B4, B5, C, E, P
    from meanfield.solvers.timestepping.dormand_prince_tableau import A as DP_A

    assert np.allclose([sum(row) for row in DP_A[1:]], C[1:], atol=1e-15)
    assert np.allclose(DP_A[6], B5[:6], atol=0) and B5[6] == 0
    assert np.allclose(E, B5 - B4, atol=1e-16)
    assert np.allclose(P.sum(axis=1), B5, atol=1e-14)
    assert np.isclose(B5.sum(), 1) and np.isclose(B4.sum(), 1)
