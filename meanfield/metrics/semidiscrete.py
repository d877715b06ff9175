"""Certified brackets of W_1 and W_2 between particles and a piecewise-constant grid density, from
one sparse transport and the c-transform of its dual potentials (semi-discrete duality).

Setting. ``mu = Σ a_i δ_{x_i}`` (particles), ``rho`` a GridDensity (constant on each cell, the
measure itself, not its cell centres), equal masses, R^d or a torus (minimal image), d = 2 or 3,
cost ``c(x, y) = |x - y|^p`` with p = 1 or 2.

1. Each cell is split into ``q^d`` sub-cells (``subcells = q``) with centres ``c_j`` and masses
   ``m_j``; a sparse graph joins every particle to its ``k`` nearest sub-cell centres and every
   centre to its nearest particles, and POT's network simplex on that graph (``ot.emd`` with a
   sparse cost) returns a plan ``π`` and dual potentials ``u_i`` of the particles.

2. Upper bound: moving the mass ``π_ij`` from ``x_i`` uniformly onto sub-cell ``j`` couples mu and
   rho, so ``W_p^p <= Σ π_ij E|x_i - Y_j|^p`` with ``Y_j`` uniform on the sub-cell, which is
   ``|x_i - c_j|^2 + Σ_a s_a^2/12`` for p = 2 (exact) and at most ``sqrt(|x_i - c_j|^2 + Σ_a s_a^2/12)``
   for p = 1 (Jensen), ``s`` the sub-cell sides.                                          (eq. 1)
   Sharper coupling used (eq. 1'): a sub-cell served by several particles is cut into boxes of
   masses ``π_ij``, each particle taking the box on its side (recursive bisection along the longest
   side, :mod:`meanfield.metrics._boxsplit`); for p = 1 Jensen's bound is applied on 4^d children
   of each box.

3. Lower bound (Kantorovich duality): for any numbers ``u_i``, the c-transform
   ``g(y) = min_i (|x_i - y|^p - u_i)`` (over ALL particles, not just the graph's) makes
   ``u_i + g(y) <= c(x_i, y)`` everywhere, so ``W_p^p >= Σ a_i u_i + ∫ g dρ``. The integral over a
   sub-cell is bounded from below without quadrature error:

   * p = 2: ``g(y) - |y|^2 = min_i (affine in y)`` is concave (on a torus, a minimum over the
     images of each particle), so over a box it is at least the mean of its values at the box's
     2^d vertices, and ``∫_box |y|^2 = m (|c|^2 + Σ_a s_a^2/12)`` exactly;                   (eq. 2)
     A box whose 2^d vertices share one minimiser (particle and periodic image) lies in that
     minimiser's Laguerre cell, a convex polytope, where ``g - |y|^2`` is affine and the vertex
     mean is exact; the other boxes are split into 2^d children, ``levels`` times.           (eq. 2')
   * p = 1: if at the centre the best value beats the second best (another particle) by at least
     the sub-cell's diameter ``2r``, one cone ``|x_i - y| - u_i`` is the minimum on the whole
     sub-cell, and a cone is convex, so its mean is at least its value at the centre (Jensen);
     otherwise the box is split (``levels`` times), and what stays ambiguous uses
     ``g(y) >= g(c) - |y - c|`` (g is 1-Lipschitz), whose mean is at least
     ``g(c) - (Σ_a s_a^2/12)^{1/2}``.                                                       (eq. 3)

Both bounds are rigorous whatever the graph; when the graph contains an optimal plan (the usual
case with ``k`` nearest neighbours) the gap is the sub-cell term of eq. 1 and the vertex/Jensen
loss of eqs. 2–3, second order in the sub-cell size for p = 2. The c-transform over all particles
is exact and found by nearest-neighbour search in a lifted space
(:mod:`meanfield.metrics._ctransform_tree`: a k-d tree in d + 1 dimensions, ``O((N + M) log N)``
expected time, ``O(N + M)`` memory, ``M`` the number of evaluation points, about ``(n q)^d`` for a
grid of ``n^d`` cells), not by the ``O(N M)`` loop over all pairs.

Theory page: docs/theory/distances.md, "Certified brackets between particles and a density".
"""

from __future__ import annotations

import time

import numpy as np

from ..measures import EmpiricalMeasure, GridDensity
from ._inputs import check_equal_mass, check_int, check_memory, check_nonnegative, check_pair

__all__ = ["semidiscrete_bracket"]

_ROUND = 1e-9  # relative widening of both bounds (round-off of the sums and of POT's simplex)


def _ct():
    from ._ctransform_tree import ctransform_tree

    return ctransform_tree


def _subcells(rho, q):
    """Sub-cell centres ``(M, d)``, masses ``(M,)``, cell index of each, and sides ``s``."""
    grid = rho.grid
    s = grid.spacing / q
    fine_shape = tuple(n * q for n in grid.shape)
    axes = [grid.lower[a] + (np.arange(fine_shape[a]) + 0.5) * s[a] for a in range(grid.ndim)]
    centres = np.stack([c.ravel() for c in np.meshgrid(*axes, indexing="ij")], axis=1)
    masses = rho.cell_masses / q**grid.ndim
    for a in range(grid.ndim):
        masses = np.repeat(masses, q, axis=a)
    return centres, masses.ravel(), fine_shape, s


def _vertex_means(values, fine_shape):
    """Mean over the 2^d vertices of each sub-cell, from values on the ``fine_shape + 1`` vertex lattice."""
    v = values.reshape(tuple(n + 1 for n in fine_shape))
    out = np.zeros(fine_shape)
    d = len(fine_shape)
    for corner in np.ndindex(*(2,) * d):
        out += v[tuple(slice(c, c + n) for c, n in zip(corner, fine_shape, strict=True))]
    return (out / 2**d).ravel()


def _image_key(x, arg, y, per):
    """For each point ``y_j``: its minimiser's index and the integer image shift (one column per
    periodic axis) that makes it the nearest image, as an ``(M, 1 + d)`` int array."""
    cols = [arg]
    for a in np.flatnonzero(per > 0):
        diff = x[arg, a] - y[:, a]
        cols.append(np.round(diff / per[a]).astype(np.int64))
    return np.stack(cols, axis=1)


def _vertex_all_equal(key, fine_shape):
    """For each sub-cell: do its 2^d vertices have the same ``key`` row (values on the vertex lattice)?"""
    d = len(fine_shape)
    lattice = tuple(n + 1 for n in fine_shape)
    out = np.ones(fine_shape, dtype=bool)
    for col in key.T:
        v = col.reshape(lattice)
        first = v[tuple(slice(0, n) for n in fine_shape)]
        for corner in np.ndindex(*(2,) * d):
            out &= v[tuple(slice(c, c + n) for c, n in zip(corner, fine_shape, strict=True))] == first
    return out.ravel()


_CHUNK = 2**14  # boxes refined together: at most _CHUNK * 4^d vertices alive at once


def _concave_integral(x, u, centres, masses, bound, side, per, levels):
    """``_concave_box_integral`` over chunks of ``_CHUNK`` boxes (bounded memory)."""
    return sum(_concave_box_integral(x, u, centres[k:k + _CHUNK], masses[k:k + _CHUNK], bound[k:k + _CHUNK],
                                     side, per, levels) for k in range(0, masses.size, _CHUNK))


def _concave_box_integral(x, u, centres, masses, bound, side, per, levels):
    """Lower bound of ``∫ g dρ`` for ``g = min_i (|x_i - y|^2 - u_i)`` over boxes of sides ``side``
    centred at ``centres`` with masses ``masses`` (eq. 2'): each box is split into 2^d children,
    ``levels`` times; a child whose 2^d vertices have one minimiser (particle and image) lies in
    that minimiser's Laguerre cell (a convex polytope), where ``g - |y|^2`` is affine and the
    vertex mean is exact; the children still ambiguous at the last level keep the vertex-mean
    bound of eq. 2 (``g - |y|^2`` is concave). ``bound``: the boxes' own eq. 2 bounds, returned
    as they are when ``levels == 0``."""
    if levels == 0:
        return float(np.dot(masses, bound))
    total = 0.0
    dim = centres.shape[1] if centres.ndim == 2 else len(side)
    half = np.stack(np.meshgrid(*[(-0.5, 0.5)] * dim, indexing="ij"), axis=-1).reshape(-1, dim)
    for level in range(1, levels + 1):
        if masses.size == 0:
            break
        centres = (centres[:, None, :] + 0.5 * half[None, :, :] * side).reshape(-1, dim)
        masses = np.repeat(masses / 2**dim, 2**dim)
        side = side / 2
        verts = (centres[:, None, :] + half[None, :, :] * side).reshape(-1, dim)
        g, _, _, arg = _ct()(x, u, verts, per, 2)
        mean = (g - np.sum(verts**2, axis=1)).reshape(-1, 2**dim).mean(axis=1)
        box = mean + np.sum(centres**2, axis=1) + float(np.sum(side**2) / 12.0)
        key = _image_key(x, arg, verts, per)
        key = key.reshape(-1, 2**dim, key.shape[1])
        ambiguous = np.any(key != key[:, :1, :], axis=(1, 2))
        if level == levels:
            return total + float(np.dot(masses, box))
        total += float(np.dot(masses[~ambiguous], box[~ambiguous]))
        centres, masses = centres[ambiguous], masses[ambiguous]
    return total


def _graph(xp, centres, period, k, k_back):
    """Arcs (particle, centre): each particle's ``k`` nearest centres and each centre's ``k_back``
    nearest particles (a KD-tree, periodic when the domain is)."""
    from scipy.spatial import cKDTree

    box = None
    if period is not None:
        box = period
        xp, centres = np.mod(xp, period), np.mod(centres, period)
    tree_c = cKDTree(centres, boxsize=box)
    _, jj = tree_c.query(xp, k=min(k, centres.shape[0]))
    ii = np.repeat(np.arange(xp.shape[0]), jj.shape[1] if jj.ndim > 1 else 1)
    tree_p = cKDTree(xp, boxsize=box)
    _, ib = tree_p.query(centres, k=min(k_back, xp.shape[0]))
    jb = np.repeat(np.arange(centres.shape[0]), ib.shape[1] if ib.ndim > 1 else 1)
    arcs = np.unique(np.concatenate((ii * centres.shape[0] + jj.ravel(), ib.ravel() * centres.shape[0] + jb)))
    return arcs // centres.shape[0], arcs % centres.shape[0]


def _cost_of(x, centres, ii, jj, domain, p):
    d2 = np.sum(domain.displacement(x[ii], centres[jj]) ** 2, axis=1)
    return d2 if p == 2 else np.sqrt(d2)


def _solve(ot, sparse, a, b, x, centres, ii, jj, domain, p, num_iter_max):
    """Sparse network simplex on the pairs ``(ii, jj)``: ``(flow, rows, cols, u, v)`` of the
    optimal plan, or None if the graph admits no plan."""
    cost = _cost_of(x, centres, ii, jj, domain, p)
    iters = num_iter_max or max(10**7, 1000 * (a.size + b.size))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Problem infeasible": reported by the log
        plan, log = ot.emd(a, b, sparse.coo_matrix((cost, (ii, jj)), shape=(a.size, b.size)),
                           numItermax=iters, log=True, check_marginals=False)
    warning = log.get("warning")
    if warning and "infeasible" in str(warning).lower():
        return None
    if warning:
        raise RuntimeError(f"POT's network simplex did not converge: {warning}")
    plan = plan.tocoo()
    return plan.data, plan.row, plan.col, np.asarray(log["u"], float), np.asarray(log["v"], float)


def _cone_integral(x, u, centres, masses, side, per, period, levels, target):
    """Lower bound of ``∫ g dρ`` for ``g = min_i (|x_i - y| - u_i)`` (eq. 3), ``ρ`` uniform on boxes of
    sides ``side`` centred at ``centres`` with masses ``masses``. A box on which one cone is the
    minimum (its lead at the centre over the second best is at least the box's diameter, and on a
    torus one image of its particle is the nearest over the whole box) contributes ``m g(c)``
    (the cone is convex: Jensen); the others are split into 2^d children, ``levels`` times, and
    what is still ambiguous at the end contributes ``m (g(c) - e)`` with ``e = (Σ_a side_a^2/12)^{1/2}``
    (g is 1-Lipschitz, so ``g(y) >= g(c) - |y - c|``, and ``E|Y - c| <= e`` by Jensen). The
    splitting stops early once that penalty is below ``target``."""
    total = 0.0
    dim = centres.shape[1]
    offsets = np.stack(np.meshgrid(*[(-0.25, 0.25)] * dim, indexing="ij"), axis=-1).reshape(-1, dim)
    for level in range(levels + 1):
        r = 0.5 * float(np.linalg.norm(side))
        g, g2, reach, _ = _ct()(x, u, centres, per, 1)
        ambiguous = (g2 - g) < 2 * r
        if period is not None:
            ambiguous |= reach + float(np.max(0.5 * side / period)) >= 0.5
        total += float(np.dot(masses[~ambiguous], g[~ambiguous]))
        e = float(np.sqrt(np.sum(side**2) / 12.0))
        if level == levels or e * float(np.sum(masses[ambiguous])) <= target:
            total += float(np.dot(masses[ambiguous], g[ambiguous] - e))
            break
        centres = (centres[ambiguous][:, None, :] + offsets[None, :, :] * side).reshape(-1, dim)
        masses = np.repeat(masses[ambiguous] / 2**dim, 2**dim)
        side = side / 2
    return total


def _split_plan_cost(disp, flow, cols, side, p):
    """Cost of the coupling that cuts each sub-cell into one box per particle it serves (eq. 1',
    :mod:`meanfield.metrics._boxsplit`); ``disp``: particle minus sub-cell centre for each pair."""
    from ._boxsplit import split_cost

    order = np.argsort(cols, kind="stable")
    starts = np.flatnonzero(np.r_[True, cols[order][1:] != cols[order][:-1], True])
    return float(split_cost(np.ascontiguousarray(disp[order], dtype=float), np.ascontiguousarray(flow[order], float),
                            starts.astype(np.int64), np.asarray(side, dtype=float), int(p)))


def semidiscrete_bracket(mu, nu, p=2, *, subcells: int | None = None, neighbours: int | None = None,
                         num_iter_max: int | None = None):
    """Certified bracket ``lower <= W_p(mu, nu) <= upper`` between particles and a grid density
    (either order), p = 1 or 2, in 2-D or 3-D (module docstring, eqs. 1–3).

    ``subcells``: sub-cells per axis per density cell (default: the smallest q with at least
    4 sub-cells per particle, at most 8). ``neighbours``: nearest sub-cell centres joined to each
    particle in the sparse transport (default ``8 + 4 M/N``; doubled, up to 4 times, while the
    graph admits no plan); pairs with a negative reduced cost are then added from the
    c-transform (column generation, at most 20 rounds) until the graph holds an optimal plan.
    Returns a :class:`~meanfield.metrics.transport_bounds.Bracket` with method ``"semidiscrete"``.
    """
    from .transport_bounds import Bracket

    max_rounds, levels = 10, 3

    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"p must be 1 or 2 for the semi-discrete bracket, got {p!r}")
    domain = check_pair(mu, nu)
    if domain.dim not in (2, 3):
        raise ValueError(f"the semi-discrete bracket is for 2-D and 3-D measures, got {domain.dim}-D")
    kinds = (isinstance(mu, EmpiricalMeasure), isinstance(nu, EmpiricalMeasure))
    if sorted(kinds) != [False, True] or not any(isinstance(m, GridDensity) for m in (mu, nu)):
        raise ValueError(f"the semi-discrete bracket needs one EmpiricalMeasure and one GridDensity, got "
                         f"{type(mu).__name__} and {type(nu).__name__}")
    parts, rho = (mu, nu) if kinds[0] else (nu, mu)
    check_nonnegative("mu", mu)
    check_nonnegative("nu", nu)
    check_equal_mass(mu, nu)
    neighbours = check_int("neighbours", neighbours, allow_none=True)
    num_iter_max = check_int("num_iter_max", num_iter_max, allow_none=True)
    grid = rho.grid
    if len(set(grid.periodic)) != 1:
        raise ValueError(f"the density's grid must be periodic on every axis or on none, got {grid.periodic}")
    n_parts, cells = parts.n, grid.size
    if subcells is None:
        q = 1
        while q < 8 and cells * q**grid.ndim < 4 * n_parts:
            q += 1
    else:
        q = check_int("subcells", subcells)
    n_fine = cells * q**grid.ndim
    n_vert = int(np.prod([n * q + 1 for n in grid.shape]))
    check_memory(8 * (4 * n_fine + 2 * n_vert) * (grid.ndim + 1)
                 + 48 * 8 * ((neighbours or 8 + 4 * -(-n_fine // n_parts)) * n_parts + 4 * n_fine),
                 f"the semi-discrete bracket with {n_parts} particles and {n_fine} sub-cells")
    t0 = time.perf_counter()
    period = np.asarray(domain.period, dtype=float) if domain.periodic else None
    per = period if period is not None else np.zeros(grid.ndim)
    x, a = parts.positions.astype(float), parts.weights.astype(float)
    centres, masses, fine_shape, s = _subcells(rho, q)
    keep = masses > 0
    jc = np.flatnonzero(keep)
    masses = masses * (a.sum() / masses.sum())  # equal to round-off (checked above)
    b = masses[keep]
    var = float(np.sum(s**2) / 12.0)
    import ot
    from scipy import sparse

    k = neighbours if neighbours is not None else 8 + 4 * -(-jc.size // n_parts)
    shift = 0.0 if period is None else np.asarray(domain.origin)
    for _ in range(5):  # a nearest-neighbour graph with no plan at all: double k
        ii, jj = _graph(x - shift, centres[jc] - shift, period, k, 4)
        if _solve(ot, sparse, a, b, x, centres[jc], ii, jj, domain, p, num_iter_max) is not None:
            break
        k *= 2
    else:
        raise RuntimeError(f"the sparse transport found no plan with up to {k // 2} neighbours per particle")
    rounds = 0
    while True:  # column generation: add the pairs whose reduced cost is negative, until none
        rounds += 1
        flow, pi, pj, u, v = _solve(ot, sparse, a, b, x, centres[jc], ii, jj, domain, p, num_iter_max)
        best, _, _, arg = _ct()(x, u, centres[jc], per, p)
        # what the pairs missing from the graph can still cost the lower bound (eqs. 2-3 use the
        # c-transform, valid whatever the graph): stop when it is below 1e-3 of the plan's cost
        loss = float(np.dot(b, np.clip(v - best, 0.0, None)))
        bad = np.flatnonzero(best < v - 1e-12 * max(1.0, float(np.max(np.abs(v)))))
        if bad.size == 0 or loss <= 1e-3 * float(np.dot(flow, _cost_of(x, centres[jc], pi, pj, domain, p))) \
                or rounds >= max_rounds:
            break
        pairs = np.unique(np.concatenate((ii * jc.size + jj, arg[bad] * jc.size + bad)))
        ii, jj = pairs // jc.size, pairs % jc.size
    plan_cost = _split_plan_cost(domain.displacement(x[pi], centres[jc][pj]), flow, pj, s, p)
    mass = float(a.sum())
    if p == 2:
        axes = [grid.lower[ax] + np.arange(fine_shape[ax] + 1) * s[ax] for ax in range(grid.ndim)]
        verts = np.stack([c.ravel() for c in np.meshgrid(*axes, indexing="ij")], axis=1)
        g, _, _, arg = _ct()(x, u, verts, per, 2)
        h = _vertex_means(g - np.sum(verts**2, axis=1), fine_shape)
        cell_int = h + np.sum(centres**2, axis=1) + var
        # boxes whose vertices have different minimisers (particle and image): split (eq. 2')
        ambiguous = ~_vertex_all_equal(_image_key(x, arg, verts, per), fine_shape) & (masses > 0)
        lower_pp = float(np.dot(a, u) + np.dot(masses[~ambiguous], cell_int[~ambiguous]))
        lower_pp += _concave_integral(x, u, centres[ambiguous], masses[ambiguous], cell_int[ambiguous],
                                      s, per, levels)
    else:
        lower_pp = float(np.dot(a, u)) + _cone_integral(x, u, centres[jc], masses[jc], s, per, period, levels,
                                                           1e-3 * plan_cost)
    scale = _ROUND * max(abs(plan_cost), abs(lower_pp))
    upper = (plan_cost + scale) ** (1.0 / p)
    lower = max(0.0, lower_pp - scale) ** (1.0 / p)
    lower = min(lower, upper)
    return Bracket(lower, upper, "semidiscrete", f"W{p}", {
        "subcells": q, "neighbours": k, "rounds": rounds, "pairs": int(ii.size), "sub_cells": int(jc.size),
        "particles": n_parts,
        "discrete_upper": plan_cost ** (1.0 / p), "mass": mass, "seconds": time.perf_counter() - t0})
