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


# --- the paper's kernel with constant d and α is constant: summed through its separable form (issue 17) ------------
def _dense_paper_kernel(model):
    """The paper's kernel tabulated the way the model did before issue 17 (every entry evaluated)."""
    from meanfield.models.smoluchowski import coagulation_rates

    return coagulation_rates(model.max_mass, lambda m: np.asarray(model._d(m), float),
                             lambda n, m: np.asarray(model._alpha(n, m), float), model._capture, model.pair_sum)


PAPER_KERNELS = [{}, {"pair_sum": "unordered"}, {"alpha": 3.7, "diffusivity": 0.3}, {"alpha": 1e4, "box": 2.0},
                 {"diffusivity": lambda m: np.full(np.shape(m), 0.5)}]


@pytest.mark.parametrize("kwargs", PAPER_KERNELS)
@pytest.mark.parametrize("big_m", [50, 120, 200])
def test_paper_constant_kernel_is_separable_and_equals_the_dense_table(kwargs, big_m):
    """The operand is SeparableKernel.constant with the very number of every entry of the dense
    table (bit for bit), so the compiled loop gives the old numbers exactly; the FFT sums agree with
    the dense loop to round-off (1e-13 of the largest entry) over a whole solve, and conserve mass."""
    from meanfield.models.smoluchowski import CoagulationDiffusion

    model = CoagulationDiffusion(max_mass=big_m, initial_mass_fractions=(0.5, 0.3, 0.2), **kwargs)
    sep = model.coagulation_kernel()
    dense = _dense_paper_kernel(model)
    assert isinstance(sep, SeparableKernel) and sep.rank == 1
    np.testing.assert_array_equal(sep.matrix(), dense)
    np.testing.assert_array_equal(model.kernel(), dense)
    t_end = 2.0 / (dense[0, 0] * model.total_density)  # τ = K M_0 t / 2 = 1: mass spreads over ~ tens of classes
    f0 = model.total_density / model.box**3 * model.fractions
    _, old = solve_homogeneous(dense, f0, t_end, sums="direct")
    for sums in ("auto", "direct"):
        np.testing.assert_array_equal(model.solve_homogeneous(t_end, sums=sums)[1], old)
    _, fast = model.solve_homogeneous(t_end, sums="fft")
    np.testing.assert_allclose(fast, old, rtol=0, atol=1e-13 * old.max())
    mass = np.arange(1, big_m + 1) @ fast[-1]
    assert abs(mass - np.arange(1, big_m + 1) @ f0) <= 1e-13 * mass


def test_paper_constant_kernel_at_ten_thousand_classes_is_exact_without_any_table(monkeypatch):
    """M = 10^4 through the model: the paper's kernel (constant K = c for constant d, α) from a monodisperse
    start f_n(0) = δ_{n1} to t = 10/c has Smoluchowski's solution f_n = τ^{n-1}/(1+τ)^{n+1}, τ = 5;
    max error ≤ 1e-8 at rtol = 1e-8 (measured 9.3e-10), mass Σ n f_n = 1 to 1e-12, and no M × M
    table is formed (the tabulating paths raise)."""
    import meanfield.models.smoluchowski as smol

    big_m = 10**4
    model = smol.CoagulationDiffusion(max_mass=big_m)
    monkeypatch.setattr(SeparableKernel, "matrix", _no_matrix)
    real_rates = smol.coagulation_rates
    monkeypatch.setattr(smol, "coagulation_rates",
                        lambda masses, *args: real_rates(masses, *args) if masses == 1 else _no_matrix(None))
    c = model.coagulation_kernel().a[0, 0]
    f0 = np.zeros(big_m)
    f0[0] = 1.0
    _, f = model.solve_homogeneous(10.0 / c, initial=f0, sums="fft", rtol=1e-8)
    n = np.arange(1, big_m + 1)
    exact = np.exp((n - 1) * np.log(5.0) - (n + 1) * np.log1p(5.0))
    assert np.abs(f[-1] - exact).max() <= 1e-8
    assert abs(n @ f[-1] - 1.0) <= 1e-12


def test_separable_homogeneous_solve_allocates_O_of_M():
    """tracemalloc peak (NumPy's allocations) of a whole model solve at M = 10^4 with the paper's
    constant kernel, the model built inside the traced region: below 50·M·8 bytes = 4 MB (the dense
    table alone would be M²·8 = 800 MB). A memory bound, not a timing."""
    import tracemalloc

    from meanfield.models.smoluchowski import CoagulationDiffusion

    big_m = 10**4
    CoagulationDiffusion(max_mass=300).solve_homogeneous(0.01, sums="fft")  # compiled kernels loaded first
    tracemalloc.start()
    try:
        model = CoagulationDiffusion(max_mass=big_m)
        model.solve_homogeneous(0.05, sums="fft", rtol=1e-8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * big_m * 8, peak


def test_dense_kernels_are_refused_before_allocation_and_separable_ones_scale():
    """A paper kernel with mass-dependent d is an (M, M) table: refused at construction when it cannot
    fit, naming the size; with constant d and α the same M is accepted (O(M)), and only the paths that
    need the table (kernel(), the particles' reaction strengths) refuse it."""
    from meanfield.models.smoluchowski import CoagulationDiffusion

    with pytest.raises(ValueError, match=r"\(1000000, 1000000\) kernel tables.*GiB"):
        CoagulationDiffusion(max_mass=10**6, diffusivity=lambda m: m ** (-1 / 3))
    with pytest.raises(ValueError, match=r"max_mass=1000000.*GiB"):
        CoagulationDiffusion(max_mass=10**6, alpha=lambda n, m: n + m)
    model = CoagulationDiffusion(max_mass=10**6)
    assert model.coagulation_kernel().max_mass == 10**6
    with pytest.raises(ValueError, match="GiB"):
        model.kernel()
    with pytest.raises(ValueError, match="GiB"):
        model.step_rule(10**4)


def test_dense_table_check_is_the_elementwise_test_by_blocks_in_O_of_M_memory():
    """as_kernel's check of an (M, M) table gives the verdict of the whole-array test
    ``isfinite & ≥ 0 & allclose(K, Kᵀ, rtol=1e-12, atol=0)`` on tables just inside and just outside the
    tolerance, with a negative, NaN or inf entry, and its temporaries stay O(M): tracemalloc peak
    below 4 MB for an M = 3000 table (72 MB; the whole-array test needs several tables' worth)."""
    import tracemalloc

    from meanfield.models.coagulation_sums import as_kernel

    def old(mat):
        return bool(np.all(np.isfinite(mat)) and not np.any(mat < 0) and np.allclose(mat, mat.T, rtol=1e-12, atol=0))

    rng = np.random.default_rng(5)
    for big_m in (1, 7, 300):
        base = rng.random((big_m, big_m)) + 0.5
        base = base + base.T
        for change in (None, 0.9e-12, 1.1e-12, -1.0, np.nan, np.inf):
            k = base.copy()
            if change is not None:
                i, j = big_m - 1, 0
                k[i, j] = k[i, j] * (1 + change) if change in (0.9e-12, 1.1e-12) else change
            if old(k):
                assert as_kernel(k, big_m)[0] is not None
            else:
                with pytest.raises(ValueError, match="finite, non-negative and symmetric"):
                    as_kernel(k, big_m)
    big_m = 3000
    k = np.ones((big_m, big_m))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        as_kernel(k, big_m)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4e6, peak
