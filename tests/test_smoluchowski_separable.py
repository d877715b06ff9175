"""Model 004, separable kernels at scale: checked and evaluated through their factors only (no M × M
matrix is ever formed), with one FFT per distinct factor vector."""

import numpy as np
import pytest

from meanfield.models.smoluchowski import SeparableKernel, coagulation_operator, solve_homogeneous


def _no_matrix(self):
    raise AssertionError("the M x M matrix of a separable kernel was formed")


@pytest.mark.parametrize("kind, big_m", [("constant", 3 * 10**4), ("additive", 4096)])
def test_large_separable_kernels_never_form_their_matrix(kind, big_m, monkeypatch):
    """M = 3·10^4 classes for K = 1 (its matrix would take 7.2 GB; the additive kernel's loss rate
    ~ n M_0 makes large M stiff for an explicit scheme, so M = 4096 there): exact solutions for n <= 20 at t = 1
    (constant K = 1: f_n = τ^{n-1}/(1+τ)^{n+1}, τ = t/2; additive K = n + m: f_n = e^{-t} n^{n-1}
    θ^{n-1} e^{-nθ} / n!, θ = 1 - e^{-t}) to 1e-8 relative above the absolute round-off floor of the
    FFT sums (measured 1.9e-15 at f_19 ~ 1e-9; bound 1e-13), and Σ n f_n = 1 to round-off."""
    from scipy.special import gammaln

    monkeypatch.setattr(SeparableKernel, "matrix", _no_matrix)
    f0 = np.zeros(big_m)
    f0[0] = 1.0
    _, f = solve_homogeneous(getattr(SeparableKernel, kind)(big_m), f0, 1.0)
    n = np.arange(1, 21)
    if kind == "constant":
        exact = 0.5 ** (n - 1) / 1.5 ** (n + 1)
    else:
        th = 1 - np.exp(-1.0)
        exact = np.exp(-1.0 + (n - 1) * np.log(n) - gammaln(n + 1) + (n - 1) * np.log(th) - n * th)
    np.testing.assert_allclose(f[-1, :20], exact, rtol=1e-8, atol=1e-13)
    assert abs((np.arange(1, big_m + 1) * f[-1]).sum() - 1.0) < 1e-11


def test_separable_kernels_are_checked_without_their_matrix(monkeypatch):
    monkeypatch.setattr(SeparableKernel, "matrix", _no_matrix)
    big_m = 5000
    n = np.arange(1, big_m + 1, dtype=float)
    one = np.ones(big_m)
    f0 = np.zeros(big_m)
    f0[0] = 1.0
    with pytest.raises(ValueError, match="symmetric"):  # K(n, m) = n
        solve_homogeneous(SeparableKernel([n], [one]), f0, 1.0)
    with pytest.raises(ValueError, match="non-negative"):  # K = n + m - 3 is -1 at (1, 1)
        solve_homogeneous(SeparableKernel([n, one, -3 * one], [one, n, one]), f0, 1.0)
    with pytest.raises(ValueError, match="shape"):
        solve_homogeneous(SeparableKernel.constant(big_m + 1), f0, 1.0)


def test_signed_factors_of_a_positive_kernel_and_the_fft_plan():
    """K = (n - m)² + 1 = n²·1 - 2 n·m + 1·m² + 1·1 (signed factors, K ≥ 1): accepted by the blockwise
    check, three distinct factor vectors (n², n, 1), FFT sums equal to the compiled loop to round-off."""
    big_m = 300
    n = np.arange(1, big_m + 1, dtype=float)
    one = np.ones(big_m)
    sep = SeparableKernel([n**2, -2 * n, one, one], [one, n, n**2, one])
    assert sep.check() is sep
    plan = sep.fft_plan()
    assert len(plan["vectors"]) == 3
    assert [len(getattr(SeparableKernel, k)(big_m).fft_plan()["vectors"]) for k in
            ("constant", "additive", "multiplicative")] == [1, 2, 1]
    assert SeparableKernel.constant(big_m, 2.5).fft_plan()["ones"] == [True]
    rng = np.random.default_rng(3)
    f = rng.random((big_m, 3)) * np.exp(-n / 30)[:, None]
    direct = coagulation_operator(f, sep.a.T @ sep.b, "direct")
    fast = coagulation_operator(f, sep, "fft")
    assert np.abs(fast - direct).max() <= 1e-13 * np.abs(direct).max()
    assert np.abs((n[:, None] * fast).sum(axis=0)).max() <= 1e-12 * (n[:, None] * np.abs(direct)).sum()
