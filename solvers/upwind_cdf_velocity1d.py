"""Conservative finite volumes for two 1-D species transported by velocities that are functions of
the two cumulative distribution functions at cell faces.

    d/dt rho + d/dx (rho v_rho(F, H)) = 0,     d/dt eta + d/dx (eta v_eta(F, H)) = 0,

with F, H the CDFs of rho, eta. On a uniform grid the face CDFs are exact prefix sums of cell
masses (no convolution, no derivative, O(M)); the face fluxes are those of
:mod:`meanfield.solvers.finite_volume` (first-order donor cell ``v+ rho_k + v- rho_{k+1}`` or the
minmod-limited MUSCL reconstruction) with no-flux walls: the caller chooses a box containing the
support for all times. The state ``(rho, eta)`` of shape ``(2, M)`` is advanced by
:func:`meanfield.solvers.timestepping.integrate` with an SSP Runge–Kutta stepper (SSP-RK3 by default).

Step rule (positivity), a fixed step: the outflow of cell k in one forward Euler step is
``dt/dx (max(v_{k+1/2}, 0) + max(-v_{k-1/2}, 0)) rho_k <= 2 v_max dt/dx rho_k``, so
``dt = min(cfl dx / (2 v_max), dt_max)`` with ``cfl <= 1`` keeps every cell non-negative for the
donor-cell flux (``cfl <= 1/2`` for MUSCL, whose face values are at most twice the cell value: see
:func:`meanfield.solvers.finite_volume.max_stable_dt`); an SSP step (a convex combination of forward Euler
steps) keeps it too. ``v_max`` is an a-priori bound on |v| supplied by the caller (2 for paper
002), so the step is known in advance and a run that would need more than ``max_steps`` steps is
refused before any work. Mass is conserved to round-off because the update is in flux form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import numpy as np
from numpy.typing import ArrayLike

from meanfield.solvers.finite_volume import advection_rhs
from meanfield.solvers.grids import UniformGrid
from meanfield.solvers.timestepping import (
    DEFAULT_MAX_STEPS,
    SSPRK3,
    FixedStep,
    ODEProblem,
    Solution,
    Stepper,
    integrate,
)

__all__ = ["FLUX_ORDERS", "face_cdf", "solve_upwind_cdf_velocity"]

FLUX_ORDERS = {"upwind": 1, "muscl": 2}
_CFL_LIMIT = {"upwind": 1.0, "muscl": 0.5}


def face_cdf(rho: ArrayLike, dx: float) -> np.ndarray:
    """CDF at all M+1 faces from cell densities (exact prefix sums along the last axis).

    Parameters
    ----------
    rho : array_like
        Cell densities, shape ``(..., M)``.
    dx : float
        The cell width.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., M + 1)``: 0 at the left wall, then the cumulative cell masses.

    Examples
    --------
    >>> face_cdf([1.0, 2.0, 1.0], 0.25)
    array([0.  , 0.25, 0.75, 1.  ])
    """
    rho = np.asarray(rho, dtype=float)
    F = np.zeros((*rho.shape[:-1], rho.shape[-1] + 1))
    np.cumsum(rho * dx, axis=-1, out=F[..., 1:])
    return F


def solve_upwind_cdf_velocity(
    rho0: ArrayLike,
    eta0: ArrayLike,
    grid: UniformGrid,
    vel_rho: Callable[[np.ndarray, np.ndarray], np.ndarray],
    vel_eta: Callable[[np.ndarray, np.ndarray], np.ndarray],
    v_max: float,
    out_times: Sequence[float] | np.ndarray,
    t_end: float,
    cfl: float = 0.9,
    dt_max: float = np.inf,
    flux: str = "upwind",
    stepper: Stepper | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> tuple[np.ndarray, np.ndarray, Solution]:
    """Finite volumes on the 1-D walled ``grid`` from cell densities ``rho0``, ``eta0``.

    The step is fixed, ``dt = min(cfl dx / (2 v_max), dt_max)`` (module docstring: positivity).

    Parameters
    ----------
    rho0, eta0 : array_like
        The initial cell densities of the two species, each of the grid's shape ``(M,)``.
    grid : UniformGrid
        A one-dimensional grid with walls (no-flux), holding the support for all times.
    vel_rho, vel_eta : callable
        ``vel_rho(F, H)``, ``vel_eta(F, H)`` give the face velocities (M+1 values) from the face CDFs
        ``F`` of rho and ``H`` of eta (arrays of M+1 values).
    v_max : float
        A positive finite bound on the size of both velocities (2 for paper 002).
    out_times : array_like
        Increasing output times in ``[0, t_end]``.
    t_end : float
        The end of the run.
    cfl : float, optional
        In ``(0, 1]`` for ``flux="upwind"``, ``(0, 1/2]`` for ``"muscl"``.
    dt_max : float, optional
        A cap on the step (default: none).
    flux : {"upwind", "muscl"}, optional
        First-order donor cell or the second-order minmod-limited MUSCL reconstruction.
    stepper : Stepper or None, optional
        An SSP stepper of :mod:`meanfield.solvers.timestepping` (default ``SSPRK3()``).
    max_steps : int, optional
        The step cap of the driver.

    Returns
    -------
    rho_out, eta_out : numpy.ndarray
        The cell densities at ``out_times``, shape ``(len(out_times), M)`` each.
    solution : Solution
        The driver's :class:`~meanfield.solvers.timestepping.Solution` (``.steps``; ``.info``: scheme,
        declared order, step).

    Raises
    ------
    ValueError
        For a grid that is not 1-D with walls, an unknown ``flux``, a ``cfl`` outside its range, a
        ``v_max`` that is not positive and finite, a non-positive ``dt_max`` or initial densities of
        the wrong shape (before any step); the driver refuses runs over ``max_steps`` steps.

    References
    ----------
    :cite:`DiFrancescoEspositoSchmidtchen`; theory page ``docs/theory/002-newtonian.md``.

    Examples
    --------
    rho moves right and eta left at unit speed between walls; each mass is conserved to round-off:

    >>> import numpy as np
    >>> from meanfield.solvers.grids import UniformGrid
    >>> grid = UniformGrid(0.0, 1.0, 20, periodic=False)
    >>> rho0 = np.where(grid.centres[0] < 0.5, 2.0, 0.0)
    >>> rho, eta, sol = solve_upwind_cdf_velocity(
    ...     rho0, 2.0 - rho0, grid, lambda F, H: np.ones_like(F), lambda F, H: -np.ones_like(H),
    ...     1.0, [0.0, 0.1], 0.1)
    >>> rho.shape, sol.steps, sol.info["dt"]
    ((2, 20), 5, 0.0225...)
    >>> round(float(grid.integrate(rho[-1])), 12), round(float(grid.integrate(eta[-1])), 12)
    (1.0, 1.0)
    """
    if grid.ndim != 1 or grid.periodic[0]:
        raise ValueError(f"grid must be one-dimensional with walls, got {grid!r}")
    if flux not in FLUX_ORDERS:
        raise ValueError(f"flux must be one of {tuple(FLUX_ORDERS)}, got {flux!r}")
    cfl = float(cfl)
    if not 0 < cfl <= _CFL_LIMIT[flux]:
        raise ValueError(f"cfl must lie in (0, {_CFL_LIMIT[flux]:g}] for positivity with the {flux} flux, got {cfl!r}")
    v_max = float(v_max)
    if not (np.isfinite(v_max) and v_max > 0):
        raise ValueError(f"v_max must be a positive finite number, got {v_max!r}")
    if not float(dt_max) > 0:
        raise ValueError(f"dt_max must be positive, got {dt_max!r}")
    dx = float(grid.spacing[0])
    rule = FixedStep(min(cfl * dx / (2.0 * v_max), float(dt_max)))
    order = FLUX_ORDERS[flux]
    y0 = np.stack([np.asarray(rho0, dtype=float), np.asarray(eta0, dtype=float)])
    if y0.shape != (2, *grid.shape):
        raise ValueError(f"rho0 and eta0 must have the grid's shape {grid.shape}, got {y0.shape[1:]}")

    v = np.empty((2, grid.shape[0] + 1))  # face velocities of both species

    def rhs(_t, y):
        F, H = face_cdf(y, dx)
        v[0] = vel_rho(F, H)
        v[1] = vel_eta(F, H)
        return advection_rhs(y, [v], grid, order)

    stepper = SSPRK3() if stepper is None else stepper
    sol = integrate(stepper, ODEProblem(rhs), y0, t_end, cast(Sequence[float], out_times), rule, max_steps=max_steps)
    states = np.array(sol.states)
    return states[:, 0], states[:, 1], sol
