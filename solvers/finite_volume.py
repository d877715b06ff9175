"""Conservative finite volumes on a :class:`~solvers.grids.UniformGrid` (1-3 D, periodic or walls).

Face convention, per axis ``a`` with ``n`` cells: face ``k`` is the left face of cell ``k``.
A periodic axis has ``n`` faces (face 0 between cells ``n-1`` and 0); an axis with no-flux walls
has ``n + 1`` faces, the first and last being walls whose flux is forced to zero. So the update
``d rho / dt = -div F`` conserves the total mass to round-off on every grid.

* :func:`upwind_flux`: first-order donor-cell flux ``v⁺ rho_left + v⁻ rho_right``;
* :func:`muscl_flux`: second order, minmod-limited linear reconstruction (van Leer 1979);
* :func:`max_stable_dt`: the largest forward-Euler step keeping the upwind update non-negative
  (each cell's outflow rate times dt at most ``cfl``); MUSCL needs ``cfl <= 1/2``. SSP-RK3
  (:mod:`solvers.timestepping.ssp`) keeps both properties with the same step;
* :func:`laplacian`: centred second-order ``div(grad rho)`` in flux form, zero flux on walls.
"""

from __future__ import annotations

import numpy as np

from .grids import UniformGrid

__all__ = ["n_faces", "upwind_flux", "muscl_flux", "divergence", "advection_rhs", "max_stable_dt", "laplacian"]


def n_faces(grid: UniformGrid, axis: int) -> int:
    n = grid.shape[axis]
    return n if grid.periodic[axis] else n + 1


def _check_faces(grid, velocity, axis):
    v = np.asarray(velocity, dtype=float)
    shape = list(grid.shape)
    shape[axis] = n_faces(grid, axis)
    if v.shape != tuple(shape):
        raise ValueError(f"face velocity on axis {axis} must have shape {tuple(shape)}, got {v.shape}")
    return v


def _left_right(grid, values, axis):
    """Cell values to the left and right of every face (walls: the wall's own cell on both sides)."""
    q = np.moveaxis(values, axis, 0)
    if grid.periodic[axis]:
        left, right = np.roll(q, 1, axis=0), q
    else:
        left = np.concatenate((q[:1], q), axis=0)
        right = np.concatenate((q, q[-1:]), axis=0)
    return left, right


def _zero_walls(grid, flux, axis):
    if not grid.periodic[axis]:
        f = np.moveaxis(flux, axis, 0)
        f[0] = 0.0
        f[-1] = 0.0
    return flux


def upwind_flux(rho, velocity, grid: UniformGrid, axis: int = 0):
    """Donor-cell flux at the faces of ``axis`` (shape as the face velocity)."""
    v = _check_faces(grid, velocity, axis)
    left, right = _left_right(grid, np.asarray(rho, dtype=float), axis)
    vm = np.moveaxis(v, axis, 0)
    flux = np.maximum(vm, 0.0) * left + np.minimum(vm, 0.0) * right
    return _zero_walls(grid, np.moveaxis(flux, 0, axis), axis)


def _minmod(a, b):
    return np.where(a * b > 0, np.sign(a) * np.minimum(np.abs(a), np.abs(b)), 0.0)


def muscl_flux(rho, velocity, grid: UniformGrid, axis: int = 0):
    """Upwind flux of the minmod-limited piecewise-linear reconstruction (second order)."""
    v = _check_faces(grid, velocity, axis)
    q = np.moveaxis(np.asarray(rho, dtype=float), axis, 0)
    if grid.periodic[axis]:
        back, fwd = q - np.roll(q, 1, axis=0), np.roll(q, -1, axis=0) - q
    else:
        d = np.diff(q, axis=0)
        zero = np.zeros_like(q[:1])
        back, fwd = np.concatenate((zero, d), axis=0), np.concatenate((d, zero), axis=0)
    slope = _minmod(back, fwd)
    plus, minus = q + 0.5 * slope, q - 0.5 * slope  # values at each cell's right / left face
    if grid.periodic[axis]:
        left, right = np.roll(plus, 1, axis=0), minus
    else:
        left = np.concatenate((plus[:1], plus), axis=0)
        right = np.concatenate((minus, minus[-1:]), axis=0)
    vm = np.moveaxis(v, axis, 0)
    flux = np.maximum(vm, 0.0) * left + np.minimum(vm, 0.0) * right
    return _zero_walls(grid, np.moveaxis(flux, 0, axis), axis)


def divergence(fluxes, grid: UniformGrid):
    """``-div F`` per cell from face fluxes (one array per axis): the conservative update."""
    if len(fluxes) != grid.ndim:
        raise ValueError(f"need one face-flux array per axis ({grid.ndim}), got {len(fluxes)}")
    out = np.zeros(grid.shape)
    for axis, flux in enumerate(fluxes):
        f = np.moveaxis(np.asarray(flux, dtype=float), axis, 0)
        if grid.periodic[axis]:
            d = np.roll(f, -1, axis=0) - f
        else:
            d = f[1:] - f[:-1]
        out -= np.moveaxis(d, 0, axis) / grid.spacing[axis]
    return out


def advection_rhs(rho, velocities, grid: UniformGrid, order: int = 1):
    """``-div(rho v)`` with face velocities ``velocities[axis]``; ``order`` 1 (upwind) or 2 (MUSCL)."""
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    flux = upwind_flux if order == 1 else muscl_flux
    return divergence([flux(rho, v, grid, a) for a, v in enumerate(velocities)], grid)


def max_stable_dt(velocities, grid: UniformGrid, cfl: float = 1.0) -> float:
    """Largest forward-Euler step with ``dt * (outflow rate of every cell) <= cfl``.

    For the donor-cell update this is exactly the positivity condition at ``cfl = 1``; use
    ``cfl = 1/2`` for MUSCL. Returns ``inf`` when nothing moves.
    """
    if not (np.isfinite(cfl) and cfl > 0):
        raise ValueError(f"cfl must be positive, got {cfl!r}")
    rate = np.zeros(grid.shape)
    for axis, v in enumerate(velocities):
        vm = np.moveaxis(_check_faces(grid, v, axis), axis, 0)
        right = np.roll(vm, -1, axis=0) if grid.periodic[axis] else vm[1:]
        left = vm if grid.periodic[axis] else vm[:-1]
        out_rate = (np.maximum(right, 0.0) - np.minimum(left, 0.0)) / grid.spacing[axis]
        rate += np.moveaxis(out_rate, 0, axis)
    peak = float(rate.max())
    return np.inf if peak == 0 else cfl / peak


def laplacian(rho, grid: UniformGrid):
    """Centred ``div(grad rho)`` in flux form (second order); zero flux through walls."""
    rho = np.asarray(rho, dtype=float)
    fluxes = []
    for axis in range(grid.ndim):
        left, right = _left_right(grid, rho, axis)
        grad = np.moveaxis((right - left) / grid.spacing[axis], 0, axis)
        fluxes.append(-_zero_walls(grid, grad, axis))
    return divergence(fluxes, grid)
