"""Raw FFTW calls: the denominator of the step benchmarks (``coulomb2d_spectral_step.py``,
``dislocations_mfeps_step.py``, ``coulomb2d_free_vs_periodic.py``).

:func:`raw_transforms` builds pyFFTW plans on aligned buffers with the planner effort and thread count
``meanfield.solvers.fft`` uses for the same transforms, and returns one function that executes them in
order: ``plan.execute()`` only (no copies, no normalisation, no Python wrapper), the least a step that
needs those transforms can spend on them. With the scipy backend it calls ``scipy.fft`` on preallocated
arrays instead. Run it to print the time of one raw transform per size:
``PYTHONPATH=. python benchmarks/fft_raw_plans.py``.
"""

import numpy as np

from meanfield.solvers import fft

KINDS = ("rfftn", "irfftn")


def raw_transforms(specs):
    """``specs``: a list of ``(kind, real_shape, ndim)`` (kind ``"rfftn"`` or ``"irfftn"``, the real array's
    shape, the number of trailing axes transformed: a leading axis is a batch). Returns a function of no
    argument executing all of them once, in order."""
    calls = []
    for kind, shape, ndim in specs:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        shape = tuple(shape)
        axes = tuple(range(len(shape) - ndim, len(shape)))
        size = int(np.prod([shape[a] for a in axes]))
        threads = fft._THREADS if int(np.prod(shape)) >= fft._MEASURE_MIN_SIZE else 1
        cshape = (*shape[:-1], shape[-1] // 2 + 1)
        if fft.BACKEND == "pyfftw":
            import pyfftw

            effort = fft.planner_effort(size)
            if kind == "rfftn":
                buf = pyfftw.empty_aligned(shape, dtype="float64")
                buf[...] = np.random.default_rng(0).random(shape)
                plan = pyfftw.builders.rfftn(buf, axes=axes, threads=threads, planner_effort=effort)
            else:
                buf = pyfftw.empty_aligned(cshape, dtype="complex128")
                buf[...] = 1.0
                plan = pyfftw.builders.irfftn(buf, s=tuple(shape[a] for a in axes), axes=axes, threads=threads,
                                              planner_effort=effort)
            calls.append(plan.execute)
        else:  # pragma: no cover - machines without pyFFTW
            import scipy.fft as sfft

            if kind == "rfftn":
                arr = np.random.default_rng(0).random(shape)
                calls.append(lambda a=arr, ax=axes, w=threads: sfft.rfftn(a, axes=ax, workers=w))
            else:
                arr = np.ones(cshape, complex)
                s = tuple(shape[a] for a in axes)
                calls.append(lambda a=arr, ax=axes, s=s, w=threads: sfft.irfftn(a, s=s, axes=ax, workers=w))

    def run():
        for call in calls:
            call()

    return run


def main():
    from _timing import median_time

    print(f"backend {fft.BACKEND}, {fft._THREADS} thread(s) above {fft._MEASURE_MIN_SIZE} points; "
          "median of 30 calls, ms")
    for n in (128, 256, 512, 1024):
        row = [1e3 * median_time(raw_transforms([(k, (n, n), 2)])) for k in KINDS]
        print(f"{n:5d}^2  rfftn {row[0]:8.3f}  irfftn {row[1]:8.3f}")


if __name__ == "__main__":
    main()
