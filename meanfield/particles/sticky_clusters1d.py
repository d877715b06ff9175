"""Exact event-driven gradient flow of paper 002's energy (24) for *general* masses.

With unequal masses the equal-mass collision rules (Thm 4.1, Thm 4.2) no longer hold: stuck x-y
pairs move, same-species particles can meet (when m_i + m_{i+1} < 2 n_j, theory page 002) and
clusters of three or more particles form. The solution is still the Brezis gradient flow of the
convex energy F (Thm 3.1) and its right derivative is minus the minimal-norm subgradient
(Remark 3.6), which is what this module computes, cluster by cluster.

Velocity of a cluster (theory page 002)
------------------------------------------------------------------
Let the particles at a common position lambda be x_i, i in I (consecutive ranks) and y_j, j in J.
Perturbing only them, the directional derivative of F is linear in the members' velocities except
for the cross terms m_i n_j |v_i - v_j| inside the cluster, and the cone forces v non-decreasing in
rank within each species. So the right-derivative v minimises

    sum_i m_i (v_i^2 / 2 - a_i v_i) + sum_j n_j (v_j^2 / 2 - b_j v_j) + sum_{i in I, j in J} m_i n_j |v_i - v_j|

over v non-decreasing within each species, where (cumulative masses M_k = m_1 + ... + m_k, N_k)

    a_i = M_{i-1} - (1 - M_i) - N(y strictly below lambda) + N(y strictly above lambda),
    b_j = N_{j-1} - (1 - N_j) - M(x strictly below lambda) + M(x strictly above lambda)

(Lemma 3.4's p, q with the cluster's own cross terms taken out). For a lone particle v = a_i: this
is (6). For a pair x_i, y_j it gives Remark 4.1 exactly: x ends right of y iff
a_i - b_j = 4(Mbar_i - Nbar_j) > m_i + n_j, left iff < -(m_i + n_j), else the pair sticks and moves
with (m_i a_i + n_j b_j) / (m_i + n_j) (zero for equal masses with i = j: Thm 4.1(3)).

The problem is a quadratic-plus-total-variation problem on a complete bipartite graph, solved
exactly by its level sets: for each level lambda the set S = {k : v_k > lambda} minimises the
cut functional sum_{k in S} w_k (lambda - a_k) + mass(x in S) mass(y not in S) + mass(x not in S)
mass(y in S) over the upper sets (top p x-members, top q y-members), and the minimisers are nested
in lambda. Each (p, q) gives a line in lambda; their lower envelope, built in O(K log K) for the
K = (|I| + 1)(|J| + 1) lines, yields v_k = sup{lambda : k in S(lambda)} exactly (no iteration).

Event loop
----------
Particles at a common position with a common velocity form a *block*. A block's velocity depends
only on which particles lie strictly below and above it, so it changes only when another block
meets it. The loop keeps the blocks in order with a lazy min-heap of the meeting times of
adjacent blocks; at a meeting the two blocks (and any other block at the same point at that
instant) are merged into a cluster, whose velocity field is computed as above; the cluster splits
into blocks by distinct velocity (slowest on the left). Positions at a meeting are snapped to one
value. The loop is compiled (numba): O(log B) heap work per meeting plus O(K log K) envelope work
for clusters of three or more (one or two members use the closed forms); block ids are recycled,
stale heap entries are recognised by per-block version numbers.
"""

from __future__ import annotations

import heapq

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from meanfield.particles.sticky_events1d import check_event_times, check_two_species_state

__all__ = [
    "EVENT_CROSS",
    "EVENT_DETACH",
    "EVENT_STICK",
    "EVENT_X_CLUSTER",
    "EVENT_Y_CLUSTER",
    "cluster_velocities",
    "simulate_general_masses",
]

EVENT_CROSS = 0       # x_i and y_j changed sides
EVENT_STICK = 1       # x_i and y_j now move together (they were apart before the meeting)
EVENT_X_CLUSTER = 2   # x_i and x_{i+1} now move together (same-species collision, j = i + 1)
EVENT_Y_CLUSTER = 3   # y_i and y_{i+1} now move together
EVENT_DETACH = 4      # x_i and y_j moved together and separate at this meeting (general masses only)


@njit(cache=True)
def _small_cluster(mx, ax, my, by, vx, vy):
    """Closed forms of :func:`cluster_velocities` for one or two members (the common case)."""
    A, B = mx.size, my.size
    if A + B == 1:
        if A == 1:
            vx[0] = ax[0]
        else:
            vy[0] = by[0]
    elif A == 1 and B == 1:  # Remark 4.1 (two-sided form, theory page 002)
        m, n, a, b = mx[0], my[0], ax[0], by[0]
        if a - b > m + n:
            vx[0], vy[0] = a - n, b + m
        elif b - a > m + n:
            vx[0], vy[0] = a + n, b - m
        else:
            v = (m * a + n * b) / (m + n)
            vx[0], vy[0] = v, v
    elif A == 2:  # same-species pair: isotonic (pool the two if the order is violated)
        if ax[0] <= ax[1]:
            vx[0], vx[1] = ax[0], ax[1]
        else:
            v = (mx[0] * ax[0] + mx[1] * ax[1]) / (mx[0] + mx[1])
            vx[0], vx[1] = v, v
    else:
        if by[0] <= by[1]:
            vy[0], vy[1] = by[0], by[1]
        else:
            v = (my[0] * by[0] + my[1] * by[1]) / (my[0] + my[1])
            vy[0], vy[1] = v, v


@njit(cache=True)
def _cluster_velocities(mx, ax, my, by, vx, vy):
    A, B = mx.size, my.size
    if A + B <= 2:
        _small_cluster(mx, ax, my, by, vx, vy)
        return
    mtop = np.zeros(A + 1)
    atop = np.zeros(A + 1)
    ntop = np.zeros(B + 1)
    btop = np.zeros(B + 1)
    for r in range(1, A + 1):  # top-r sums: the r members of highest rank
        mtop[r] = mtop[r - 1] + mx[A - r]
        atop[r] = atop[r - 1] + mx[A - r] * ax[A - r]
    for r in range(1, B + 1):
        ntop[r] = ntop[r - 1] + my[B - r]
        btop[r] = btop[r - 1] + my[B - r] * by[B - r]
    mt, nt = mtop[A], ntop[B]
    K = (A + 1) * (B + 1)
    P = np.empty(K, np.int64)
    Q = np.empty(K, np.int64)
    slope = np.empty(K)
    icpt = np.empty(K)
    k = 0
    for p in range(A + 1):
        for q in range(B + 1):
            P[k], Q[k] = p, q
            slope[k] = mtop[p] + ntop[q]
            icpt[k] = -atop[p] - btop[q] + mtop[p] * (nt - ntop[q]) + (mt - mtop[p]) * ntop[q]
            k += 1
    # lower envelope as lambda increases: decreasing slope, smallest intercept first among equals
    o1 = np.argsort(icpt, kind="mergesort")
    o2 = np.argsort(-slope[o1], kind="mergesort")
    order = o1[o2]
    hull = np.empty(K, np.int64)
    starts = np.empty(K)
    nh = 0
    for k in order:
        if nh > 0 and slope[hull[nh - 1]] == slope[k]:
            continue  # same slope, larger intercept: never strictly below
        while nh > 0:
            h = hull[nh - 1]
            lam = (icpt[k] - icpt[h]) / (slope[h] - slope[k])  # where line k overtakes line h
            if lam <= starts[nh - 1]:
                nh -= 1
            else:
                break
        if nh > 0:
            h = hull[nh - 1]
            starts[nh] = (icpt[k] - icpt[h]) / (slope[h] - slope[k])
        else:
            starts[nh] = -np.inf
        hull[nh] = k
        nh += 1
    # member of rank r from the top lies in S on every hull segment with p >= r: v = last such end
    for r in range(1, A + 1):
        v = -np.inf
        for s in range(nh):
            if P[hull[s]] >= r:
                e = starts[s + 1] if s + 1 < nh else np.inf
                if e > v:
                    v = e
        vx[A - r] = v
    for r in range(1, B + 1):
        v = -np.inf
        for s in range(nh):
            if Q[hull[s]] >= r:
                e = starts[s + 1] if s + 1 < nh else np.inf
                if e > v:
                    v = e
        vy[B - r] = v


def cluster_velocities(
    mx: ArrayLike, ax: ArrayLike, my: ArrayLike, by: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Minimal-norm right-derivative velocities of one cluster (module docstring).

    Exact up to round-off: the velocities are breakpoints of the lower envelope of the level-set cost
    lines.

    Parameters
    ----------
    mx, ax : array_like
        Masses and targets a_i of the x-members in rank order (may be empty).
    my, by : array_like
        Likewise for the y-members.

    Returns
    -------
    vx, vy : numpy.ndarray
        Non-decreasing velocities of the members.

    Raises
    ------
    ValueError
        If the cluster has no member.

    References
    ----------
    :cite:`DiFrancescoEspositoSchmidtchen`, Remarks 3.6 and 4.1; theory page ``docs/theory/002-newtonian.md``.

    Examples
    --------
    A pair x, y of masses ½: with ``a - b = 0.4 < m + n = 1`` it sticks and moves with
    ``(m a + n b)/(m + n) = 0``; with ``a - b = 2 > 1`` it separates:

    >>> cluster_velocities([0.5], [0.2], [0.5], [-0.2])
    (array([0.]), array([0.]))
    >>> cluster_velocities([0.5], [1.0], [0.5], [-1.0])
    (array([0.5]), array([-0.5]))
    """
    mx, ax, my, by = (np.ascontiguousarray(v, dtype=float) for v in (mx, ax, my, by))
    if mx.size + my.size == 0:
        raise ValueError("a cluster needs at least one member")
    vx, vy = np.empty(mx.size), np.empty(my.size)
    _cluster_velocities(mx, ax, my, by, vx, vy)
    return vx, vy


# --- the compiled event loop -----------------------------------------------------------------
@njit(cache=True)
def _resolve(lam, t, xl, xh, yl, yh, mx, my, cx, cy, pos, tref, vel, xlo, xhi, ylo, yhi, ver, alive, free, nfree,
             bx, by, newb, wx, wy):
    """Split the cluster (x ranks [xl, xh), y ranks [yl, yh)) at ``lam`` into co-moving blocks,
    ordered left to right; their ids go into ``newb``. Returns (count, nfree). ``wx`` (2, nx) and
    ``wy`` (2, ny) are work space (no allocation per meeting)."""
    A, B = xh - xl, yh - yl
    ax = wx[0, :A]
    byv = wy[0, :B]
    for i in range(xl, xh):  # targets a_i, b_j of the module docstring
        ax[i - xl] = cx[i] + cx[i + 1] - cy[yl] - cy[yh]
    for j in range(yl, yh):
        byv[j - yl] = cy[j] + cy[j + 1] - cx[xl] - cx[xh]
    vx = wx[1, :A]
    vy = wy[1, :B]
    _cluster_velocities(mx[xl:xh], ax, my[yl:yh], byv, vx, vy)
    ix, iy, cnt = 0, 0, 0
    while ix < A or iy < B:  # merge the two non-decreasing velocity lists level by level
        if iy >= B or (ix < A and vx[ix] <= vy[iy]):
            v = vx[ix]
        else:
            v = vy[iy]
        jx = ix
        while jx < A and vx[jx] == v:
            jx += 1
        jy = iy
        while jy < B and vy[jy] == v:
            jy += 1
        nfree -= 1
        b = free[nfree]
        pos[b], tref[b], vel[b] = lam, t, v
        xlo[b], xhi[b], ylo[b], yhi[b] = xl + ix, xl + jx, yl + iy, yl + jy
        ver[b] += 1
        alive[b] = True
        for i in range(xl + ix, xl + jx):
            bx[i] = b
        for j in range(yl + iy, yl + jy):
            by[j] = b
        newb[cnt] = b
        cnt += 1
        ix, iy = jx, jy
    return cnt, nfree


@njit(cache=True)
def _meeting(a, b, t, pos, tref, vel):
    closing = vel[a] - vel[b]
    if closing <= 0.0:
        return np.inf
    gap = (pos[b] + vel[b] * (t - tref[b])) - (pos[a] + vel[a] * (t - tref[a]))
    return t + max(gap, 0.0) / closing


@njit(cache=True)
def _loop(x0, y0, mx, my, out_times, t_end, record, tol):
    nx, ny = x0.size, y0.size
    C = nx + ny
    cx = np.zeros(nx + 1)
    cy = np.zeros(ny + 1)
    for i in range(nx):
        cx[i + 1] = cx[i] + mx[i]
    for j in range(ny):
        cy[j + 1] = cy[j] + my[j]
    cx[nx] = 1.0
    cy[ny] = 1.0
    pos = np.zeros(C)
    tref = np.zeros(C)
    vel = np.zeros(C)
    xlo = np.zeros(C, np.int64)
    xhi = np.zeros(C, np.int64)
    ylo = np.zeros(C, np.int64)
    yhi = np.zeros(C, np.int64)
    left = np.full(C, -1, np.int64)
    right = np.full(C, -1, np.int64)
    ver = np.zeros(C, np.int64)
    alive = np.zeros(C, np.bool_)
    free = np.arange(C - 1, -1, -1).astype(np.int64)
    nfree = C
    bx = np.zeros(nx, np.int64)
    by = np.zeros(ny, np.int64)
    newb = np.empty(C, np.int64)
    chain = np.empty(C + 2, np.int64)
    wx = np.empty((2, max(nx, 1)))
    wy = np.empty((2, max(ny, 1)))

    # initial clusters: equal positions (both species) are resolved together
    ix, iy, last = 0, 0, -1
    while ix < nx or iy < ny:
        lam = x0[ix] if (iy >= ny or (ix < nx and x0[ix] <= y0[iy])) else y0[iy]
        jx = ix
        while jx < nx and x0[jx] == lam:
            jx += 1
        jy = iy
        while jy < ny and y0[jy] == lam:
            jy += 1
        cnt, nfree = _resolve(lam, 0.0, ix, jx, iy, jy, mx, my, cx, cy, pos, tref, vel, xlo, xhi, ylo, yhi, ver,
                              alive, free, nfree, bx, by, newb, wx, wy)
        for q in range(cnt):
            b = newb[q]
            left[b] = last
            if last >= 0:
                right[last] = b
            last = b
        ix, iy = jx, jy

    heap = [(0.0, 0, 0, 0, 0)]
    heap.pop()
    b = bx[0] if nx > 0 and (ny == 0 or bx[0] == by[0] or pos[bx[0]] <= pos[by[0]]) else by[0]
    while b >= 0:  # b = leftmost block: walk the chain
        if left[b] < 0:
            break
        b = left[b]
    while b >= 0 and right[b] >= 0:
        r = right[b]
        tm = _meeting(b, r, 0.0, pos, tref, vel)
        if tm < np.inf:
            heapq.heappush(heap, (tm, b, r, ver[b], ver[r]))
        b = r

    ev_t = [0.0]
    ev_k = [0]
    ev_i = [0]
    ev_j = [0]
    ev_t.pop(), ev_k.pop(), ev_i.pop(), ev_j.pop()
    ox = np.empty((out_times.size, nx))
    oy = np.empty((out_times.size, ny))
    k_out = 0
    n_meet = 0
    rank_x = np.empty(nx, np.int64)
    rank_y = np.empty(ny, np.int64)
    while True:
        t_next = heap[0][0] if len(heap) > 0 else np.inf
        while k_out < out_times.size and out_times[k_out] <= min(t_next, t_end):
            to = out_times[k_out]
            for i in range(nx):
                q = bx[i]
                ox[k_out, i] = pos[q] + vel[q] * (to - tref[q])
            for j in range(ny):
                q = by[j]
                oy[k_out, j] = pos[q] + vel[q] * (to - tref[q])
            k_out += 1
        if len(heap) == 0 or t_next > t_end:
            break
        t, a, b, va, vb = heapq.heappop(heap)
        if not (alive[a] and alive[b] and ver[a] == va and ver[b] == vb and right[a] == b):
            continue  # stale entry
        n_meet += 1
        lam = 0.5 * ((pos[a] + vel[a] * (t - tref[a])) + (pos[b] + vel[b] * (t - tref[b])))
        lo, hi = a, b  # gather every adjacent block that is at lam at this instant
        while left[lo] >= 0 and abs(pos[left[lo]] + vel[left[lo]] * (t - tref[left[lo]]) - lam) <= tol:
            lo = left[lo]
        while right[hi] >= 0 and abs(pos[right[hi]] + vel[right[hi]] * (t - tref[right[hi]]) - lam) <= tol:
            hi = right[hi]
        xl, xh, yl, yh = xlo[lo], xhi[hi], ylo[lo], yhi[hi]
        q, rank = lo, 0
        while True:  # old left-to-right rank of each member's block; blocks die (ids recycled)
            for i in range(xlo[q], xhi[q]):
                rank_x[i] = rank
            for j in range(ylo[q], yhi[q]):
                rank_y[j] = rank
            alive[q] = False
            ver[q] += 1
            nxt = right[q]
            free[nfree] = q
            nfree += 1
            if q == hi:
                break
            q, rank = nxt, rank + 1
        L, R = left[lo], right[hi]
        cnt, nfree = _resolve(lam, t, xl, xh, yl, yh, mx, my, cx, cy, pos, tref, vel, xlo, xhi, ylo, yhi, ver, alive,
                              free, nfree, bx, by, newb, wx, wy)
        if record:
            _record(t, xl, xh, yl, yh, newb, cnt, bx, by, rank_x, rank_y, ev_t, ev_k, ev_i, ev_j)
        chain[0] = L
        for q in range(cnt):
            chain[q + 1] = newb[q]
        chain[cnt + 1] = R
        for q in range(cnt + 1):
            p_, r_ = chain[q], chain[q + 1]
            if p_ >= 0:
                right[p_] = r_
            if r_ >= 0:
                left[r_] = p_
        for q in range(cnt + 1):
            p_, r_ = chain[q], chain[q + 1]
            if p_ >= 0 and r_ >= 0:
                tm = _meeting(p_, r_, t, pos, tref, vel)
                if tm < np.inf:
                    heapq.heappush(heap, (tm, p_, r_, ver[p_], ver[r_]))

    m = len(ev_t)
    et = np.empty(m)
    ek = np.empty(m, np.int64)
    ei = np.empty(m, np.int64)
    ej = np.empty(m, np.int64)
    for k in range(m):
        et[k], ek[k], ei[k], ej[k] = ev_t[k], ev_k[k], ev_i[k], ev_j[k]
    vx = np.empty(nx)
    vy = np.empty(ny)
    for i in range(nx):
        vx[i] = vel[bx[i]]
    for j in range(ny):
        vy[j] = vel[by[j]]
    return ox, oy, et, ek, ei, ej, n_meet, vx, vy


@njit(cache=True)
def _record(t, xl, xh, yl, yh, newb, cnt, bx, by, rank_x, rank_y, ev_t, ev_k, ev_i, ev_j):
    """Events of one meeting: x-y pairs of the cluster that changed sides, became co-moving or
    stopped co-moving, and neighbouring same-species ranks that became co-moving."""
    for i in range(xl, xh):
        ni = 0
        while newb[ni] != bx[i]:
            ni += 1
        for j in range(yl, yh):
            nj = 0
            while newb[nj] != by[j]:
                nj += 1
            s_old = np.sign(rank_x[i] - rank_y[j])
            s_new = np.sign(ni - nj)
            kind = -1
            if s_new == 0 and s_old != 0:
                kind = EVENT_STICK
            elif s_new != 0 and s_old != 0 and s_new != s_old:
                kind = EVENT_CROSS
            elif s_new != 0 and s_old == 0:
                kind = EVENT_DETACH
            if kind >= 0:
                ev_t.append(t)
                ev_k.append(kind)
                ev_i.append(i)
                ev_j.append(j)
    for i in range(xl, xh - 1):
        if bx[i] == bx[i + 1] and rank_x[i] != rank_x[i + 1]:
            ev_t.append(t)
            ev_k.append(EVENT_X_CLUSTER)
            ev_i.append(i)
            ev_j.append(i + 1)
    for j in range(yl, yh - 1):
        if by[j] == by[j + 1] and rank_y[j] != rank_y[j + 1]:
            ev_t.append(t)
            ev_k.append(EVENT_Y_CLUSTER)
            ev_i.append(j)
            ev_j.append(j + 1)


def simulate_general_masses(
    x0: ArrayLike, y0: ArrayLike, mx: ArrayLike | None, my: ArrayLike | None, out_times: ArrayLike, t_end: float,
    record_events: bool = True,
) -> dict:
    """Exact gradient flow of (24) from sorted ``x0, y0`` with positive masses ``mx, my``.

    Inputs are checked before any work (:func:`~meanfield.particles.sticky_events1d.check_two_species_state`,
    :func:`~meanfield.particles.sticky_events1d.check_event_times`).

    Parameters
    ----------
    x0, y0 : array_like
        Sorted positions (the species may have different particle numbers).
    mx, my : array_like or None
        Positive masses, each summing to 1 (None: 1/N each).
    out_times : array_like
        Output times in [0, t_end].
    t_end : float
        The end of the run.
    record_events : bool, optional
        Whether to record the event arrays.

    Returns
    -------
    dict
        The dictionary of :func:`meanfield.particles.sticky_events1d.simulate_two_species_events`
        (``event_kind`` also takes ``EVENT_X_CLUSTER``/``EVENT_Y_CLUSTER``, with ``event_i, event_j`` the
        two ranks, and ``EVENT_DETACH``), plus ``n_meetings``.

    Raises
    ------
    ValueError
        On bad input.

    References
    ----------
    :cite:`DiFrancescoEspositoSchmidtchen`, eq. (24), Thm 3.1, Remarks 3.6 and 4.1; theory page
    ``docs/theory/002-newtonian.md``.

    Examples
    --------
    >>> r = simulate_general_masses([0.0, 0.5], [0.25, 0.75], [0.3, 0.7], [0.6, 0.4], [0.0, 1.0], 1.0)
    >>> r["x"][-1].round(6), r["event_time"].round(6), r["n_meetings"]
    (array([0.266667, 0.509091]), array([0.5     , 0.833333]), 2)
    """
    x0, y0, mx, my = check_two_species_state(x0, y0, mx, my)
    out_times, t_end = check_event_times(out_times, t_end)
    scale = max(1.0, float(np.max(np.abs(np.concatenate([x0, y0])))))
    ox, oy, et, ek, ei, ej, n_meet, vx, vy = _loop(x0, y0, mx, my, out_times, float(t_end), bool(record_events),
                                                    1e-13 * scale)
    return {
        "x": ox, "y": oy, "event_time": et, "event_kind": ek, "event_i": ei, "event_j": ej,
        "n_cross": int(np.sum(ek == EVENT_CROSS)), "n_stick": int(np.sum(ek == EVENT_STICK)),
        "n_meetings": int(n_meet), "velocity_x": vx, "velocity_y": vy, "equal_masses": False,
    }
