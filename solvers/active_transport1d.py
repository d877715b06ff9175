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

from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from meanfield.solvers import fft
from meanfield.solvers.finite_volume import divergence, upwind_flux
from meanfield.solvers.grids import UniformGrid
from meanfield.solvers.timestepping import SSPRK3, ODEProblem, StepFunction, integrate, step_budget

__all__ = ["cell_kernel_hat", "solve_active_transport"]


def cell_kernel_hat(value: Callable[[np.ndarray], np.ndarray], grid: UniformGrid) -> np.ndarray:
    """Transform of the cell-integrated kernel of a potential, for the zero-padded Toeplitz product.

    The kernel is ``K(r) = value(r + h/2) - value(r - h/2)`` at the centre offsets ``r = x_j - x_k``:
    the exact cell integrals ``∫_{C_k} V'(x_j - y) dy`` of the force ``V' = value'`` (module docstring),
    transformed by :func:`meanfield.solvers.fft.free_space_kernel_hat` on the doubled grid.

    Parameters
    ----------
    value : callable
        The potential ``V(r)`` (vectorised over an array of offsets; even, so the self-cell term is 0).
    grid : UniformGrid
        The one-dimensional grid of the finite volumes (spacing ``h``, ``n`` cells).

    Returns
    -------
    numpy.ndarray
        The ``n + 1`` complex coefficients of the real transform of length ``2 n``.

    References
    ----------
    :cite:`vanMeursMorandotti2019`, eq. (1.3); theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    >>> import numpy as np
    >>> from meanfield.solvers.grids import UniformGrid
    >>> grid = UniformGrid(-2.0, 2.0, 40, periodic=False)
    >>> v_hat = cell_kernel_hat(lambda r: -np.log(np.abs(r)), grid)
    >>> v_hat.shape, v_hat.dtype
    ((41,), dtype('complex128'))
    """
    h = grid.spacing[0]
    return fft.free_space_kernel_hat(lambda m: value(m + h / 2) - value(m - h / 2), (grid.shape[0],), (h,))


def solve_active_transport(
    rho0: np.ndarray,
    grid: UniformGrid,
    v_hat: np.ndarray,
    w_hat: np.ndarray | None,
    times: Sequence[float] | np.ndarray,
    cfl: float,
) -> tuple[np.ndarray, SSPRK3, StepFunction]:
    """Advance ρ^± of (1.3) by upwind finite volumes and SSP-RK3 under the CFL rule.

    Only the active parts ``[κ]_±`` are transported (module docstring); ``dt = cfl h / max|v|`` over
    the faces at every step.

    Parameters
    ----------
    rho0 : numpy.ndarray
        The initial cell densities, shape ``(2, n)`` (ρ⁺ then ρ⁻), non-negative.
    grid : UniformGrid
        The one-dimensional grid with walls (zero flux on both ends).
    v_hat : numpy.ndarray
        The transform of the cell-integrated kernel of V (:func:`cell_kernel_hat`).
    w_hat : numpy.ndarray or None
        The same for W, or None for W ≡ 0.
    times : array_like
        Increasing output times from 0; the last one is the end of the run.
    cfl : float
        The CFL number in (0, 1] (positivity of the upwind scheme).

    Returns
    -------
    states : numpy.ndarray
        ρ^± at the output ``times``, shape ``(len(times), 2, n)``.
    stepper : SSPRK3
        The time stepper (its ``describe()`` goes into the dataset's solver attributes).
    rule : StepFunction
        The CFL step rule (likewise).

    Raises
    ------
    ValueError
        If ``cfl`` would need more than the driver's step cap at the initial speed
        (:func:`meanfield.solvers.timestepping.step_budget`), before any step.

    References
    ----------
    :cite:`vanMeursMorandotti2019`, eq. (1.3); theory page ``docs/theory/001-annihilation.md``.

    Examples
    --------
    Two blocks of opposite sign under ``V = -log|r|``, ``W ≡ 0``: each species keeps its mass to
    round-off and stays non-negative.

    >>> import numpy as np
    >>> from meanfield.solvers.grids import UniformGrid
    >>> grid = UniformGrid(-2.0, 2.0, 40, periodic=False)
    >>> x = grid.centres[0]
    >>> rho0 = np.stack([np.where(x < -0.5, 1 / 3, 0.0), np.where(x > 0.5, 1 / 3, 0.0)])
    >>> v_hat = cell_kernel_hat(lambda r: -np.log(np.abs(r)), grid)
    >>> states, stepper, rule = solve_active_transport(rho0, grid, v_hat, None, [0.0, 0.05], 0.4)
    >>> states.shape, bool(states.min() >= 0)
    ((2, 2, 40), True)
    >>> float(np.abs(grid.integrate(states[-1]) - grid.integrate(rho0)).max()) < 1e-14
    True
    """
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
    states = np.array(integrate(stepper, ODEProblem(rhs), rho0, times[-1], cast(Sequence[float], times), rule).states)
    return states, stepper, rule
