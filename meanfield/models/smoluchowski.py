"""Model 004: coagulating Brownian particles → Smoluchowski coagulation–diffusion system.

Hammond & Rezakhanlou, *The kinetic limit of a system of coagulating Brownian particles*
(ARMA 2007).

Convention (stated once and used everywhere). Each **unordered** pair ``{i, j}`` of
particles coagulates at hazard ``κ(m_i, m_j) ε^{-2} V((x_i - x_j)/ε)``. The paper's generator
(1.6) sums over *ordered* pairs, i.e. ``κ = 2α`` (``pair_sum="ordered"``, the default, the paper
read literally); ``pair_sum="unordered"`` gives ``κ = α``. The continuum limit is then, in the
standard form with kernel ``K``,

    ∂_t f_n = d(n) Δ f_n + ½ Σ_{m<n} K(m, n-m) f_m f_{n-m} − f_n Σ_m K(n, m) f_m,
    K(n, m) = (d(n) + d(m)) F_V(κ(n, m) / (d(n) + d(m))),

with ``F_V(a) = a ∫ V (1 + u_a)`` and ``Δ u_a = a V (1 + u_a)``, ``u_a → 0`` (cell problem (1.7),
(6.1)). The paper's form (1.1)–(1.3) is the same equation with ``β = K/2``. Read literally, the
paper's (1.7)–(1.8) give ``β = (d(n)+d(m)) F(α')``, which is a factor up to 2 too large for its own
ordered-pair generator (many-body Monte Carlo of the particles follows ``β = ½(d(n)+d(m)) F(2α')``);
this module uses the corrected value, which is what the particle system is tested against.

* Kernel: radial ODE shooting of the cell problem (1.7) for any radial ``V``, closed form
  ``F(a) = 4π R (1 − tanh x / x)``, ``x = R sqrt(3a / (4π R^3))``, for ``V`` uniform on the ball
  ``B_R`` in ``d = 3``; ``F(a) → 4π R`` (Smoluchowski's ``4π (D_1 + D_2) R``) as ``a → ∞``.
* Continuum: the homogeneous system (Dormand–Prince 5(4) with error control) and the full system
  on a periodic box (Strang splitting: exact heat propagator per mass in Fourier space, reaction by
  SSP-RK3 under its positivity step, or RK4 / DP5 at fixed step with ``scheme=``), both advanced by
  the package's one time-stepping driver (:func:`solvers.timestepping.integrate`). Mass truncation
  ``n ≤ M`` is **conservative** (a collision whose product would exceed ``M`` does not happen, so
  ``Σ n f_n`` is conserved exactly). The coagulation sums cost O(M²) per point (compiled loop) or,
  for kernels that are sums of products ``Σ_r a_r(n) b_r(m)`` (constant, additive, multiplicative,
  or any tabulated kernel of numerical rank ≤ 4), O(M log M) by FFT convolutions over mass
  (:class:`SeparableKernel`, checked and summed through its factors in O(r M) memory: no ``M × M``
  matrix is formed). In free space (``domain="free"``) the PDE is solved on the periodic box
  ``[0, L)^3`` standing for ``R^3``, refused when the Gaussian wrap-around estimate exceeds 1e-3.
* The kinetic scaling ``N ε^{d-2} = Z`` (§1.3) is :func:`kinetic_scaling`; a particle number whose
  ε is not small (ε > L/3 on the torus, or reaction ranges overlapping on average in the densest
  initial region) is refused.
* Particles: Brownian motions ``dx = sqrt(2 d(m)) dB`` (generator (1.5)) on the torus or in ``R^3``
  (the paper's setting), fixed step from the rule ``sqrt(2 d_max dt) ≤ c ε`` and ``λ_max dt ≤ 0.1``;
  after each Brownian step (Euler–Maruyama, exact here: no drift, additive noise) the reaction
  sweep of :mod:`meanfield.particles.coagulation` reacts each close pair with probability
  ``1 − exp(−λ dt)``, at most one reaction per particle per step, the product placed at ``x_i``
  with probability ``m_i / (m_i + m_j)`` (placement rule of §1); each particle carries weight
  ``ε^{d-2} = Z / N`` (empirical measure (1.10)). The state of a run is the ``(n, 4)`` array of rows
  ``[x, y, z, mass]``, whose row count falls as particles merge; the run's numpy Generator drives
  both the increments and the sweeps, so a seed fixes the run.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.integrate import solve_ivp

from meanfield.measures import Domain, as_generator
from meanfield.models.base import (Trajectory, check_integer, check_nonnegative, check_positive, check_times,
                                   continuum_dataset)
from meanfield.particles.coagulation import CoagulationSweep
from solvers import fft
from solvers.grids import UniformGrid
from solvers.timestepping import (RK4, JumpSplitting, SSPRK3, DormandPrince54, EulerMaruyama, ExactLinear, ODEProblem, PIController,
                                  SDEProblem, SemilinearProblem, SplitProblem, StrangSplitting, Substeps, integrate)

__all__ = ["CoagulationDiffusion", "SeparableKernel", "capture_function", "capture_function_uniform_ball",
           "coagulation_operator", "coagulation_rates", "kinetic_scaling", "solve_homogeneous"]


# --- the kinetic scaling N ε^{d-2} = Z (§1.3) ----------------------------------------------------
def kinetic_scaling(n=None, epsilon=None, total_density=1.0, dim=3):
    """The paper's kinetic (constant mean-free-path) scaling ``N ε^{d-2} = Z`` (§1.3, Thm 1.1).

    Give exactly one of ``n`` (returns ``ε = (Z/N)^{1/(d-2)}``) or ``epsilon`` (returns the
    particle number ``N = Z ε^{2-d}``, a float: round it as you like). ``dim ≥ 3`` (the paper's
    hypothesis: Brownian motion must be transient); ``Z = total_density > 0``; ``N ≥ 2`` an
    integer; ``0 < ε < ∞``.
    """
    dim = check_integer("dim", dim, minimum=3)
    z = check_positive("total_density", total_density)
    if (n is None) == (epsilon is None):
        raise ValueError(f"give exactly one of n and epsilon, got n={n!r}, epsilon={epsilon!r}")
    if n is not None:
        n = check_integer("n", n, minimum=2)
        return (z / n) ** (1.0 / (dim - 2))
    eps = check_positive("epsilon", epsilon)
    return z * eps ** (2 - dim)


# --- the kernel: cell problem (1.7)/(6.1) ------------------------------------------------------
def capture_function_uniform_ball(a, radius=1.0):
    """``F(a)`` for ``V`` uniform on ``B_R ⊂ R^3`` (∫V = 1): ``4π R (1 − tanh x / x)``."""
    a = np.asarray(a, dtype=float)
    if np.any(a < 0):
        raise ValueError(f"a must be non-negative, got {a!r}")
    x = radius * np.sqrt(3 * a / (4 * np.pi * radius**3))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(x < 1e-4, 1 - x**2 / 3 + 2 * x**4 / 15, np.tanh(x) / np.where(x == 0, 1, x))
    return 4 * np.pi * radius * (1 - ratio)


def capture_function(a, profile, radius=1.0):
    """``F(a) = a ∫ V (1 + u)`` for a radial ``V(r) = profile(r)`` supported in ``B_radius ⊂ R^3``.

    ``profile`` need not be normalised (it is scaled to ∫V = 1). Shoots ``w = 1 + u``:
    ``w'' + (2/r) w' = a V w``, ``w(0) = 1``, ``w'(0) = 0``; outside the support ``w = A − B/r`` and
    ``F = 4π B / A``.
    """
    a = float(a)
    if a < 0:
        raise ValueError(f"a must be non-negative, got {a!r}")
    r = np.linspace(0, radius, 4001)
    mass = np.trapezoid(4 * np.pi * r**2 * profile(r), r)
    if not mass > 0:
        raise ValueError("the profile must have positive integral on its support")

    def rhs(s, y):
        w, dw = y
        vs = profile(np.array([s]))[0] / mass
        return [dw, a * vs * w - (2 / s * dw if s > 0 else 0.0)]

    # start at small r0 with the regular series w = 1 + a V(0) r^2 / 6
    r0 = 1e-6 * radius
    v0 = profile(np.array([0.0]))[0] / mass
    sol = solve_ivp(rhs, (r0, radius), [1 + a * v0 * r0**2 / 6, a * v0 * r0 / 3], rtol=1e-12, atol=1e-14,
                    method="DOP853")
    w, dw = sol.y[:, -1]
    b = dw * radius**2
    big_a = w + b / radius
    return 4 * np.pi * b / big_a


def coagulation_rates(masses, diffusivity, alpha, capture, pair_sum="ordered"):
    """Standard-form kernel ``K[n-1, m-1]`` for masses ``1..M`` (see the module docstring)."""
    if pair_sum not in ("ordered", "unordered"):
        raise ValueError(f"pair_sum must be 'ordered' or 'unordered', got {pair_sum!r}")
    n = np.arange(1, masses + 1)
    dsum = diffusivity(n)[:, None] + diffusivity(n)[None, :]
    kappa = (2.0 if pair_sum == "ordered" else 1.0) * alpha(n[:, None], n[None, :]) * np.ones_like(dsum)
    return dsum * capture(kappa / dsum)


# --- coagulation operator with conservative truncation -----------------------------------------
@njit(cache=True)
def _coagulation(f, kernel, out):
    """``out[n] = ½ Σ_{m<n} K f_m f_{n-m} − f_n Σ_{m ≤ M-n} K(n, m) f_m`` (0-based masses n+1);
    ``f`` has shape ``(M, P)`` (P points in space)."""
    big_m, points = f.shape
    out[:] = 0.0
    for i in range(big_m):
        for j in range(i, big_m):
            s = i + j + 1  # index of mass (i+1)+(j+1)
            if s >= big_m:
                break
            k = kernel[i, j]
            for p in range(points):
                rate = k * f[i, p] * f[j, p]
                if i == j:
                    # ½ K f_i f_i gained, f_i loses K f_i f_i (ordered sum counts (i, i) once)
                    out[s, p] += 0.5 * rate
                    out[i, p] -= rate
                else:
                    out[s, p] += rate
                    out[i, p] -= rate
                    out[j, p] -= rate
    return out


def _columns(terms):
    """``(i, j, c)`` triples as three arrays (int, int, float) for the compiled kernels."""
    return (np.array([t[0] for t in terms], dtype=np.int64), np.array([t[1] for t in terms], dtype=np.int64),
            np.array([t[2] for t in terms], dtype=float))


class SeparableKernel:
    """A kernel that is a finite sum of products, ``K(n, m) = Σ_r a_r(n) b_r(m)`` (masses 1..M).

    For such kernels the coagulation sums cost O(M log M) per point instead of O(M²): the gain
    ``½ Σ_{i+j=n} K(i, j) f_i f_j = ½ Σ_r ((a_r f) * (b_r f))_n`` is a sum of discrete convolutions
    (FFT), and the conservatively truncated loss ``f_n Σ_{m ≤ M-n} K(n, m) f_m =
    f_n Σ_r a_r(n) C_r(M-n)`` uses the prefix sums ``C_r(k) = Σ_{m ≤ k} b_r(m) f_m``.
    The classical exactly solvable kernels are of this form: constant (rank 1), additive
    ``n + m`` (rank 2) and multiplicative ``n m`` (rank 1); :meth:`from_matrix` finds such a form
    for any tabulated kernel of low numerical rank (e.g. the paper's kernel when ``d`` and ``α`` are
    constant, which is constant), or says there is none.
    """

    def __init__(self, a, b):
        a = np.atleast_2d(np.asarray(a, dtype=float))
        b = np.atleast_2d(np.asarray(b, dtype=float))
        if a.shape != b.shape or a.ndim != 2 or a.shape[1] < 1:
            raise ValueError(f"a and b must both have shape (rank, M), got {a.shape} and {b.shape}")
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            raise ValueError("the factors a and b must be finite")
        self.a, self.b = a, b
        self._plan = None

    @property
    def max_mass(self):
        return self.a.shape[1]

    @property
    def rank(self):
        return self.a.shape[0]

    def matrix(self):
        """The tabulated kernel ``K[n-1, m-1]``."""
        return self.a.T @ self.b

    def check(self, rtol=1e-12):
        """Refuse (ValueError) a kernel that is not symmetric or not non-negative, without forming
        the ``M × M`` matrix.

        Symmetry in O(r² M) time and O(r M) memory: with the reduced QR factorisation
        ``[a_1 … a_r b_1 … b_r] = Q [R_a R_b]`` (``Q`` of orthonormal columns), ``K = Q R_a R_bᵀ Qᵀ``,
        so ``K = Kᵀ`` exactly when the ``2r × 2r`` core ``S = R_a R_bᵀ`` is symmetric; refused when
        ``‖S − Sᵀ‖_F > rtol ‖S‖_F`` (``‖S‖_F = ‖K‖_F``). Non-negativity: immediate when every factor
        is non-negative (constant, additive, multiplicative kernels); otherwise ``min K`` is taken
        over blocks of rows (O(r M²) time, O(M) memory per row of the block)."""
        big_m = self.max_mass
        q_r = np.linalg.qr(np.concatenate([self.a, self.b]).T, mode="r")  # R of [a_1..a_r b_1..b_r]
        core = q_r[:, : self.rank] @ q_r[:, self.rank :].T
        norm = np.linalg.norm(core)
        if np.linalg.norm(core - core.T) > rtol * norm:
            raise ValueError(f"kernel must be symmetric: the separable form has ‖K - Kᵀ‖_F / ‖K‖_F = "
                             f"{np.linalg.norm(core - core.T) / norm:.3g} > {rtol}")
        if np.all(self.a >= 0) and np.all(self.b >= 0):
            return self
        block = max(1, 2**20 // big_m)
        for start in range(0, big_m, block):
            low = float((self.a[:, start : start + block].T @ self.b).min())
            if low < 0:
                raise ValueError(f"kernel must be non-negative: the separable form has K = {low:.3g} < 0 in rows "
                                 f"{start + 1}..{min(start + block, big_m)}")
        return self

    def fft_plan(self):
        """The factors grouped for the FFT sums (computed once per kernel): the distinct factor
        vectors up to scale, ``v_0 … v_{k-1}`` (``a_r = α_r v_{i_r}``, ``b_r = β_r v_{j_r}``), the
        gain as ``½ Σ_{i ≤ j} c_ij (v_i f) * (v_j f)`` (``c_ij`` summing ``α_r β_r`` over the terms of
        that unordered pair, so ``K = n + m`` needs two transforms and a constant or ``n m`` kernel
        one), the loss as ``f_n Σ_{(i, j)} d_ij v_i(n) C_j(M - 1 - n)``, ``C_j`` the prefix sums of
        ``v_j f``, and the weights ``|α_r β_r|`` of the round-off bound. Returns a dict."""
        if self._plan is not None:
            return self._plan
        vectors = []

        def find(v):
            top = float(np.abs(v).max())
            if top == 0.0:
                return None, 0.0
            for i, w in enumerate(vectors):
                k = int(np.argmax(np.abs(w)))
                s = v[k] / w[k]
                if np.abs(v - s * w).max() <= 4 * np.finfo(float).eps * top:
                    return i, float(s)
            s = top if v[np.flatnonzero(v)[0]] > 0 else -top
            vectors.append(v / s)  # normalised: max |v| = 1 (a constant factor becomes exactly 1)
            return len(vectors) - 1, s

        gain, loss, bound = {}, {}, []
        for a, b in zip(self.a, self.b):
            (i, sa), (j, sb) = find(a), find(b)
            if i is None or j is None:
                continue
            c = sa * sb
            gain[(min(i, j), max(i, j))] = gain.get((min(i, j), max(i, j)), 0.0) + 0.5 * c
            loss[(i, j)] = loss.get((i, j), 0.0) + c
            bound.append((i, j, abs(c)))
        vecs = np.array(vectors).reshape(len(vectors), self.max_mass)
        loss = [(i, j, c) for (i, j), c in loss.items() if c != 0.0]
        self._plan = {"vectors": vecs, "ones": [bool(np.all(v == 1.0)) for v in vecs],
                      "gain": [(i, j, c) for (i, j), c in gain.items() if c != 0.0],
                      "loss": _columns(loss), "bound": _columns(bound)}
        return self._plan

    @classmethod
    def constant(cls, max_mass, c=1.0):
        """``K = c``."""
        m = check_integer("max_mass", max_mass, minimum=1)
        return cls(np.full((1, m), check_nonnegative("c", c)), np.ones((1, m)))

    @classmethod
    def additive(cls, max_mass, c=1.0):
        """``K(n, m) = c (n + m)``."""
        m = check_integer("max_mass", max_mass, minimum=1)
        n = np.arange(1, m + 1, dtype=float)
        c = check_nonnegative("c", c)
        return cls([c * n, c * np.ones(m)], [np.ones(m), n])

    @classmethod
    def multiplicative(cls, max_mass, c=1.0):
        """``K(n, m) = c n m`` (gelation at ``c M_1 t = 1`` for monodisperse data)."""
        m = check_integer("max_mass", max_mass, minimum=1)
        n = np.arange(1, m + 1, dtype=float)
        return cls(check_nonnegative("c", c) * n[None], n[None])

    @classmethod
    def from_matrix(cls, kernel, max_rank=4, rtol=1e-13):
        """Exact low-rank form of a tabulated kernel by fully pivoted cross approximation, or ``None``
        if its residual after ``max_rank`` terms exceeds ``rtol · max|K|`` (cost O(max_rank M²))."""
        k = np.array(kernel, dtype=float)
        if k.ndim != 2 or k.shape[0] != k.shape[1]:
            raise ValueError(f"kernel must be a square matrix, got shape {k.shape}")
        scale = float(np.abs(k).max())
        if scale == 0.0:
            return cls.constant(k.shape[0], 0.0)
        a, b = [], []
        for _ in range(max_rank + 1):
            flat = int(np.argmax(np.abs(k)))
            i, j = divmod(flat, k.shape[1])
            pivot = k[i, j]
            if abs(pivot) <= rtol * scale:
                return cls(a, b)
            if len(a) == max_rank:
                return None
            a.append(k[:, j].copy())
            b.append(k[i, :] / pivot)
            k -= np.outer(a[-1], b[-1])
        return None


def _as_kernel(kernel, size=None):
    """``(matrix or None, separable form or None)`` from an array or a :class:`SeparableKernel`, checked
    finite, non-negative and symmetric; a separable kernel is checked through its factors
    (:meth:`SeparableKernel.check`) and its ``M × M`` matrix is not formed."""
    want = f"({size}, {size})" if size is not None else "(M, M)"
    if isinstance(kernel, SeparableKernel):
        if size is not None and kernel.max_mass != size:
            raise ValueError(f"kernel must have shape {want}, got {(kernel.max_mass,) * 2}")
        return None, kernel.check()
    mat = np.asarray(kernel, dtype=float)
    if mat.ndim != 2 or mat.shape[0] != mat.shape[1] or (size is not None and mat.shape[0] != size):
        raise ValueError(f"kernel must have shape {want}, got {mat.shape}")
    if not np.all(np.isfinite(mat)) or np.any(mat < 0) or not np.allclose(mat, mat.T, rtol=1e-12, atol=0):
        raise ValueError("kernel must be finite, non-negative and symmetric")
    return mat, None


@njit(cache=True)
def _fft_sums_finish(ft, vectors, conv, bound_i, bound_j, bound_w, loss_i, loss_j, loss_c, out):
    """The O(M) part of the FFT sums, fused, per point ``p``: prefix sums ``C_j`` and norms of
    ``v_j f``; the gain ``conv[p, n-1]`` kept where it exceeds the round-off bound
    ``2 eps Σ w |v_i f|_2 |v_j f|_2`` (see :func:`_coagulation_fft`); minus the conservatively
    truncated loss ``f_n Σ c v_i(n) C_j(M-2-n)`` (0-based ``n``)."""
    points, big_m = ft.shape
    k = vectors.shape[0]
    cum = np.empty((k, big_m))
    norm2 = np.empty(k)
    eps = np.finfo(np.float64).eps
    for p in range(points):
        for j in range(k):
            s = 0.0
            s2 = 0.0
            for m in range(big_m):
                x = vectors[j, m] * ft[p, m]
                s += x
                s2 += x * x
                cum[j, m] = s
            norm2[j] = s2
        noise = 0.0
        for t in range(bound_w.size):
            noise += bound_w[t] * np.sqrt(norm2[bound_i[t]]) * np.sqrt(norm2[bound_j[t]])
        noise *= 2 * eps
        out[p, 0] = 0.0
        for n in range(1, big_m):
            g = conv[p, n - 1]
            out[p, n] = g if abs(g) > noise else 0.0
        for n in range(big_m - 1):
            part = 0.0
            for t in range(loss_c.size):
                part += loss_c[t] * vectors[loss_i[t], n] * cum[loss_j[t], big_m - 2 - n]
            out[p, n] -= ft[p, n] * part
    return out


def _coagulation_fft(f, sep):
    """Conservative coagulation sums through the separable form (see :class:`SeparableKernel` and
    :meth:`SeparableKernel.fft_plan`), ``f`` of shape ``(M, P)``, any signs (Runge–Kutta stages may
    dip below 0 in the far tail): one real FFT per distinct factor vector and one inverse FFT per
    point, then one fused O(M) pass (:func:`_fft_sums_finish`). FFT round-off is absolute, below
    ``2·eps·Σ_r |a_r f|_2 |b_r f|_2`` per entry (measured: about a third of that at M = 2048); gain
    entries of modulus below that bound are pure noise and are set to 0 (clipping only the negative
    ones would pile positive noise up in the tail, where the exact gain is ~1e-180, and carry mass
    there). Otherwise the same sums as the compiled loop."""
    from scipy import fft as sfft

    big_m, points = f.shape
    plan = sep.fft_plan()
    if big_m == 1 or not plan["gain"]:
        return np.zeros_like(f)
    length = sfft.next_fast_len(2 * big_m - 1, real=True)
    ft = f.reshape(1, big_m) if points == 1 else np.ascontiguousarray(f.T)  # (P, M): mass axis contiguous
    vecs = plan["vectors"]
    padded = np.zeros((vecs.shape[0], points, length))  # v_i f, zero-padded for the linear convolution
    for i, ones in enumerate(plan["ones"]):
        if ones:
            padded[i, :, :big_m] = ft
        else:
            np.multiply(vecs[i], ft, out=padded[i, :, :big_m])
    spec = sfft.rfft(padded, axis=-1)
    if len(plan["gain"]) == 1 and plan["gain"][0][0] == plan["gain"][0][1]:
        i, _, c = plan["gain"][0]
        acc = np.square(spec[i], out=spec[i])
        acc *= c
    else:
        acc = sum(c * (np.square(spec[i]) if i == j else spec[i] * spec[j]) for i, j, c in plan["gain"])
    # index k of the convolution is total mass k + 2, i.e. 0-based index k + 1
    conv = sfft.irfft(acc, n=length, axis=-1)
    out = np.empty_like(ft)
    _fft_sums_finish(ft, vecs, conv, *plan["bound"], *plan["loss"], out)
    return out.T if points == 1 else np.ascontiguousarray(out.T)


# measured crossovers of the FFT sums over the compiled loop (benchmarks/smoluchowski_sums.py): about
# M = 256 for one point (homogeneous system), about M = 512 for many points at once (the PDE's reaction step)
FFT_MIN_MASSES = 256
FFT_MIN_MASSES_FIELD = 512


def coagulation_operator(f, kernel, method="direct"):
    """Right-hand side of the coagulation terms for ``f`` of shape ``(M, ...)`` (conservative
    truncation, standard form). ``method="direct"``: compiled O(M²) loop; ``"fft"``: O(M log M) sums
    for a separable kernel (a :class:`SeparableKernel`, or an array of low numerical rank)."""
    f = np.asarray(f, dtype=float)
    flat = np.ascontiguousarray(f.reshape(f.shape[0], -1))
    if method == "direct":
        mat = kernel.matrix() if isinstance(kernel, SeparableKernel) else kernel
        out = np.empty_like(flat)
        _coagulation(flat, np.ascontiguousarray(mat, dtype=float), out)
    elif method == "fft":
        sep = kernel if isinstance(kernel, SeparableKernel) else SeparableKernel.from_matrix(kernel)
        if sep is None:
            raise ValueError("method='fft' needs a separable kernel (Σ_r a_r(n) b_r(m) of rank ≤ 4); "
                             "this kernel is not: use method='direct'")
        out = _coagulation_fft(flat, sep)
    else:
        raise ValueError(f"method must be 'direct' or 'fft', got {method!r}")
    return out.reshape(f.shape)


def _choose_method(mat, sep, method, big_m, field=False):
    """``(method, operand)`` for :func:`coagulation_operator`: "auto" takes the FFT sums when the
    kernel is separable and ``M ≥ FFT_MIN_MASSES`` (``FFT_MIN_MASSES_FIELD`` when the sums are
    evaluated on a spatial grid, ``field=True``), else the compiled loop. ``mat`` may be None when
    ``sep`` is given (the matrix is then formed only for the compiled loop)."""
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"method must be 'auto', 'direct' or 'fft', got {method!r}")
    threshold = FFT_MIN_MASSES_FIELD if field else FFT_MIN_MASSES
    if method != "direct" and sep is None and (method == "fft" or big_m >= threshold):
        sep = SeparableKernel.from_matrix(mat)
    if method == "fft" and sep is None:
        raise ValueError("method='fft' needs a separable kernel (Σ_r a_r(n) b_r(m) of rank ≤ 4); "
                         "this kernel is not: use method='direct' or 'auto'")
    if method == "fft" or (method == "auto" and sep is not None and big_m >= threshold):
        return "fft", sep
    return "direct", sep.matrix() if mat is None else mat


def _loss_rate(f, kernel):
    big_m = f.shape[0]
    flat = f.reshape(big_m, -1)
    mask = (np.add.outer(np.arange(big_m), np.arange(big_m)) + 1) < big_m
    return (kernel * mask) @ flat  # per mass and point


# reaction steppers of the coagulation–diffusion splitting (``scheme=`` of solve_continuum)
REACTION_SCHEMES = {"ssp_rk3": SSPRK3, "rk4": RK4, "dp5": DormandPrince54}


def solve_homogeneous(kernel, f0, t_end, times=None, rtol=1e-10, atol=1e-14, method="auto"):
    """Homogeneous system ``df_n/dt = coagulation(f)_n`` (standard form, conservative truncation at
    ``M = len(f0)``) by Dormand–Prince 5(4) with error control (:class:`DormandPrince54` under the
    classical controller, :class:`PIController` with ``beta=0``). ``kernel``: array ``(M, M)`` or a
    :class:`SeparableKernel`; ``method``: "direct" (compiled O(M²) loop), "fft" (O(M log M), separable
    kernels) or "auto" (see :func:`_choose_method`). Returns ``(times, f)``, f of shape
    ``(len(times), M)``."""
    rule = PIController(rtol, atol, beta=0.0)  # refuses tolerances float64 cannot deliver, before any work
    ts = check_times(t_end, times)
    f0 = np.asarray(f0, dtype=float)
    if f0.ndim != 1 or f0.size < 1:
        raise ValueError(f"f0 must be a 1-D array of densities of masses 1..M, got shape {f0.shape}")
    if np.any(f0 < 0) or not np.all(np.isfinite(f0)):
        raise ValueError("f0 must be finite and non-negative")
    mat, sep = _as_kernel(kernel, f0.size)
    how, operand = _choose_method(mat, sep, method, f0.size)
    problem = ODEProblem(lambda t, y: coagulation_operator(y[:, None], operand, how)[:, 0])
    sol = integrate(DormandPrince54(), problem, f0, max(ts[-1], float(t_end)), None if times is None else ts, rule)
    return sol.times, np.array(sol.states)


def _no_drift(t, y):
    """The particles are Brownian: no drift."""
    return 0.0


class CoagulationDiffusion:
    """Coagulating Brownian particles in the periodic box ``[0, L)^3`` or in free space ``R^3``, and
    their Smoluchowski limit (see the module docstring for the equations and the convention).

    Parameters
    ----------
    max_mass : int
        ``M``: masses ``1..M`` (conservative truncation; particles never exceed ``M`` either).
    diffusivity : callable or float
        ``d(m)`` (generator ``d(m) Δ``, so ``E|Δx|^2 = 6 d(m) t``); a float means constant.
    alpha : callable or float
        Reaction strength ``α(n, m)`` (symmetric).
    pair_sum : "ordered" (paper (1.6) literally, κ = 2α) or "unordered" (κ = α).
    interaction : "ball" (V uniform on the unit ball, closed-form kernel) or a callable radial
        profile supported in the unit ball (kernel by ODE shooting).
    box : float
        Side ``L`` of the periodic box. In free space (``domain="free"``) the box only carries the
        continuum solver: the whole-space PDE is solved on the periodic box ``[0, L)^3``, which is
        faithful while the densities are negligible at its faces (the solver reports
        the Gaussian wrap-around estimate).
    domain : "torus" (particles on ``[0, L)^3``, periodic) or "free" (particles in ``R^3``, the
        paper's setting; needs ``initial_profile="bump"``, data of fast decay).
    initial_mass_fractions : sequence
        Number fractions of masses 1, 2, ... in the initial data (default monodisperse).
    total_density : float
        ``Z = Σ_n ∫ h_n`` (kinetic scaling ``N ε = Z`` in d = 3).
    initial_profile : "uniform", "gaussian" (centred bump of width ``box/8`` on a uniform floor) or
        "bump" (the Gaussian alone, centred at ``(L/2, L/2, L/2)``, standard deviation
        ``bump_width``, default ``box/8``; periodised on the torus).
    bump_width : float, optional
        Standard deviation of the "bump" profile.
    """

    def __init__(self, max_mass=8, diffusivity=1.0, alpha=100.0, pair_sum="ordered", interaction="ball", box=1.0,
                 initial_mass_fractions=(1.0,), total_density=10.0, initial_profile="uniform", domain="torus",
                 bump_width=None):
        self.max_mass = check_integer("max_mass", max_mass, minimum=1)
        self.box = check_positive("box", box)
        self.total_density = check_positive("total_density", total_density)
        if pair_sum not in ("ordered", "unordered"):
            raise ValueError(f"pair_sum must be 'ordered' or 'unordered', got {pair_sum!r}")
        self.pair_sum = pair_sum
        self._d = diffusivity if callable(diffusivity) else (lambda m, c=float(diffusivity): np.full(np.shape(m), c))
        self._alpha = alpha if callable(alpha) else (lambda n, m, c=float(alpha): np.full(np.broadcast(n, m).shape, c))
        masses = np.arange(1, self.max_mass + 1)
        dvals = np.asarray(self._d(masses), dtype=float)
        if np.any(~np.isfinite(dvals)) or np.any(dvals <= 0):
            raise ValueError(f"diffusivity must be positive for masses 1..{self.max_mass}, got {dvals}")
        avals = np.asarray(self._alpha(masses[:, None], masses[None, :]), dtype=float)
        if not np.all(np.isfinite(avals)) or np.any(avals < 0) or not np.allclose(avals, avals.T):
            raise ValueError(f"alpha must be finite, non-negative and symmetric on masses 1..{self.max_mass}; got "
                             f"min {avals.min():.3g}, max |α(n,m) - α(m,n)| {np.abs(avals - avals.T).max():.3g}")
        if interaction == "ball":
            self._capture = capture_function_uniform_ball
            self._profile = lambda r: np.where(r <= 1.0, 3 / (4 * np.pi), 0.0)
        elif callable(interaction):
            prof = interaction
            self._capture = np.vectorize(lambda a: capture_function(a, prof))
            self._profile = prof
        else:
            raise ValueError(f"interaction must be 'ball' or a radial profile callable, got {interaction!r}")
        frac = np.asarray(initial_mass_fractions, dtype=float)
        if frac.ndim != 1 or frac.size > self.max_mass or np.any(frac < 0) or frac.sum() <= 0:
            raise ValueError(f"initial_mass_fractions must be ≤ {self.max_mass} non-negative numbers, got {frac}")
        self.fractions = np.zeros(self.max_mass)
        self.fractions[: frac.size] = frac / frac.sum()
        if initial_profile not in ("uniform", "gaussian", "bump"):
            raise ValueError(f"initial_profile must be 'uniform', 'gaussian' or 'bump', got {initial_profile!r}")
        if domain not in ("torus", "free"):
            raise ValueError(f"domain must be 'torus' or 'free' (R^3), got {domain!r}")
        if domain == "free" and initial_profile != "bump":
            raise ValueError(f"domain='free' (R^3) needs integrable initial data: initial_profile must be 'bump', "
                             f"got {initial_profile!r}")
        self.initial_profile = initial_profile
        self.bump_width = self.box / 8 if bump_width is None else check_positive("bump_width", bump_width)
        if self.bump_width > self.box / 4:
            raise ValueError(f"bump_width must be at most box/4 = {self.box / 4} so that the bump fits in the box, "
                             f"got {bump_width!r}")
        self.domain_kind = domain
        self.domain = Domain.torus(3, self.box) if domain == "torus" else Domain.real(3)

    @property
    def params(self):
        return {"max_mass": self.max_mass, "pair_sum": self.pair_sum, "box": self.box,
                "total_density": self.total_density, "initial_profile": self.initial_profile,
                "domain": self.domain_kind, "bump_width": self.bump_width}

    # -- kernel ------------------------------------------------------------------------------
    def kernel(self):
        """Standard-form ``K[n-1, m-1]``; the paper's ``β`` is ``K / 2``."""
        return coagulation_rates(self.max_mass, lambda m: np.asarray(self._d(m), float),
                                 lambda n, m: np.asarray(self._alpha(n, m), float), self._capture, self.pair_sum)

    def epsilon(self, n):
        """Reaction range from the kinetic scaling ``N ε^{d-2} = Z`` (§1.3): ``ε = Z / N`` in d = 3."""
        return kinetic_scaling(n=n, total_density=self.total_density)

    def peak_density(self):
        """``max_x Σ_n h_n(x)`` of the initial data (``∫ = Z``)."""
        if self.initial_profile == "uniform":
            return self.total_density / self.box**3
        c = self.box / 2
        return float(self.total_density * self._shape_density(np.array(c), np.array(c), np.array(c)))

    def check_kinetic_regime(self, n):
        """Refuse ``n`` for which ``ε = Z/N`` is not small: on the torus ``ε ≤ L/3`` (cell lists, and
        ε ≪ L); everywhere, reaction ranges of the densest initial region must not overlap on average,
        ``ε^3 · (number density) = Z² max h / N² < 1`` (= ``(ε / mean spacing)^3``). Returns ε."""
        n = check_integer("n", n, minimum=2)
        eps = self.epsilon(n)
        if self.domain_kind == "torus" and eps > self.box / 3:
            raise ValueError(f"n={n} gives ε = Z/N = {eps:.3g} > box/3: the kinetic scaling needs ε ≪ box; "
                             f"use n > {int(3 * self.total_density / self.box)}")
        fill = self.total_density * self.peak_density() / n**2
        if fill >= 1.0:
            need = int(np.ceil(np.sqrt(self.total_density * self.peak_density())))
            raise ValueError(f"n={n} gives ε = Z/N = {eps:.3g} and ε³·(peak number density) = {fill:.3g} ≥ 1: "
                             f"reaction ranges overlap, outside the kinetic scaling; use n > {need}")
        return eps

    # -- initial data ------------------------------------------------------------------------
    def _shape_density(self, x, y, z):
        if self.initial_profile == "uniform":
            return np.ones(np.broadcast(x, y, z).shape) / self.box**3
        if self.initial_profile == "bump":
            c, w = self.box / 2, self.bump_width
            shifts = (-self.box, 0.0, self.box) if self.domain_kind == "torus" else (0.0,)
            out = 0.0
            for sx in shifts:  # periodised on the torus (images beyond the neighbours are < e^{-72})
                for sy in shifts:
                    for sz in shifts:
                        out = out + np.exp(-((x - c + sx) ** 2 + (y - c + sy) ** 2 + (z - c + sz) ** 2) / (2 * w**2))
            return out / ((2 * np.pi) ** 1.5 * w**3)
        c, w = self.box / 2, self.box / 8
        bump = np.exp(-((x - c) ** 2 + (y - c) ** 2 + (z - c) ** 2) / (2 * w**2))
        g = 0.5 / self.box**3 + 0.5 * bump / ((2 * np.pi) ** 1.5 * w**3)
        return g

    def initial_density(self, grid: UniformGrid):
        """``h_n = Z · fraction_n · shape`` on the grid, shape ``(M, *grid.shape)``."""
        shape = self._shape_density(*grid.mesh())
        shape = shape / grid.integrate(shape)  # exactly Z · fraction_n on the grid
        return self.total_density * self.fractions[:, None, None, None] * shape[None]

    def sample_particles(self, n, rng=None):
        """``n`` i.i.d. particles from ``h_n / Z``; returns ``(positions (n, 3), masses (n,))``."""
        n = check_integer("n", n, minimum=2)
        g = as_generator(rng)
        masses = g.choice(np.arange(1, self.max_mass + 1), size=n, p=self.fractions)
        if self.initial_profile == "uniform":
            pos = g.random((n, 3)) * self.box
        elif self.initial_profile == "bump":
            pos = self.box / 2 + g.normal(scale=self.bump_width, size=(n, 3))
            pos = self.domain.wrap(pos)
        else:
            pos = np.empty((n, 3))
            from_bump = g.random(n) < 0.5
            pos[~from_bump] = g.random(((~from_bump).sum(), 3)) * self.box
            pos[from_bump] = self.box / 2 + g.normal(scale=self.box / 8, size=(from_bump.sum(), 3))
            pos %= self.box
        return pos, masses.astype(np.int64)

    # -- particles ---------------------------------------------------------------------------
    def step_rule(self, n, displacement=0.1, hazard=0.1):
        """``dt`` with ``sqrt(2 d_max dt) ≤ displacement·ε`` and ``λ_max dt ≤ hazard``."""
        eps = self.epsilon(n)
        dmax = float(np.max(self._d(np.arange(1, self.max_mass + 1))))
        kappa = (2.0 if self.pair_sum == "ordered" else 1.0) * float(np.max(self._kappa_alpha()))
        vmax = float(self._profile(np.linspace(0, 1, 201)).max()) / self._profile_mass()
        return min(displacement**2 * eps**2 / (2 * dmax), hazard * eps**2 / (kappa * vmax))

    def _kappa_alpha(self):
        m = np.arange(1, self.max_mass + 1)
        return np.asarray(self._alpha(m[:, None], m[None, :]), dtype=float)

    def _profile_mass(self):
        r = np.linspace(0, 1, 4001)
        return float(np.trapezoid(4 * np.pi * r**2 * self._profile(r), r))

    def simulate_particles(self, state, t_end, times=None, rng=None, dt=None):
        """Brownian motion + pair reactions (module docstring). ``state = (positions, masses)``."""
        pos0, m0 = state
        pos = self.domain.wrap(np.array(pos0, dtype=float))
        m_arr = np.asarray(m0)
        if m_arr.dtype.kind not in "iuf" or not np.all(np.isfinite(m_arr)) or np.any(m_arr != np.round(m_arr)):
            raise ValueError(f"masses must be integers in 1..{self.max_mass}, got non-integer values")
        mass = m_arr.astype(np.int64)
        if pos.ndim != 2 or pos.shape[1] != 3 or mass.shape != (pos.shape[0],):
            raise ValueError("state must be (positions of shape (n, 3), integer masses of shape (n,))")
        if not np.all(np.isfinite(pos)):
            raise ValueError("positions must be finite")
        if np.any(mass < 1) or np.any(mass > self.max_mass) or not np.array_equal(mass, np.asarray(m0)):
            raise ValueError(f"masses must be integers in 1..{self.max_mass}")
        n = pos.shape[0]
        ts = check_times(t_end, times)
        eps = self.check_kinetic_regime(n)
        dt = self.step_rule(n) if dt is None else check_positive("dt", dt)
        g = as_generator(rng)
        kappa = (2.0 if self.pair_sum == "ordered" else 1.0) * self._kappa_alpha()
        r = np.linspace(0, 1, 2049)
        sweep = CoagulationSweep(eps, kappa, r**2, self._profile(r) / self._profile_mass(), g,
                                 box=self.box if self.domain_kind == "torus" else None, particles=n)
        # dx = sqrt(2 d(m)) dB per coordinate (generator d(m) Δ); the mass column does not move
        dcoef = np.sqrt(2 * np.asarray(self._d(np.arange(1, self.max_mass + 1)), float) * 1.0)
        xyz = np.array([1.0, 1.0, 1.0, 0.0])
        problem = SDEProblem(_no_drift, lambda t, y: dcoef[y[:, 3].astype(np.intp) - 1, None] * xyz)
        stepper = JumpSplitting(EulerMaruyama(), sweep)
        sol = integrate(stepper, problem, np.column_stack([pos, mass.astype(float)]), max(ts[-1], t_end), ts, dt,
                        rng=g)
        weight = self.total_density / n
        final = sol.states[-1][:, 3].astype(np.int64)
        return Trajectory(ts, [s[:, :3] for s in sol.states], self.domain,
                          [np.full(s.shape[0], weight) for s in sol.states],
                          [s[:, 3].astype(np.int64).astype(str) for s in sol.states], events=[],
                          info={**sol.info, "dt": dt, "epsilon": eps, "events": sweep.events,
                                "total_mass": int(final.sum())})

    # -- continuum ---------------------------------------------------------------------------
    def solve_homogeneous(self, t_end, times=None, method="auto"):
        """Spatially uniform densities ``f_n(t)`` (per unit volume of the box) from the initial mass
        fractions (see :func:`solve_homogeneous` for ``method``)."""
        f0 = self.total_density / self.box**3 * self.fractions
        return solve_homogeneous(self.kernel(), f0, t_end, times, method=method)

    def wrap_around_estimate(self, t_end):
        """For ``domain="free"``: the fraction of a Gaussian of variance ``w² + 2 d_max t`` per axis
        (the bump spread by the fastest diffusion; coagulation only sharpens the profiles) that lies
        beyond the box faces, ``1 - erf(L / (2 sqrt(2) σ))^3``: the size of the periodic-box error of
        the continuum solution in R^3. 0 on the torus."""
        from scipy.special import erf

        if self.domain_kind == "torus":
            return 0.0
        dmax = float(np.max(self._d(np.arange(1, self.max_mass + 1))))
        sigma = np.sqrt(self.bump_width**2 + 2 * dmax * float(t_end))
        return float(1 - erf(self.box / (2 * np.sqrt(2) * sigma)) ** 3)

    def solve_continuum(self, resolution=16, t_end=None, times=None, dt=None, reaction_substeps=1, method="auto",
                        scheme="ssp_rk3"):
        """Coagulation–diffusion on the periodic box by Strang splitting (module docstring). For
        ``domain="free"`` the box stands for R^3 (attribute ``wrap_around_estimate``, see
        :meth:`wrap_around_estimate`); ``method`` chooses the coagulation sums as in
        :func:`solve_homogeneous`.

        One step of length ``h`` is ``H(h/2) ∘ R(h) ∘ H(h/2)``: ``H`` the exact heat flow
        ``f̂_n ← exp(−d(n)|k|² t) f̂_n`` per mass in Fourier space, ``R`` the reaction ``df/dt =
        coagulation(f)`` advanced by ``reaction_substeps`` steps of the stepper ``scheme``:
        "ssp_rk3" (default; Shu–Osher SSP-RK3, a convex combination of forward-Euler steps, so
        positive under the step rule below), "rk4" (classical RK4) or "dp5" (Dormand–Prince 5 at
        fixed step; RK4 and DP5 are more accurate per step but not positivity preserving).

        Step rule (unless ``dt`` given): ``dt = 0.5 / max(loss rate)`` at the start, which makes each
        forward-Euler stage of the reaction positive (the spectral heat step is exact in Fourier space
        but not positivity preserving for under-resolved data: a Gibbs undershoot of 2.7e-8 of the
        maximum for a bump two cells wide, none at four cells — use smooth, resolved data); the
        splitting error is O(dt²) and the reaction error O((dt/reaction_substeps)^p), p the order of
        the scheme (both measured in the tests). Returns the standard dataset with species labelled by
        mass ``1..M``; the attributes ``solver_scheme``, ``solver_order``, ``solver_a``, ``solver_b``
        and ``solver_step_rule`` record the steppers and their declared orders.
        """
        reaction_substeps = check_integer("reaction_substeps", reaction_substeps, minimum=1)
        if scheme not in REACTION_SCHEMES:
            raise ValueError(f"scheme must be one of {sorted(REACTION_SCHEMES)}, got {scheme!r}")
        if t_end is None:
            raise ValueError("t_end is required")
        ts = check_times(t_end, times)
        if dt is not None:
            dt = check_positive("dt", dt)
        resolution = check_integer("resolution", resolution, minimum=2)
        wrap = self.wrap_around_estimate(ts[-1])
        if wrap > 1e-3:
            raise ValueError(f"box = {self.box} is too small to stand for R^3 up to t_end = {ts[-1]}: the Gaussian "
                             f"wrap-around estimate is {wrap:.2g} > 1e-3 (see wrap_around_estimate); use a larger box")
        grid = UniformGrid(0.0, self.box, (resolution,) * 3, periodic=True)
        f = self.initial_density(grid)
        kernel = self.kernel()
        how, operand = _choose_method(kernel, None, method, self.max_mass, field=True)
        if dt is None:
            dt = check_positive("dt", 0.5 / max(float(_loss_rate(f, kernel).max()), 1e-300))
        kx, ky, kz = grid.wavenumber_mesh(real=True)
        k2 = kx**2 + ky**2 + kz**2
        dvals = np.asarray(self._d(np.arange(1, self.max_mass + 1)), float)
        heat = SemilinearProblem(-dvals[:, None, None, None] * k2[None], forward=lambda u: fft.rfftn(u, ndim=3),
                                 inverse=lambda u: fft.irfftn(u, grid.shape, ndim=3))
        reaction = ODEProblem(lambda t, u: coagulation_operator(u, operand, how))
        react = REACTION_SCHEMES[scheme]()
        if reaction_substeps > 1:
            react = Substeps(react, reaction_substeps)
        stepper = StrangSplitting(ExactLinear(), react)
        sol = integrate(stepper, SplitProblem(heat, reaction), f, max(ts[-1], float(t_end)), ts, dt)
        out = np.array(sol.states)
        masses = np.arange(1, self.max_mass + 1)
        total = (masses[None, :, None, None, None] * out).sum(axis=1)
        name = "strang_spectral_sspRK3" if scheme == "ssp_rk3" else f"strang_spectral_{scheme}"
        return continuum_dataset(ts, out, grid, species=[str(m) for m in masses], params=self.params,
                                 solver={"method": name, **sol.info, "dt": dt, "resolution": resolution,
                                         "reaction_substeps": reaction_substeps, "coagulation_sums": how,
                                         "wrap_around_estimate": self.wrap_around_estimate(ts[-1])},
                                 total_mass=(("time",), grid.integrate(total)))
