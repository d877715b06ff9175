"""Finite volumes for the transport of the active parts of two signed densities on a 1-D interval with
walls: the continuum equation (1.3) of model 001 (theory page ``docs/theory/001-annihilation.md``),

    ∂_t ρ^± = ([κ]_± (V' * [κ]_± + W' * [κ]_∓))',   κ = ρ⁺ - ρ⁻.

Only the active part ``σ^± = [ρ⁺_j - ρ⁻_j]_±`` of each cell is transported, with the upwind flux
(:func:`meanfield.solvers.finite_volume.upwind_flux`). The nonlocal velocities at the cell centres are Toeplitz
products with the exact cell integrals ``∫_{C_k} V'(x_j - y) dy = V(x_j - x_{k-½}) - V(x_j - x_{k+½})``
(:func:`cell_kernel_hat`; the singular self-cell term is 0 for an even V), done by zero-padded FFT for
both species in one batched transform (:mod:`meanfield.solvers.fft`); face velocities are averages of the
neighbouring centres, 0 on the walls. SSP-RK3 (:func:`meanfield.solvers.timestepping.integrate`) under
``dt = cfl h / max|v|`` keeps ρ^± ≥ 0 and conserves each species' mass to round-off.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from meanfield.solvers import fft
from meanfield.solvers.finite_volume import divergence, upwind_flux
from meanfield.solvers.grids import UniformGrid
from meanfield.solvers.timestepping import SSPRK3, ODEProblem, StepFunction, integrate, step_budget

__all__ = ["cell_kernel_hat", "solve_active_transport"]


def cell_kernel_hat(value, grid: UniformGrid):
    """Transform (for the zero-padded Toeplitz product) of ``K(r) = value(r + h/2) - value(r - h/2)`` at
    the centre offsets r = x_j - x_k: the cell integrals of ``value'`` (module docstring)."""
    h = grid.spacing[0]
    return fft.free_space_kernel_hat(lambda m: value(m + h / 2) - value(m - h / 2), (grid.shape[0],), (h,))


def solve_active_transport(rho0, grid: UniformGrid, v_hat, w_hat, times, cfl):
    """States ``(len(times), 2, n)`` of ρ^± from ``rho0`` (shape ``(2, n)``) at the output ``times``,
    with ``v_hat``/``w_hat`` from :func:`cell_kernel_hat` (``w_hat`` None for W ≡ 0). Returns
    ``(states, stepper, rule)``; a ``cfl`` needing more than the driver's step cap at the initial speed
    is refused before any step (:func:`meanfield.solvers.timestepping.step_budget`)."""
    n = grid.shape[0]
    h = grid.spacing[0]
    cache: dict[str, Any] = {}

    def velocities(r):
        if cache.get("r") is r:
            return cache["out"]
        kappa = r[0] - r[1]
        sig = np.stack([np.clip(kappa, 0, None), np.clip(-kappa, 0, None)])
        padded = np.zeros((2, 2 * n))
        padded[:, :n] = sig
        s_hat = fft.rfftn(padded, ndim=1)
        # v^± = -(V' * σ^± + W' * σ^∓) at centres: both species in one batched transform
        prod = s_hat * v_hat
        if w_hat is not None:
            prod = prod + s_hat[::-1] * w_hat
        centre = -fft.irfftn(prod, 2 * n, ndim=1)[:, :n]
        faces = np.zeros((2, n + 1))
        faces[:, 1:-1] = 0.5 * (centre[:, 1:] + centre[:, :-1])  # walls: zero flux
        cache["r"], cache["out"] = r, (sig, faces)
        return sig, faces

    def rhs(_t, r):
        sig, faces = velocities(r)
        return np.stack([divergence([upwind_flux(sig[k], faces[k], grid, 0)], grid) for k in range(2)])

    def cfl_rule(_t, r):  # dt = cfl h / max|v| on the faces (inf when nothing moves: the driver clips)
        _, faces = velocities(r)
        return cfl * h / max(float(np.abs(faces).max()), 1e-300)

    times = np.asarray(times, dtype=float)
    step_budget(f"cfl={cfl!r}: the initial step cfl h / max|v|", cfl_rule(0.0, rho0), times[-1])
    stepper, rule = SSPRK3(), StepFunction(cfl_rule, f"cfl (dt = {cfl:g} h / max|v|)")
    states = np.array(integrate(stepper, ODEProblem(rhs), rho0, times[-1], times, rule).states)
    return states, stepper, rule
