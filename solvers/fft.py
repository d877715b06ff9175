"""Fast Fourier transforms, periodic and free-space convolutions, spectral derivatives.

One backend is chosen at import: pyFFTW with cached plans and all cores when it imports, else
``scipy.fft``. Both give the same numbers to round-off; :data:`BACKEND` says which is in use and
``MEANFIELD_FFT=scipy`` in the environment forces the fallback.

Plans are cached per thread and (transform, shape, axes). Planning effort is ``FFTW_ESTIMATE`` by default: its
plan depends only on the transform, so every process (a study's workers, a rerun) computes the same
numbers to the last bit. ``MEANFIELD_FFTW_PLANNER=measure`` in the environment uses ``FFTW_MEASURE``
for grids of at least 2**14 points instead (planning costs 0.3-1 s once and may pick faster
algorithms, but the choice depends on timings, so results then differ between processes at round-off:
a 000 validation run differed at the 14th-16th digit between in-process and worker runs).
What ESTIMATE costs (``python benchmarks/fft_planner.py``, one thread, CPU time, loaded 2-core machine,
medians of 7 interleaved rounds): raw transforms take 0.93-1.05x the MEASURE plan's time for the 2 x 512²
pairs of the 003 full validation, 1.05-1.2x at 512², 1.3-1.9x at 128²-256² (the 000 grids and their
padded velocity transforms, 0.05-0.4 ms each) and 1.2-1.5x on the 1280² fine grid of the 003 bump
kernel (made once per run); MEASURE planning costs 0.5-10 s per transform shape in exchange.
Arrays below 2**14 points are transformed on one thread: there a second thread's start-up costs
more than it saves (``python benchmarks/fft_threads.py``), and far more when the other core is busy.
Larger arrays use all cores, or ``MEANFIELD_FFT_THREADS`` of them (a positive integer) when that is set
(benchmarks on a loaded machine set it to 1, so FFT and non-FFT work are timed alike).

Each thread keeps its own plans (a plan owns its buffers, so two threads never share one). A call runs
the plan on the caller's array when FFTW's alignment rules allow and the transform preserves its input
(every one but complex-to-real, which destroys it: :func:`irfftn` copies its argument into the plan's own
buffer unless ``overwrite_input=True``), writes the output into a new array, and points the plan back at
its own buffers (pyFFTW's own call keeps an aligned argument as the plan's buffer and later copies other
inputs into it). :func:`convolve_free_space` has plans of its own whose buffers hold the zero padding.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import scipy.fft as _sfft

__all__ = [
    "BACKEND",
    "convolve_free_space",
    "convolve_periodic",
    "fftn",
    "free_space_kernel_hat",
    "ifftn",
    "irfftn",
    "poisson_periodic",
    "rfftn",
    "spectral_derivative",
    "spectral_gradient",
]



def _threads_from_environment() -> int:
    """``MEANFIELD_FFT_THREADS`` (a positive integer) if set, else the number of cores."""
    value = os.environ.get("MEANFIELD_FFT_THREADS", "").strip()
    if not value:
        return max(1, os.cpu_count() or 1)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"MEANFIELD_FFT_THREADS must be a positive integer, got {value!r}")
    return int(value)


_THREADS = _threads_from_environment()
_MEASURE_MIN_SIZE = 2**14

try:  # pragma: no cover - exercised implicitly depending on the machine
    if os.environ.get("MEANFIELD_FFT", "").lower() == "scipy":
        raise ImportError("scipy backend forced by MEANFIELD_FFT")
    import pyfftw
    import pyfftw.builders as _builders

    pyfftw.config.NUM_THREADS = _THREADS
    BACKEND = "pyfftw"
except ImportError:  # pragma: no cover
    pyfftw = None
    BACKEND = "scipy"

_local = threading.local()  # per-thread plan cache: {(kind, shape, axes, s): plan}
_lock = threading.Lock()  # FFTW's planner is not thread-safe


def _plans() -> dict:
    plans = getattr(_local, "plans", None)
    if plans is None:
        plans = _local.plans = {}
    return plans


def planner_effort(size: int) -> str:
    """The FFTW planner flag used for a transform of ``size`` points (module docstring)."""
    measure = os.environ.get("MEANFIELD_FFTW_PLANNER", "estimate").lower() == "measure"
    return "FFTW_MEASURE" if measure and size >= _MEASURE_MIN_SIZE else "FFTW_ESTIMATE"


def _axes(ndim_data, ndim_fft):
    return tuple(range(ndim_data - ndim_fft, ndim_data))


def _plan(kind, shape, axes, s=None, tag=None):
    """The calling thread's plan of a transform (made on first use). ``tag`` names a plan of its own for
    one user (e.g. the free-space convolution, whose buffers hold its padding)."""
    key = (kind, shape, axes, s, tag)
    plans = _plans()
    plan = plans.get(key)
    if plan is None:
        with _lock:
            plan = plans.get(key)
            if plan is None:
                effort = planner_effort(int(np.prod([shape[a] for a in axes])))
                dtype = "float64" if kind == "rfftn" else "complex128"
                buf = pyfftw.empty_aligned(shape, dtype=dtype)
                builder = getattr(_builders, kind)
                # 2-core machine, benchmarks/fft_threads.py: below 2**14 points a second thread
                # changes an idle machine's time by -45 % to +40 % (microseconds), but made a
                # (2, 3200) pair 40x slower while the other core was busy; above, it gains 1.3-2.2x
                threads = _THREADS if int(np.prod(shape)) >= _MEASURE_MIN_SIZE else 1
                kwargs = dict(axes=axes, threads=threads, planner_effort=effort)
                if s is not None:
                    kwargs["s"] = s
                plan = builder(buf, **kwargs)
                plan.input_array[...] = 0  # FFTW_MEASURE planning scribbles on the buffers
                plans[key] = plan
    return plan


def _execute(plan, a, may_destroy, result=None):
    """Run ``plan`` on ``a``, its output written into ``result`` (a checked array of the output's shape
    and dtype) or a new array, which is returned (normalised for an inverse as pyFFTW normalises: times
    ``1/N``). FFTW reads ``a`` in place when its alignment and strides allow and ``may_destroy`` (FFTW's
    c2r transforms destroy their input), else a copy in the plan's own buffer; afterwards the plan points
    at its own buffers again, so it never keeps a caller's array."""
    own_in, own_out = plan.input_array, plan.output_array
    out = np.empty(own_out.shape, own_out.dtype) if result is None else result
    src = a
    try:
        if not may_destroy:
            raise ValueError("input must be preserved")
        plan.update_arrays(a, out)
    except ValueError:
        own_in[...] = a
        src = own_in
        try:
            plan.update_arrays(own_in, out)
        except ValueError:  # a result without FFTW's alignment (np.empty gives the 16 bytes plans ask for)
            plan.update_arrays(own_in, own_out)
            out = own_out
    try:
        plan.execute()
    finally:
        if src is not own_in or out is not own_out:
            plan.update_arrays(own_in, own_out)
    if out is own_out:
        if result is None:
            out = own_out.copy()
        else:
            result[...] = own_out
            out = result
    direction = plan.direction
    if (direction if isinstance(direction, str) else direction[0]) == "FFTW_BACKWARD":
        out *= 1.0 / float(plan.N)
    return out


def _run(kind, a, ndim, s=None, overwrite_input=False, out=None):
    axes = _axes(a.ndim, ndim if ndim is not None else a.ndim)
    if BACKEND == "pyfftw":
        dtype = np.float64 if kind == "rfftn" else np.complex128
        a = np.asarray(a, dtype=dtype)
        plan = _plan(kind, a.shape, axes, s)
        if type(plan) is pyfftw.FFTW and plan.input_array.shape == a.shape:
            # only FFTW's complex-to-real transforms destroy their input (FFTW_PRESERVE_INPUT is the default
            # of the others); pyFFTW's own call would keep an aligned argument as the plan's buffer
            return _execute(plan, a, overwrite_input or kind != "irfftn", out)
        res = plan(a.copy()).copy()  # pragma: no cover - pyFFTW's wrapper plans (padded shapes)
    else:
        res = getattr(_sfft, kind)(a, s=s, axes=axes, workers=_THREADS if a.size >= _MEASURE_MIN_SIZE else 1)
    if out is None:
        return res
    out[...] = res
    return out


def rfftn(a, ndim=None):
    """Real-to-complex transform over the last ``ndim`` axes (all axes by default)."""
    return _run("rfftn", np.asarray(a, dtype=np.float64), ndim)


def irfftn(a_hat, shape, ndim=None, *, overwrite_input=False, out=None):
    """Inverse of :func:`rfftn`; ``shape`` is the real shape of the transformed axes.

    ``overwrite_input=True`` allows the transform to destroy ``a_hat`` (a temporary of the caller's),
    which saves copying it: FFTW's complex-to-real transforms overwrite their input. ``out``: a float64
    array of the result's shape to write the result into (and return), e.g. a work array reused from
    call to call, which saves allocating (and page-faulting) a new one."""
    a_hat = np.asarray(a_hat, dtype=np.complex128)
    shape = tuple(int(n) for n in np.atleast_1d(shape))
    ndim = ndim if ndim is not None else len(shape)
    if out is not None:
        expected = (*a_hat.shape[: a_hat.ndim - ndim], *shape)
        if not (isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == expected
                and out.flags.writeable):
            raise ValueError(f"out must be a writeable float64 array of shape {expected}, got "
                             f"{getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}")
    return _run("irfftn", a_hat, ndim, s=shape, overwrite_input=bool(overwrite_input), out=out)


def fftn(a, ndim=None):
    """Complex-to-complex forward transform over the last ``ndim`` axes (all axes by default)."""
    return _run("fftn", np.asarray(a, dtype=np.complex128), ndim)


def ifftn(a, ndim=None):
    """Inverse of :func:`fftn` (normalised, so ``ifftn(fftn(a)) == a`` to round-off)."""
    return _run("ifftn", np.asarray(a, dtype=np.complex128), ndim)


def convolve_periodic(f, g, cell_volume=1.0):
    """Periodic convolution ``(f * g)(x_i) = sum_j f(x_j) g(x_i - x_j) * cell_volume``.

    ``f`` and ``g`` are real arrays of the same shape, sampled on the same periodic grid with
    ``g`` indexed so that ``g[0, ...]`` is the value at the origin (FFT order).
    """
    f = np.asarray(f, dtype=float)
    g = np.asarray(g, dtype=float)
    if f.shape != g.shape:
        raise ValueError(f"f and g must have the same shape, got {f.shape} and {g.shape}")
    return irfftn(rfftn(f) * rfftn(g), f.shape) * cell_volume


def free_space_kernel_hat(kernel, shape, spacing):
    """Transform of a kernel sampled on the doubled (zero-padded) grid used by free-space convolution.

    ``kernel(*coords)`` is evaluated on displacements ``x_i - x_j`` with ``|i - j| < n`` per axis,
    laid out in wrap-around order on a grid of shape ``2n``. Returns the rfftn of that array.
    """
    coords = []
    for n, h in zip(shape, spacing, strict=True):
        m = np.arange(2 * n)
        m = np.where(m < n, m, m - 2 * n)  # displacement index, wrap-around
        m[n] = 0  # the Nyquist slot is never reached by |i - j| < n; keep it finite
        coords.append(m * h)
    mesh = np.meshgrid(*coords, indexing="ij")
    kern = np.asarray(kernel(*mesh), dtype=float)
    for a, n in enumerate(shape):  # zero the unreachable Nyquist slot
        idx = [slice(None)] * len(shape)
        idx[a] = n
        kern[tuple(idx)] = 0.0
    return rfftn(kern)


def convolve_free_space(f, kernel_hat, cell_volume=1.0):
    """Aperiodic convolution on a bounded grid by zero padding: no periodic images.

    ``kernel_hat`` comes from :func:`free_space_kernel_hat` for the same grid shape. The result
    is ``sum_j f_j K(x_i - x_j) * cell_volume`` exactly (to round-off) for every cell ``i``.
    Several kernels (a list or tuple of such transforms, or an array stacking them on a first axis,
    e.g. the components of a vector kernel) give their convolutions stacked on a first axis, from one
    forward transform of the padded ``f`` (the same numbers as one call per kernel).
    """
    f = np.asarray(f, dtype=float)
    big = tuple(2 * n for n in f.shape)
    inner = tuple(slice(0, n) for n in f.shape)
    stacked = isinstance(kernel_hat, (list, tuple)) or np.ndim(kernel_hat) == f.ndim + 1
    kernels = kernel_hat if stacked else [kernel_hat]
    if BACKEND == "pyfftw":
        out = _free_space_pyfftw(f, kernels, big, inner, cell_volume)
    else:  # pragma: no cover - machines without pyFFTW
        padded = np.zeros(big)
        padded[inner] = f
        f_hat = rfftn(padded)
        out = np.array([irfftn(f_hat * kh, big, overwrite_input=True)[inner] * cell_volume for kh in kernels])
    return out if stacked else out[0]


def _free_space_pyfftw(f, kernels, big, inner, cell_volume):
    """:func:`convolve_free_space` on plans of its own (per thread), whose buffers hold the padding: the
    padded input's zeros are written once, the products go straight into the inverse plan's input, and
    only the inner block of each inverse is normalised and copied out (no padded array is allocated per
    call). The same numbers as :func:`rfftn`/:func:`irfftn` on padded arrays, bit for bit."""
    axes = tuple(range(len(big)))
    forward = _plan("rfftn", big, axes, None, tag="free_space")
    backward = _plan("irfftn", forward.output_array.shape, axes, big, tag="free_space")
    buf = forward.input_array
    buf[inner] = f  # the rest of the buffer is zero since the plan was made (r2c preserves its input)
    forward.execute()
    f_hat = forward.output_array
    scale = 1.0 / float(backward.N)
    out = np.empty((len(kernels), *f.shape))
    for k, kh in enumerate(kernels):
        np.multiply(f_hat, kh, out=backward.input_array)
        backward.execute()
        np.multiply(backward.output_array[inner], scale, out=out[k])
        out[k] *= cell_volume
    return out


def _real_wavenumbers(shape, lengths):
    ks = []
    for a, (n, L) in enumerate(zip(shape, lengths, strict=True)):
        if a == len(shape) - 1:
            k = 2 * np.pi * np.fft.rfftfreq(n, d=L / n)
        else:
            k = 2 * np.pi * np.fft.fftfreq(n, d=L / n)
        ks.append(k)
    return np.meshgrid(*ks, indexing="ij")


def spectral_derivative(f, lengths, axis, order=1):
    """Spectral derivative of a periodic real array along ``axis`` (box side ``lengths[axis]``).

    The Nyquist mode is dropped for odd orders, where its derivative is not real.
    """
    f = np.asarray(f, dtype=float)
    lengths = np.broadcast_to(np.asarray(lengths, dtype=float), (f.ndim,))
    k = _real_wavenumbers(f.shape, lengths)[axis]
    mult = (1j * k) ** order
    n = f.shape[axis]
    if order % 2 == 1 and n % 2 == 0:
        mult = np.where(np.isclose(np.abs(k), np.pi * n / lengths[axis]), 0.0, mult)
    return irfftn(rfftn(f) * mult, f.shape)


def spectral_gradient(f, lengths):
    """Tuple of the spectral first derivatives of a periodic real array along every axis
    (:func:`spectral_derivative` with ``order=1``)."""
    return tuple(spectral_derivative(f, lengths, a) for a in range(np.ndim(f)))


def poisson_periodic(f, lengths):
    """Solve ``-Laplace u = f - mean(f)`` on a periodic box with ``mean(u) = 0``."""
    f = np.asarray(f, dtype=float)
    lengths = np.broadcast_to(np.asarray(lengths, dtype=float), (f.ndim,))
    k2 = sum(k**2 for k in _real_wavenumbers(f.shape, lengths))
    f_hat = rfftn(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        u_hat = np.where(k2 > 0, f_hat / k2, 0.0)
    return irfftn(u_hat, f.shape)
