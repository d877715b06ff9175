"""Model 003, Lemma 3.1 (theory page 003): the stability constant of the lattice operator A_ε[ρ_ε].

``λ_ε`` = largest eigenvalue of the symmetric part of ``A_ε[ρ_ε]`` in ``L²(𝒱_ε)``; the lemma bounds it
by ``C β δ^{-2}`` uniformly in ε (C not explicit). Checked: the sparse operator against the MF^ε
right-hand side, Lanczos against a dense eigensolver, the explicit [derived] upper bound, and the
independence of ε (measured: λ_ε converges like ε², 16 → 64 changes it by < 4 %)."""

import numpy as np
import pytest

from meanfield.models.dislocations import Dislocations2D, preset_density


def _point_mass(n):
    """All mass on the + species at the site 0: ``f⁺(0) = ε^{-2}`` (a probability on Λ_{ε,±})."""
    rho = np.zeros((2, n, n))
    rho[0, 0, 0] = n * n
    return rho


def test_sparse_operator_is_the_mf_eps_generator():
    """A_ε[ρ]ρ is the right-hand side (11) (= (54)); A_ε[ρ](ρ + (w, w)) too, since the force depends
    on ρ only through ρ⁺ − ρ⁻ — a check on a generic vector w in both blocks; columns sum to 0 (mass)."""
    m = Dislocations2D(delta=0.1, beta=1.0)
    n, x, y = m.lattice(1 / 32)
    rho = preset_density(x, y, m.amplitude)
    a = m.stability_operator(rho, 1 / 32)
    assert a.shape == (2 * n * n, 2 * n * n) and a.nnz == 2 * 5 * n * n
    scale = np.abs(m.lattice_generator(rho, 1 / 32)).max() + np.abs(a).max()
    np.testing.assert_allclose(a @ rho.ravel(), m.lattice_generator(rho, 1 / 32).ravel(), rtol=0, atol=1e-13 * scale)
    w = np.random.default_rng(3).random((n, n))
    g = rho + w[None]
    np.testing.assert_allclose(a @ g.ravel(), m.lattice_generator(g, 1 / 32).ravel(), rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(np.asarray(a.sum(axis=0)).ravel(), 0.0, atol=1e-12 * np.abs(a).max())


@pytest.mark.parametrize("kind", ["initial", "point"])
def test_lanczos_top_eigenvalue_equals_dense_and_is_below_the_explicit_bound(kind):
    m = Dislocations2D(delta=0.1, beta=1.0)
    n, x, y = m.lattice(1 / 16)
    rho = preset_density(x, y, m.amplitude) if kind == "initial" else _point_mass(n)
    lam, bound = m.stability_constant(1 / 16, rho)
    a = m.stability_operator(rho, 1 / 16).toarray()
    dense = np.linalg.eigvalsh(0.5 * (a + a.T)).max()
    assert lam == pytest.approx(dense, rel=1e-8, abs=1e-12 * np.abs(a).max())
    assert 0 < lam <= bound < np.inf


@pytest.mark.parametrize("kind", ["initial", "point"])
def test_stability_constant_is_independent_of_eps(kind):
    """Lemma 3.1: uniform in ε. Measured (δ = 0.1, β = 1), 1/ε = 16, 32, 64: initial data
    4.047e-5, 4.173e-5, 4.205e-5; point mass 0.02573, 0.02680, 0.02708 — within 10 % (asserted), and
    the increments shrink by 3.9 per halving of ε (λ_ε = λ_0 + O(ε²); asserted in [3, 5])."""
    m = Dislocations2D(delta=0.1, beta=1.0)
    lams = []
    for n in (16, 32, 64):
        rho = preset_density(*m.lattice(1 / n)[1:], m.amplitude) if kind == "initial" else _point_mass(n)
        lams.append(m.stability_constant(1 / n, rho)[0])
    lams = np.array(lams)
    assert np.all(np.isfinite(lams)) and lams.min() > 0
    assert lams.max() / lams.min() < 1.10
    d = np.diff(lams)
    assert 3.0 < d[0] / d[1] < 5.0


def test_stability_constant_scales_like_beta_over_delta_squared_for_a_point_mass():
    """Lemma 3.1's ``C β δ^{-2}``: for the point mass, λ_ε/(βδ^{-2}) measured 2.68e-4 (δ = 0.1, β = 1),
    2.31e-4 (δ = 0.2, β = 1), 2.34e-4 (δ = 0.2, β = 2) at 1/ε = 32: asserted to stay within a factor 1.5."""
    ratios = []
    for delta, beta in ((0.1, 1.0), (0.2, 1.0), (0.2, 2.0)):
        m = Dislocations2D(delta=delta, beta=beta)
        ratios.append(m.stability_constant(1 / 32, _point_mass(32))[0] / (beta / delta**2))
    assert max(ratios) / min(ratios) < 1.5


def test_stability_operator_rejects_bad_input():
    m = Dislocations2D(delta=0.1)
    with pytest.raises(ValueError, match="rho must have shape"):
        m.stability_operator(np.ones((2, 8, 8)), 1 / 16)
    with pytest.raises(ValueError, match="1/eps must be an integer"):
        m.stability_constant(1 / 16.5)
    with pytest.raises(ValueError, match="rho must have shape"):
        m.stability_bound(np.ones((2, 16)), 1 / 16)
