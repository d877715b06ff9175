"""FFT plans: one cache per thread, the caller's arrays never become a plan's buffer, the thread
count from the environment is checked, several kernels share one padded forward transform."""

import threading

import numpy as np
import pytest

from meanfield.solvers import fft

pyfftw_only = pytest.mark.skipif(fft.BACKEND != "pyfftw", reason="pyFFTW not installed")


@pyfftw_only
def test_each_thread_has_its_own_plans_and_gets_the_same_numbers():
    a = np.random.default_rng(0).normal(size=(128, 128))
    mine = fft.rfftn(a)
    key = ("rfftn", a.shape, (0, 1), None, None)
    results, plans = {}, {}

    def work(k):
        results[k] = [fft.irfftn(fft.rfftn(a) * 2.0, a.shape) for _ in range(20)]
        plans[k] = fft._plans()[key]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(p) for p in plans.values()} | {id(fft._plans()[key])}) == 4
    expected = fft.irfftn(mine * 2.0, a.shape)
    for res in results.values():
        for r in res:
            np.testing.assert_array_equal(r, expected)


@pyfftw_only
def test_unaligned_and_aligned_inputs_alternate_without_touching_earlier_arrays():
    # pyFFTW keeps an aligned argument as the plan's buffer, and copies a later unaligned one into it:
    # the wrapper must copy every argument into the plan's own buffer instead
    import pyfftw

    rng = np.random.default_rng(1)
    first = pyfftw.empty_aligned((64, 64), dtype="float64")
    first[...] = rng.normal(size=(64, 64))
    keep = first.copy()
    raw = pyfftw.empty_aligned(64 * 64 + 1, dtype="float64")
    unaligned = raw[1:].reshape(64, 64)  # 8 bytes past an aligned start
    unaligned[...] = rng.normal(size=(64, 64))
    for arr in (first, unaligned, first, unaligned):
        np.testing.assert_allclose(fft.rfftn(arr), np.fft.rfftn(arr), atol=1e-11)
    np.testing.assert_array_equal(first, keep)


def test_thread_count_from_the_environment(monkeypatch):
    monkeypatch.setenv("MEANFIELD_FFT_THREADS", "1")
    assert fft._threads_from_environment() == 1
    monkeypatch.delenv("MEANFIELD_FFT_THREADS")
    assert fft._threads_from_environment() >= 1
    for bad in ("0", "-2", "two", "1.5"):
        monkeypatch.setenv("MEANFIELD_FFT_THREADS", bad)
        with pytest.raises(ValueError, match="MEANFIELD_FFT_THREADS"):
            fft._threads_from_environment()


def test_planner_effort_is_estimate_unless_measure_is_asked_for(monkeypatch):
    monkeypatch.delenv("MEANFIELD_FFTW_PLANNER", raising=False)
    assert fft.planner_effort(2**20) == "FFTW_ESTIMATE"
    monkeypatch.setenv("MEANFIELD_FFTW_PLANNER", "measure")
    assert fft.planner_effort(2**20) == "FFTW_MEASURE"
    assert fft.planner_effort(2**10) == "FFTW_ESTIMATE"  # small transforms always estimate


def test_stacked_kernels_give_the_numbers_of_one_call_per_kernel():
    rng = np.random.default_rng(2)
    f = rng.normal(size=(24, 20))
    kernels = [fft.free_space_kernel_hat(lambda x, y, p=p: np.cos(p * x) * np.exp(-y * y), f.shape, (0.1, 0.2))
               for p in (1.0, 2.0, 3.0)]
    each = np.array([fft.convolve_free_space(f, k, 0.02) for k in kernels])
    np.testing.assert_array_equal(fft.convolve_free_space(f, kernels, 0.02), each)
    np.testing.assert_array_equal(fft.convolve_free_space(f, np.array(kernels), 0.02), each)
    np.testing.assert_array_equal(fft.convolve_free_space(f, tuple(kernels), 0.02), each)


def test_irfftn_into_a_given_array_gives_the_same_numbers():
    rng = np.random.default_rng(5)
    a_hat = fft.rfftn(rng.normal(size=(2, 48, 40)), ndim=2)
    plain = fft.irfftn(a_hat, (48, 40), ndim=2)
    out = np.empty((2, 48, 40))
    got = fft.irfftn(a_hat, (48, 40), ndim=2, out=out)
    assert got is out
    np.testing.assert_array_equal(out, plain)
    raw = np.empty(2 * 48 * 40 + 1)
    odd = raw[1:].reshape(2, 48, 40)  # 8 bytes off: FFTW cannot write there, the result is copied in
    np.testing.assert_array_equal(fft.irfftn(a_hat, (48, 40), ndim=2, out=odd), plain)
    scratch = a_hat.copy()
    np.testing.assert_array_equal(fft.irfftn(scratch, (48, 40), ndim=2, overwrite_input=True), plain)
    for bad in (np.empty((2, 48, 41)), np.empty((2, 48, 40), dtype=np.float32), [[0.0]]):
        with pytest.raises(ValueError, match="out"):
            fft.irfftn(a_hat, (48, 40), ndim=2, out=bad)
