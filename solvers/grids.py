"""Uniform cell-centred grids in 1, 2 and 3 dimensions.

A :class:`UniformGrid` covers the box ``[lower, upper)`` with ``shape`` cells per axis. Each axis
is either periodic (a torus of length ``upper - lower``) or bounded with no-flux walls. Values on
the grid are cell averages located at the cell centres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["UniformGrid"]


def _as_tuple(value, ndim, name, cast):
    arr = np.atleast_1d(np.asarray(value))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a scalar or a 1-D sequence, got shape {arr.shape}")
    if arr.size == 1 and ndim > 1:
        arr = np.repeat(arr, ndim)
    if arr.size != ndim:
        raise ValueError(f"{name} has {arr.size} entries but the grid has {ndim} dimensions")
    return tuple(cast(v) for v in arr)


@dataclass(frozen=True, eq=True)
class UniformGrid:
    """Cell-centred uniform grid on the box ``[lower, upper)``.

    Parameters
    ----------
    lower, upper : float or sequence of float
        Box corners, one entry per dimension (a scalar is broadcast).
    shape : int or sequence of int
        Number of cells per axis (>= 1); 1, 2 or 3 axes.
    periodic : bool or sequence of bool, default True
        Whether each axis wraps around (torus) or has no-flux walls.

    Raises
    ------
    ValueError
        If ``shape`` does not hold 1 to 3 positive integers, ``lower``/``upper``/``periodic`` do not
        match its length, a corner is not finite or ``upper <= lower`` on some axis.

    Examples
    --------
    >>> grid = UniformGrid(0.0, 1.0, (4, 2), periodic=(True, False))
    >>> grid.ndim, grid.size, grid.cell_volume
    (2, 8, 0.125)
    >>> grid.centres[0]
    array([0.125, 0.375, 0.625, 0.875])
    >>> float(grid.integrate(np.ones(grid.shape)))
    1.0
    >>> grid.cell_index([[0.3, 0.9], [1.1, 0.2]])  # the first axis wraps around
    array([[1, 1],
           [0, 0]])
    """

    lower: tuple
    upper: tuple
    shape: tuple
    periodic: tuple

    def __init__(
        self, lower: ArrayLike, upper: ArrayLike, shape: int | Sequence[int], periodic: bool | Sequence[bool] = True
    ):
        shape_arr = np.atleast_1d(np.asarray(shape))
        ndim = shape_arr.size
        if ndim not in (1, 2, 3):
            raise ValueError(f"shape must have 1, 2 or 3 entries, got {tuple(shape_arr)}")
        shape_t = _as_tuple(shape, ndim, "shape", int)
        if any(n < 1 for n in shape_t) or not np.all(shape_arr == np.round(shape_arr)):
            raise ValueError(f"shape must hold positive integers, got {tuple(shape_arr)}")
        lo = _as_tuple(lower, ndim, "lower", float)
        hi = _as_tuple(upper, ndim, "upper", float)
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError(f"lower and upper must be finite, got lower={lo}, upper={hi}")
        if any(h <= low for low, h in zip(lo, hi, strict=True)):
            raise ValueError(f"upper must exceed lower on every axis, got lower={lo}, upper={hi}")
        per = _as_tuple(periodic, ndim, "periodic", bool)
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)
        object.__setattr__(self, "shape", shape_t)
        object.__setattr__(self, "periodic", per)

    # --- geometry -------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        """Number of dimensions (1, 2 or 3)."""
        return len(self.shape)

    @property
    def lengths(self) -> np.ndarray:
        """Box side lengths ``upper - lower`` per axis."""
        return np.asarray(self.upper) - np.asarray(self.lower)

    @property
    def spacing(self) -> np.ndarray:
        """Cell widths per axis."""
        return self.lengths / np.asarray(self.shape)

    @property
    def cell_volume(self) -> float:
        """Volume (length, area) of one cell."""
        return float(np.prod(self.spacing))

    @property
    def size(self) -> int:
        """Total number of cells."""
        return int(np.prod(self.shape))

    def axis_centres(self, axis: int) -> np.ndarray:
        """Cell-centre coordinates along one axis.

        Parameters
        ----------
        axis : int
            The axis, ``0 <= axis < ndim``.

        Returns
        -------
        numpy.ndarray
            ``shape[axis]`` coordinates.
        """
        h = self.spacing[axis]
        return self.lower[axis] + h * (np.arange(self.shape[axis]) + 0.5)

    def axis_edges(self, axis: int) -> np.ndarray:
        """Cell-edge coordinates along one axis.

        Parameters
        ----------
        axis : int
            The axis, ``0 <= axis < ndim``.

        Returns
        -------
        numpy.ndarray
            ``shape[axis] + 1`` coordinates from ``lower[axis]`` to ``upper[axis]``.
        """
        return np.linspace(self.lower[axis], self.upper[axis], self.shape[axis] + 1)

    @cached_property
    def centres(self) -> tuple:
        """Cell-centre coordinates as a tuple of 1-D arrays, one per axis."""
        return tuple(self.axis_centres(a) for a in range(self.ndim))

    @cached_property
    def edges(self) -> tuple:
        """Cell-edge coordinates as a tuple of 1-D arrays, one per axis."""
        return tuple(self.axis_edges(a) for a in range(self.ndim))

    def mesh(self) -> tuple:
        """Cell-centre coordinates broadcast to the full grid (``indexing='ij'``).

        Returns
        -------
        tuple of numpy.ndarray
            One array of shape ``shape`` per axis.
        """
        return tuple(np.meshgrid(*self.centres, indexing="ij"))

    def points(self) -> np.ndarray:
        """All cell centres, in C order.

        Returns
        -------
        numpy.ndarray
            Shape ``(size, ndim)``.
        """
        return np.stack([m.ravel() for m in self.mesh()], axis=1)

    # --- Fourier --------------------------------------------------------------------------
    def wavenumbers(self, real: bool = False) -> tuple:
        """Angular wavenumbers ``k = 2 pi m / L`` per axis, in FFT order.

        Only meaningful on periodic axes.

        Parameters
        ----------
        real : bool, default False
            Whether the last axis holds only the non-negative half used by real transforms
            (``numpy.fft.rfftfreq``).

        Returns
        -------
        tuple of numpy.ndarray
            One 1-D array per axis.
        """
        ks = []
        for a in range(self.ndim):
            n, h = self.shape[a], self.spacing[a]
            if real and a == self.ndim - 1:
                ks.append(2 * np.pi * np.fft.rfftfreq(n, d=h))
            else:
                ks.append(2 * np.pi * np.fft.fftfreq(n, d=h))
        return tuple(ks)

    def wavenumber_mesh(self, real: bool = False) -> tuple:
        """:meth:`wavenumbers` broadcast to the full (spectral) grid (``indexing='ij'``).

        Parameters
        ----------
        real : bool, default False
            As in :meth:`wavenumbers`.

        Returns
        -------
        tuple of numpy.ndarray
            One array per axis, of the shape of the (real) transform.
        """
        return tuple(np.meshgrid(*self.wavenumbers(real=real), indexing="ij"))

    def dealias_mask(self, real: bool = False) -> np.ndarray:
        """Orszag's 2/3 rule: the modes a quadratic product of the kept modes cannot alias onto.

        Parameters
        ----------
        real : bool, default False
            As in :meth:`wavenumbers`.

        Returns
        -------
        numpy.ndarray of bool
            True where every ``|k_a| < (2/3) π/h_a``, in the layout of :meth:`wavenumber_mesh`.
        """
        mask = np.ones((), dtype=bool)
        for a, k in enumerate(self.wavenumber_mesh(real=real)):
            mask = mask & (np.abs(k) < (2 / 3) * np.pi / self.spacing[a])
        return mask

    # --- integration ----------------------------------------------------------------------
    def integrate(self, values: np.ndarray) -> np.ndarray:
        """Integral of cell averages over the grid (the sum over the trailing ``ndim`` axes times the
        cell volume).

        Parameters
        ----------
        values : array_like
            Shape ``(..., *shape)``: leading axes (times, species) are kept.

        Returns
        -------
        numpy.ndarray
            Shape ``values.shape[:-ndim]`` (a 0-d array for one field).
        """
        values = np.asarray(values)
        axes = tuple(range(values.ndim - self.ndim, values.ndim))
        return values.sum(axis=axes) * self.cell_volume

    def refine(self, factor: int = 2) -> UniformGrid:
        """The same box with ``factor`` times as many cells per axis.

        Parameters
        ----------
        factor : int, default 2
            The refinement factor (>= 1).

        Returns
        -------
        UniformGrid

        Raises
        ------
        ValueError
            If ``factor`` is not a positive integer.
        """
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
            raise ValueError(f"factor must be a positive integer, got {factor!r}")
        return UniformGrid(self.lower, self.upper, tuple(n * factor for n in self.shape), self.periodic)

    def cell_index(self, positions: np.ndarray) -> np.ndarray:
        """Index of the cell containing each point (wrapped on periodic axes).

        Parameters
        ----------
        positions : array_like
            Shape ``(n, ndim)`` (or ``(n,)`` in 1-D). A point on the upper wall of a bounded axis
            belongs to the last cell.

        Returns
        -------
        numpy.ndarray of int64
            Shape ``(n, ndim)``.

        Raises
        ------
        ValueError
            If a point lies outside the box on a bounded axis.
        """
        pos = np.asarray(positions, dtype=float).reshape(-1, self.ndim)
        idx = np.floor((pos - np.asarray(self.lower)) / self.spacing).astype(np.int64)
        for a in range(self.ndim):
            if self.periodic[a]:
                idx[:, a] %= self.shape[a]
            else:
                # points exactly on the upper wall belong to the last cell
                idx[:, a] = np.where(pos[:, a] == self.upper[a], self.shape[a] - 1, idx[:, a])
                bad = (idx[:, a] < 0) | (idx[:, a] >= self.shape[a])
                if np.any(bad):
                    raise ValueError(
                        f"positions lie outside the grid on axis {a}: range "
                        f"[{pos[:, a].min()}, {pos[:, a].max()}] not in [{self.lower[a]}, {self.upper[a]}]"
                    )
        return idx
