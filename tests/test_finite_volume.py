"""Finite volumes: conservation to round-off, positivity under the stated step, measured orders."""

import numpy as np
import pytest

from meanfield.rates import fit_rate
from meanfield.solvers.finite_volume import advection_rhs, laplacian, max_stable_dt, n_faces
from meanfield.solvers.grids import UniformGrid
from meanfield.solvers.timestepping import integrate_ssp

rng = np.random.default_rng(7)


def _face_shape(grid, axis):
    s = list(grid.shape)
    s[axis] = n_faces(grid, axis)
    return tuple(s)


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("shape", [(50,), (20, 30)])
def test_mass_conserved_and_positive_with_random_velocities(periodic, order, shape):
    grid = UniformGrid(0, 1, shape, periodic=periodic)
    rho = rng.random(shape) * (rng.random(shape) > 0.5)
    vel = [rng.normal(size=_face_shape(grid, a)) for a in range(grid.ndim)]
    cfl = 1.0 if order == 1 else 0.5
    dt = max_stable_dt(vel, grid, cfl)
    (out,), _ = integrate_ssp(lambda t, u: advection_rhs(u, vel, grid, order), rho, 50 * dt, dt=dt)
    assert abs(grid.integrate(out) - grid.integrate(rho)) <= 1e-13 * grid.integrate(rho)
    assert out.min() >= -1e-14


def test_upwind_at_cfl_one_translates_exactly():
    grid = UniformGrid(0, 1, 40)
    rho = rng.random(40)
    vel = [np.full(40, 0.5)]
    dt = max_stable_dt(vel, grid, 1.0)
    (out,), _ = integrate_ssp(lambda t, u: advection_rhs(u, vel, grid, 1), rho, 7 * dt, dt=dt, order=1)
    np.testing.assert_allclose(out, np.roll(rho, 7), atol=1e-14)


@pytest.mark.parametrize("order,band", [(1, (0.85, 1.15)), (2, (1.7, 2.3))])
def test_measured_order_smooth_advection(order, band):
    errors, hs = [], []
    for n in (64, 128, 256, 512):
        grid = UniformGrid(0, 1, n)
        x = grid.centres[0]
        h = 1 / n
        # exact cell averages of 1.2 + sin(2 pi x), advected with speed 1 to t = 0.5
        def cell_averages(c, h=h):
            return (-(np.cos(2 * np.pi * (c + h / 2)) - np.cos(2 * np.pi * (c - h / 2))) / (2 * np.pi * h)) + 1.2

        rho0 = cell_averages(x)
        vel = [np.ones(n)]
        dt = 0.4 * h
        (out,), _ = integrate_ssp(lambda t, u, vel=vel, grid=grid: advection_rhs(u, vel, grid, order), rho0, 0.5, dt=dt)
        cell_avg = cell_averages(x - 0.5)
        errors.append(h * np.abs(out - cell_avg).sum())
        hs.append(h)
    fit = fit_rate(hs, errors)
    assert band[0] < fit.slope < band[1], fit


@pytest.mark.parametrize("periodic", [True, False])
def test_laplacian_second_order_and_conservative(periodic):
    errors, hs = [], []
    for n in (32, 64, 128, 256):
        grid = UniformGrid((0, 0), (1, 1), (n, n), periodic=periodic)
        x, y = grid.mesh()
        f = np.cos(2 * np.pi * x) * np.cos(np.pi * y) if not periodic else np.cos(2 * np.pi * x) * np.sin(2 * np.pi * y)
        exact = (-(4 + 1) * np.pi**2 * f) if not periodic else (-8 * np.pi**2 * f)
        lap = laplacian(f, grid)
        assert abs(grid.integrate(lap)) < 1e-10
        errors.append(np.abs(lap - exact).max())
        hs.append(1 / n)
    fit = fit_rate(hs, errors)
    assert 1.85 < fit.slope < 2.15, fit


def test_laplacian_is_findiffs_stencil_on_periodic_grids_and_conservative_at_walls():
    # periodic: findiff's second derivative (acc=2) is the same operator to round-off, order 2
    findiff = pytest.importorskip("findiff")

    def fd_laplacian(grid):
        ops = [findiff.Diff(a, grid.spacing[a], periodic=grid.periodic[a], acc=2) ** 2 for a in range(grid.ndim)]
        return lambda f: sum(op(f) for op in ops)

    for n in (32, 128):
        grid = UniformGrid((0, 0), (1, 1.5), (n, n + 8), periodic=True)
        f = rng.random(grid.shape)
        ours, theirs = laplacian(f, grid), fd_laplacian(grid)(f)
        assert np.abs(ours - theirs).max() <= 1e-12 * np.abs(theirs).max()
    # walls: findiff's one-sided stencils (no boundary condition) do not conserve mass; ours does
    grid = UniformGrid((0, 0), (1, 1), (64, 64), periodic=False)
    x, y = grid.mesh()
    f = np.exp(x + y)
    assert abs(grid.integrate(laplacian(f, grid))) < 1e-12
    assert abs(grid.integrate(fd_laplacian(grid)(f))) > 1.0  # 5.9


@pytest.mark.parametrize("order", [1, 2])
def test_leading_batch_axes_equal_separate_calls(order):
    grid = UniformGrid((0, 0), (1, 2), (12, 9), periodic=(True, False))
    rho = rng.random((3, 12, 9))
    vel = [rng.normal(size=(3, 12, 9)), rng.normal(size=(3, 12, 10))]
    both = advection_rhs(rho, vel, grid, order)
    for k in range(3):
        np.testing.assert_array_equal(both[k], advection_rhs(rho[k], [v[k] for v in vel], grid, order))
    assert max_stable_dt(vel, grid) == min(max_stable_dt([v[k] for v in vel], grid) for k in range(3))
    np.testing.assert_array_equal(laplacian(rho, grid)[1], laplacian(rho[1], grid))


def test_bad_input():
    grid = UniformGrid(0, 1, 10, periodic=False)
    with pytest.raises(ValueError, match=r"shape \(11,\)"):
        advection_rhs(np.ones(10), [np.ones(10)], grid)
    with pytest.raises(ValueError, match=r"cell values must have shape \(10,\)"):
        advection_rhs(np.ones(9), [np.ones(11)], grid)
    with pytest.raises(ValueError, match="one face-velocity array per axis"):
        advection_rhs(np.ones(10), [np.ones(11), np.ones(11)], grid)
    with pytest.raises(ValueError, match="order"):
        advection_rhs(np.ones(10), [np.ones(11)], grid, order=3)
    with pytest.raises(ValueError, match="cfl"):
        max_stable_dt([np.ones(11)], grid, 0)
