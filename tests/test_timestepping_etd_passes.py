"""ETD steppers after the pass-count work: the same numbers as the textbook formulas (Cox & Matthews
2002, eqs. (5), (22), (26)-(29)) written out naively, bit for bit, and a broadcast linear part gives the
numbers of its full copy."""

import numpy as np

from meanfield.solvers.timestepping import ETD1, ETD2RK, ETDRK4, SemilinearProblem, etdrk4_coefficients, phi_functions

rng = np.random.default_rng(7)
LIN = -np.abs(rng.normal(size=(12, 7))) * 40.0  # stiff diagonal, |z| on both sides of 1


def _nonlinear(t, y):
    return np.sin(y) * (1.0 + t) - 0.3 * y**2


def _problems():
    base = np.broadcast_to(LIN, (2, *LIN.shape))
    return SemilinearProblem(base, _nonlinear), SemilinearProblem(np.array(base), _nonlinear)


def test_etd_steps_equal_the_naive_formulas_bit_for_bit():
    y = rng.normal(size=(2, *LIN.shape))
    h, t = 0.013, 0.4
    broadcast, full = _problems()
    z = full.linear * h
    e, phi1, phi2 = phi_functions(z, 2)
    n = _nonlinear
    naive_etd1 = e * y + h * phi1 * n(t, y)
    a = e * y + h * phi1 * n(t, y)
    naive_etd2 = a + h * phi2 * (n(t + h, a) - n(t, y))
    E, E2, Q, f1, f2, f3 = etdrk4_coefficients(z, h)
    nu = n(t, y)
    a = E2 * y + Q * nu
    na = n(t + h / 2, a)
    b = E2 * y + Q * na
    nb = n(t + h / 2, b)
    c = E2 * a + Q * (2 * nb - nu)
    naive_etd4 = E * y + f1 * nu + 2 * f2 * (na + nb) + f3 * n(t + h, c)
    for problem in (broadcast, full):
        np.testing.assert_array_equal(ETD1().step(problem, t, y, h), naive_etd1)
        np.testing.assert_array_equal(ETD2RK().step(problem, t, y, h), naive_etd2)
        np.testing.assert_array_equal(ETDRK4().step(problem, t, y, h), naive_etd4)


def test_broadcast_linear_part_makes_coefficients_of_the_base_shape_only():
    broadcast, _ = _problems()
    stepper = ETDRK4()
    stepper.step(broadcast, 0.0, np.zeros((2, *LIN.shape)), 0.01)
    (coefficients,) = stepper._cache.values()
    assert all(np.shape(c) == (1, *LIN.shape) for c in coefficients)
