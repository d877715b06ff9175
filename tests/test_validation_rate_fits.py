"""validation/rate_fits.py: rate fits that leave out the points the discretisation floor limits and say so."""

import numpy as np
import pandas as pd
import pytest

from meanfield.rates import fit_rate
from meanfield.study import fit_rates
from meanfield.validation.rate_fits import REFERENCE_FACTOR, floored_fit, summed_floors


def test_floored_fit_leaves_out_points_below_the_factor_and_says_which():
    n = np.array([10.0, 20.0, 40.0, 80.0])
    v = 2.0 * n**-0.5
    disc = np.array([1e-3, 1e-3, 1e-3, 0.1])  # the last point is below 3 x its floor
    samp = 1.5 * n**-0.5
    ff = floored_fit(n, v, samp, disc)
    assert ff.x_used == (10.0, 20.0, 40.0) and ff.x_left == (80.0,)
    assert ff.slope == pytest.approx(-0.5, abs=1e-12) and ff.fit.n_points == 3
    assert ff.sampling.slope == pytest.approx(-0.5, abs=1e-12)
    text = ff.describe()
    assert "left out n = [80]" in text and f"below {REFERENCE_FACTOR:g} × the discretisation floor" in text
    everything = floored_fit(n, v, samp, np.full(4, 1e-4))
    assert everything.x_left == () and "(all: every distance ≥ 3" in everything.describe()
    assert "no discretisation floor" in floored_fit(n, v).describe()
    assert floored_fit(n, v).fit == fit_rate(n, v)  # without floors: the plain fit, bit for bit


def test_floored_fit_agrees_with_study_fit_rates():
    rows = pd.DataFrame({"n": [8, 16, 32, 64] * 2, "seed": [0] * 4 + [1] * 4, "time": 1.0, "species": "+",
                         "metric": "W1", "run": "pair", "value": [0.4, 0.3, 0.2, 0.01, 0.41, 0.29, 0.21, 0.012],
                         "sampling_floor": 0.5 * np.array([8, 16, 32, 64] * 2, float) ** -0.5,
                         "discretisation_floor": 0.02})
    ours = floored_fit(rows["n"], rows["value"], rows["sampling_floor"], rows["discretisation_floor"])
    theirs = fit_rates(rows, reference_factor=REFERENCE_FACTOR).iloc[0]
    assert ours.slope == pytest.approx(theirs["slope"], abs=1e-12) and ours.fit.n_points == theirs["points"]
    assert len(ours.x_left) == theirs["left_out"] == 2
    assert ours.sampling.slope == pytest.approx(theirs["sampling_slope"], abs=1e-12)


def test_floored_fit_without_two_points_left_has_a_nan_slope_that_fails_its_claim():
    ff = floored_fit([10, 20, 40], [1e-3, 1e-3, 1e-3], discretisation=[1.0, 1.0, 1e-5])
    assert np.isnan(ff.slope) and "no rate" in ff.describe()


@pytest.mark.parametrize("kwargs, match", [({"x": [1, 2], "values": [1.0]}, "same length"),
                                           ({"discretisation": [1.0]}, "one floor per point"),
                                           ({"sampling": [1.0]}, "one floor per point"),
                                           ({"factor": 0}, "factor"), ({"factor": "3"}, "factor")])
def test_floored_fit_refuses_bad_input(kwargs, match):
    args = {"x": [1, 2, 4], "values": [1.0, 0.5, 0.25], **kwargs}
    with pytest.raises(ValueError, match=match):
        floored_fit(**args)


def test_summed_floors_adds_the_species_and_scales():
    t = pd.DataFrame({"n": [8, 8, 16, 16, 8], "seed": 0, "time": 1.0, "species": ["+", "-", "+", "-", "+"],
                      "metric": ["W1"] * 4 + ["BL"], "run": "pair", "value": [1.0, 3.0, 0.5, 1.5, 9.0],
                      "sampling_floor": [0.1, 0.3, 0.2, 0.2, 9.0], "discretisation_floor": 0.01})
    s = summed_floors(t, ["n"], ("+", "-"), "W1", time=1.0, scale=0.5)
    assert s["value"].tolist() == [2.0, 1.0] and s["sampling_floor"].tolist() == pytest.approx([0.2, 0.2])
    assert s["discretisation_floor"].tolist() == pytest.approx([0.01, 0.01])
