import numpy as np
import pytest

from meanfield.rates import fit_rate


def test_exact_power_law_has_exact_slope_and_degenerate_ci():
    h = np.array([1, 2, 4, 8, 16.0])
    fit = fit_rate(h, 3.0 * h**-0.5)
    assert fit.slope == pytest.approx(-0.5, abs=1e-12)
    assert fit.prefactor() == pytest.approx(3.0, rel=1e-12)
    assert fit.ci[1] - fit.ci[0] < 1e-10


def test_confidence_interval_covers_true_slope_at_nominal_rate():
    rng = np.random.default_rng(0)
    h = np.repeat(2.0 ** np.arange(4, 11), 4)
    covered = 0
    trials = 400
    for _ in range(trials):
        e = h**-1.0 * np.exp(0.2 * rng.standard_normal(h.size))
        covered += fit_rate(h, e, level=0.9).contains(-1.0)
    # binomial(400, 0.9): sd 6; the band is +-4 sd
    assert 0.84 * trials < covered < 0.96 * trials


@pytest.mark.parametrize("h, e", [([1, 1], [1, 2]), ([1, 2], [0, 1]), ([1, 2, 3], [1, 2])])
def test_bad_input(h, e):
    with pytest.raises(ValueError):
        fit_rate(h, e)
