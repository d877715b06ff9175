"""MF^ε jump part (model 003, paper eq. (10)-(11)): the compiled one-pass flux difference against the
NumPy form it replaced (rolls and four expm1 per site), the ETDRK4 step against the former step, and
conservation of each species' mass."""

import numpy as np
import pytest

from meanfield.models.dislocation_lattice import flux_difference
from meanfield.models.dislocations import Dislocations2D
from meanfield.solvers import fft
from meanfield.solvers.timestepping import ETDRK4, SemilinearProblem


def numpy_flux_difference(f, grad, beta, h):
    """The former NumPy evaluation (rolls; ``grad`` = ∇V_δ * σ, shape (2 axes, n, n)), with both
    directions' factors ``e^{½βh·F} − 1`` by ``expm1`` as in eq. (11) (the former code took
    ``−up/(1 + up)`` for the backward one, which loses digits for large ``|x|``)."""
    sign = np.array([1.0, -1.0])[:, None, None]
    force = -sign[:, None] * grad[None]  # (species, axis, n, n)
    out = np.zeros_like(f)
    for axis in range(2):
        x = 0.5 * beta * h * force[:, axis]
        for direction, e in ((1, np.expm1(x)), (-1, np.expm1(-x))):
            flux = e * f / (beta * h * h)
            out += np.roll(flux, direction, axis=1 + axis) - flux
    return out


@pytest.mark.parametrize("amplitude", [1e-3, 0.05, 0.3, 3.0])  # |x| all below, around and above 0.1
def test_flux_difference_equals_the_numpy_form(amplitude):
    rng = np.random.default_rng(4)
    n, beta = 32, 1.7
    h = 1.0 / n
    f = rng.random((2, n, n))
    grad = rng.normal(size=(2, n, n)) * amplitude / (0.5 * beta * h)
    x = 0.5 * beta * h * grad
    ours = flux_difference(f, x[0], x[1], 1.0 / (beta * h * h))
    ref = numpy_flux_difference(f, grad, beta, h)
    scale = np.abs(f).max() * np.abs(np.expm1(np.abs(x))).max() / (beta * h * h)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(ours.sum(axis=(1, 2)), 0.0, atol=1e-13 * scale * n * n)


def test_flux_difference_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        flux_difference(np.ones((2, 4, 4)), np.ones((4, 4)), np.ones((4, 5)), 1.0)
    with pytest.raises(ValueError, match="shape"):
        flux_difference(np.ones((3, 4, 4)), np.ones((4, 4)), np.ones((4, 4)), 1.0)


def former_lattice_problem(model, n):
    """The lattice problem as it was built before the one-pass kernel (rfft of f⁺ - f⁻ for σ̂)."""
    ghat = model.grad_potential_hat(n)
    beta, h = model.beta, 1.0 / n
    kx = np.fft.fftfreq(n, 1.0 / n)[:, None]
    ky = np.fft.rfftfreq(n, 1.0 / n)[None, :]
    lap = -(4 / (beta * h * h)) * (np.sin(np.pi * kx * h) ** 2 + np.sin(np.pi * ky * h) ** 2)

    def nonlinear(_t, u_hat):
        f = fft.irfftn(u_hat, (n, n), ndim=2)
        sigma_hat = fft.rfftn(f[0] - f[1])
        grad = np.stack([fft.irfftn(g * sigma_hat, (n, n)) for g in ghat])
        return fft.rfftn(numpy_flux_difference(f, grad, beta, h), ndim=2)

    return SemilinearProblem(np.broadcast_to(lap, (2, *lap.shape)), nonlinear)


@pytest.mark.parametrize("mollifier", ["gaussian", "bump"])
def test_etdrk4_step_equals_the_former_step(mollifier):
    m = Dislocations2D(delta=0.1, beta=1.0, amplitude=0.4, mollifier=mollifier)
    n = 64
    problem, u0, _, dt = m.lattice_problem(1 / n)
    new = ETDRK4().step(problem, 0.0, u0, dt)
    old = ETDRK4().step(former_lattice_problem(m, n), 0.0, u0, dt)
    dens_new, dens_old = (fft.irfftn(u, (n, n), ndim=2) for u in (new, old))
    np.testing.assert_allclose(dens_new, dens_old, rtol=0, atol=1e-13 * np.abs(dens_old).max())
    np.testing.assert_allclose(dens_new.sum(axis=(1, 2)), fft.irfftn(u0, (n, n), ndim=2).sum(axis=(1, 2)),
                               rtol=1e-14)
