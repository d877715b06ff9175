"""The coagulation sums of model 004 (the engine of its homogeneous system and of the reaction step of
its coagulation–diffusion PDE), with conservative truncation at the largest mass ``M``.

In the standard form with a symmetric non-negative kernel ``K`` (theory page 004, the system
(1.1)–(1.3) with ``K = 2β``), for masses ``n = 1..M``

    Q(f)_n = ½ Σ_{m<n} K(m, n-m) f_m f_{n-m} − f_n Σ_{m ≤ M-n} K(n, m) f_m,

where the loss stops at ``M - n`` (a collision whose product would exceed ``M`` does not happen), so
``Σ n Q(f)_n = 0`` exactly. Two algorithms (``sums=``): "direct", a compiled O(M²) loop per point
over a tabulated ``(M, M)`` kernel; "fft", O(M log M) per point by FFT convolutions over mass for a
kernel that is a short sum of products (:class:`SeparableKernel`, never expanded to ``M × M``);
"auto" picks between them (:func:`choose_sums`). The model module
:mod:`meanfield.models.smoluchowski` wires these into its solvers.
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit

from meanfield.models.base import check_integer, check_memory, check_nonnegative

__all__ = ["FFT_MIN_MASSES", "FFT_MIN_MASSES_FIELD", "SeparableKernel", "as_kernel", "choose_sums",
           "coagulation_operator", "loss_rate"]

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


def _factor_size(max_mass, vectors):
    """``max_mass`` checked, and the ``vectors`` factor vectors of that length checked to fit in memory."""
    m = check_integer("max_mass", max_mass, minimum=1)
    check_memory(8.0 * vectors * m, f"the factors of a separable kernel with max_mass={m}")
    return m


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
        try:
            a = np.atleast_2d(np.asarray(a, dtype=float))
            b = np.atleast_2d(np.asarray(b, dtype=float))
        except (TypeError, ValueError):
            raise TypeError(f"a and b must be arrays of real numbers of shape (rank, M), got {type(a).__name__} and "
                            f"{type(b).__name__}") from None
        if a.shape != b.shape or a.ndim != 2 or a.shape[1] < 1 or a.shape[0] < 1:
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
        for a, b in zip(self.a, self.b, strict=True):
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
        m = _factor_size(max_mass, 2)
        return cls(np.full((1, m), check_nonnegative("c", c)), np.ones((1, m)))

    @classmethod
    def additive(cls, max_mass, c=1.0):
        """``K(n, m) = c (n + m)``."""
        m = _factor_size(max_mass, 5)
        n = np.arange(1, m + 1, dtype=float)
        c = check_nonnegative("c", c)
        return cls([c * n, c * np.ones(m)], [np.ones(m), n])

    @classmethod
    def multiplicative(cls, max_mass, c=1.0):
        """``K(n, m) = c n m`` (gelation at ``c M_1 t = 1`` for monodisperse data)."""
        m = _factor_size(max_mass, 3)
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


def as_kernel(kernel, size=None):
    """``(matrix or None, separable form or None)`` from an array or a :class:`SeparableKernel`, checked
    finite, non-negative and symmetric (ValueError naming ``kernel``); ``size`` is the number of mass
    classes ``M`` the kernel must cover (its shape must be ``(M, M)``: a smaller table would be read
    beyond its end). A separable kernel is checked through its factors
    (:meth:`SeparableKernel.check`) and its ``M × M`` matrix is not formed."""
    want = f"({size}, {size}) for max_mass={size}" if size is not None else "(M, M)"
    if isinstance(kernel, SeparableKernel):
        if size is not None and kernel.max_mass != size:
            raise ValueError(f"kernel must have shape {want}, got a SeparableKernel of shape "
                             f"{(kernel.max_mass,) * 2}")
        return None, kernel.check()
    if isinstance(kernel, (str, bytes)) or kernel is None:
        raise TypeError(f"kernel must be an (M, M) array or a SeparableKernel, got {kernel!r}")
    try:
        mat = np.asarray(kernel, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"kernel must be an (M, M) array of real numbers or a SeparableKernel, got "
                        f"{type(kernel).__name__}") from None
    if mat.ndim != 2 or mat.shape[0] != mat.shape[1] or (size is not None and mat.shape[0] != size):
        raise ValueError(f"kernel must have shape {want}, got {mat.shape}")
    if not _finite_nonnegative_symmetric(mat):
        raise ValueError("kernel must be finite, non-negative and symmetric")
    return mat, None


def _finite_nonnegative_symmetric(mat, rtol=1e-12):
    """``all(isfinite) and all(≥ 0) and allclose(mat, matᵀ, rtol, atol=0)`` for a square table, by blocks
    of rows (the same elementwise tests, ``|K_nm − K_mn| ≤ rtol |K_mn|``) so that the temporaries take
    O(M) memory (about 1 MB) instead of several ``M × M`` arrays."""
    big_m = mat.shape[0]
    block = max(1, 2**17 // max(big_m, 1))
    for start in range(0, big_m, block):
        rows = mat[start : start + block]
        cols = mat[:, start : start + block].T
        if not (np.all(np.isfinite(rows)) and np.all(rows >= 0) and np.all(np.abs(rows - cols) <= rtol * np.abs(cols))):
            return False
    return True


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


SUMS = ("auto", "direct", "fft")


def sums_keyword(sums, method, default="auto", where="sums"):
    """``sums`` after the deprecated alias ``method=`` (one release): a DeprecationWarning naming the
    new keyword; both given with different values (``sums`` not None nor its default) is an error."""
    if method is not None:
        if sums is not None and sums != default and sums != method:
            raise TypeError(f"give sums= only (method= is its deprecated name), got sums={sums!r} and "
                            f"method={method!r}")
        warnings.warn(f"{where}: the keyword method= is deprecated, use sums= (the coagulation-sum algorithm)",
                      DeprecationWarning, stacklevel=3)
        sums = method
    return default if sums is None else sums


def coagulation_operator(f, kernel, sums="direct", *, method=None):
    """Right-hand side ``Q(f)`` of the coagulation terms (module docstring) for ``f`` of shape
    ``(M, ...)``. ``sums="direct"`` (default): compiled O(M²) loop over the table ``kernel`` of shape
    ``(M, M)`` (a :class:`SeparableKernel` is tabulated for it); ``"fft"``: O(M log M) sums for a
    separable kernel (a :class:`SeparableKernel`, or an array of low numerical rank). The kernel must
    cover exactly the ``M`` classes of ``f`` (ValueError naming ``kernel``, its shape and ``M``).
    ``method=`` is the deprecated name of ``sums=``."""
    sums = sums_keyword(sums, method, "direct", "coagulation_operator")
    f = np.asarray(f, dtype=float)
    if f.ndim < 1 or f.shape[0] < 1:
        raise ValueError(f"f must have shape (M, ...) with M >= 1 mass classes, got {f.shape}")
    big_m = f.shape[0]
    shape = (kernel.max_mass,) * 2 if isinstance(kernel, SeparableKernel) else np.shape(kernel)
    if tuple(shape) != (big_m, big_m):
        raise ValueError(f"kernel must have shape ({big_m}, {big_m}) to match the max_mass={big_m} classes of f, "
                         f"got {tuple(shape)}")
    flat = np.ascontiguousarray(f.reshape(big_m, -1))
    if sums == "direct":
        if isinstance(kernel, SeparableKernel):
            check_memory(8 * big_m**2, f"the ({big_m}, {big_m}) table of a SeparableKernel for sums='direct'")
            mat = kernel.matrix()
        else:
            mat = kernel
        out = np.empty_like(flat)
        _coagulation(flat, np.ascontiguousarray(mat, dtype=float), out)
    elif sums == "fft":
        sep = kernel if isinstance(kernel, SeparableKernel) else SeparableKernel.from_matrix(kernel)
        if sep is None:
            raise ValueError("sums='fft' needs a separable kernel (Σ_r a_r(n) b_r(m) of rank ≤ 4); "
                             "this kernel is not: use sums='direct'")
        out = _coagulation_fft(flat, sep)
    else:
        raise ValueError(f"sums must be 'direct' or 'fft', got {sums!r}")
    return out.reshape(f.shape)


def choose_sums(mat, sep, sums, big_m, field=False):
    """``(sums, operand)`` for :func:`coagulation_operator`: "auto" takes the FFT sums when the
    kernel is separable and ``M ≥ FFT_MIN_MASSES`` (``FFT_MIN_MASSES_FIELD`` when the sums are
    evaluated on a spatial grid, ``field=True``), else the compiled loop. ``mat`` may be None when
    ``sep`` is given (the matrix is then formed only for the compiled loop, after a memory check)."""
    if not isinstance(sums, str) or sums not in SUMS:
        raise ValueError(f"sums must be 'auto', 'direct' or 'fft', got {sums!r}")
    threshold = FFT_MIN_MASSES_FIELD if field else FFT_MIN_MASSES
    if sums != "direct" and sep is None and (sums == "fft" or big_m >= threshold):
        check_memory(8.0 * 2 * big_m**2, f"the search for a separable form of the ({big_m}, {big_m}) kernel table")
        sep = SeparableKernel.from_matrix(mat)
    if sums == "fft" and sep is None:
        raise ValueError("sums='fft' needs a separable kernel (Σ_r a_r(n) b_r(m) of rank ≤ 4); "
                         "this kernel is not: use sums='direct' or 'auto'")
    if sums == "fft" or (sums == "auto" and sep is not None and big_m >= threshold):
        return "fft", sep
    if mat is None:
        check_memory(8 * big_m**2, f"the ({big_m}, {big_m}) table of a SeparableKernel for the direct sums")
        mat = sep.matrix()
    return "direct", mat


def loss_rate(f, kernel):
    """``Σ_{m ≤ M-n} K(n, m) f_m`` per mass ``n`` and point, for ``f`` of shape ``(M, ...)`` (the loss
    rate of the conservatively truncated sums, which sets the positivity step of the PDE's reaction):
    through the table, or through the factors of a :class:`SeparableKernel` (prefix sums, no ``M × M``
    matrix)."""
    big_m = f.shape[0]
    flat = f.reshape(big_m, -1)
    if isinstance(kernel, SeparableKernel):
        out = np.zeros_like(flat)
        for a, b in zip(kernel.a, kernel.b, strict=True) if big_m > 1 else ():
            cum = np.cumsum(b[:, None] * flat, axis=0)  # C(k) = Σ_{m ≤ k+1} b(m) f_m (0-based k)
            out[: big_m - 1] += a[: big_m - 1, None] * cum[big_m - 2 :: -1]
        return out
    mask = (np.add.outer(np.arange(big_m), np.arange(big_m)) + 1) < big_m
    return (kernel * mask) @ flat  # per mass and point
