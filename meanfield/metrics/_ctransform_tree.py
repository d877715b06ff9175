"""Exact c-transform of dual potentials by nearest-neighbour search in a lifted space, for
:mod:`meanfield.metrics.semidiscrete`: ``O((N + M) log N)`` expected time instead of the ``O(N M)``
of the direct loop (:func:`meanfield.metrics._ctransform.ctransform`, kept as the reference).

For particles ``x_i`` with potentials ``u_i`` and evaluation points ``y_j`` we need the best and the
second-best value of ``c_ij = |x_i - y_j|^p - u_i`` over ALL particles (minimal image on a torus).
With ``U = max_i u_i`` and the lift ``w_i = U - u_i >= 0``:

* p = 2 (power diagram): ``c_ij + U = |x_i - y_j|^2 + w_i = |(x_i, sqrt(w_i)) - (y_j, 0)|^2``, a
  squared Euclidean distance in d + 1 dimensions, so the two smallest ``c_ij`` are the two nearest
  lifted particles of ``(y_j, 0)``: one k-d tree query with k = 2.                          (eq. 1)
* p = 1 (additively weighted distance): ``c_ij + U = |x_i - y_j| + w_i =: m_ij`` and, with the
  Euclidean lifted distance ``s_ij = |(x_i, w_i) - (y_j, 0)|``, ``s_ij <= m_ij``. Among the k
  Euclidean-nearest lifted particles take the two smallest ``m``; every particle outside them has
  ``m >= s >= s_(k)`` (the k-th Euclidean distance), so when ``s_(k) > m_(2)`` the two are exact;
  rows where this fails are queried again with 2k neighbours, until it holds or k = N.      (eq. 2)

On a torus the tree is periodic in the first d axes (scipy's ``boxsize``, 0 for the lift axis).
The values returned are recomputed directly as ``|x_i - y_j|^p - u_i`` for the indices found, and a
bound on the round-off of the search (which can swap two candidates closer than it) is subtracted
from the best value, so that ``best_j <= c_ij`` holds for every ``i`` as the certified bounds of
``semidiscrete`` require.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ctransform_tree"]

_EPS = np.finfo(float).eps


def _wrap(z, period):
    """Points of ``z`` wrapped into ``[0, period)`` on the periodic axes (``period > 0``)."""
    out = np.array(z, dtype=float, copy=True)
    for a in np.flatnonzero(period > 0):
        out[:, a] = np.mod(out[:, a], period[a])
        out[:, a][out[:, a] >= period[a]] = 0.0  # np.mod can round up to the period itself
    return out


def _displacement(x, y, period):
    """``x - y`` row by row, minimal image on the periodic axes."""
    diff = x - y
    for a in np.flatnonzero(period > 0):
        diff[:, a] -= period[a] * np.round(diff[:, a] / period[a])
    return diff


def _values(x, u, y, idx, period, p):
    """``|x_idx - y|^p - u_idx`` and the displacement, row by row."""
    diff = _displacement(x[idx], y, period)
    d2 = np.einsum("ij,ij->i", diff, diff)
    return (d2 if p == 2 else np.sqrt(d2)) - u[idx], diff


def ctransform_tree(x, u, y, period, p, *, workers=1):
    """Best and second-best value of ``|x_i - y_j|^p - u_i`` over the particles ``i`` for every point
    ``y_j``, the largest ``|displacement_a| / period_a`` to the best particle (0 in free space), and
    the best particle's index: the same outputs as the direct kernel ``_ctransform.ctransform``
    (module docstring, eqs. 1–2). ``best`` is lowered by the round-off bound of the search.
    ``workers`` is passed to scipy's k-d tree queries (the result does not depend on it)."""
    from scipy.spatial import cKDTree

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    u = np.asarray(u, dtype=float)
    period = np.asarray(period, dtype=float)
    n, dim = x.shape
    m = y.shape[0]
    top = float(u.max())
    w = top - u
    lift = np.sqrt(w) if p == 2 else w
    xl = np.empty((n, dim + 1))
    xl[:, :dim] = _wrap(x, period)
    xl[:, dim] = lift
    yl = np.zeros((m, dim + 1))
    yl[:, :dim] = _wrap(y, period)
    periodic = bool(np.any(period > 0))
    tree = cKDTree(xl, boxsize=np.append(period, 0.0) if periodic else None)
    k = min(2 if p == 2 else 8, n)
    best = np.empty(m)
    second = np.full(m, np.inf)
    arg = np.zeros(m, np.int64)
    rows = np.arange(m)
    while rows.size:
        dist, idx = tree.query(yl[rows], k=k, workers=workers)
        if k == 1:
            dist, idx = dist[:, None], idx[:, None]
        vals = np.empty(idx.shape)
        for c in range(k):
            vals[:, c] = _values(x, u, y[rows], idx[:, c], period, p)[0]
        order = np.argsort(vals, axis=1, kind="stable")[:, :2]
        pick = np.arange(rows.size)
        best[rows] = vals[pick, order[:, 0]]
        arg[rows] = idx[pick, order[:, 0]]
        if k > 1:
            second[rows] = vals[pick, order[:, 1]]
        if p == 2 or k == n:
            break
        # eq. 2: exact when the k-th lifted distance exceeds the second-best m = value + U
        slack = 4 * _EPS * (np.abs(second[rows]) + top + dist[:, -1])
        unresolved = dist[:, -1] <= second[rows] + top + slack
        rows = rows[unresolved]
        k = min(2 * k, n)
    # round-off of the lifted comparisons: a candidate closer than this to the best may be missed
    spread = float(np.max(w)) if n else 0.0
    reach_d2 = np.max(dist) ** 2 if p == 2 and m else 0.0
    best -= 16 * _EPS * (spread + float(reach_d2) + np.abs(best))
    diff = _displacement(x[arg], y, period)
    reach = np.zeros(m)
    for a in np.flatnonzero(period > 0):
        reach = np.maximum(reach, np.abs(diff[:, a]) / period[a])
    return best, second, reach, arg
