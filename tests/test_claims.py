"""A claim's verdict follows from its value and band; an explicit verdict cannot contradict them."""

import math

import pytest

from meanfield.validation.claims import Claim


@pytest.mark.parametrize(
    "value, band, closed, expected",
    [
        (0.5, (0.0, 1.0), (True, True), True),
        (0.0, (0.0, 1.0), (True, True), True),
        (1.0, (0.0, 1.0), (True, True), True),
        (1.0, (0.0, 1.0), (True, False), False),
        (0.0, (0.0, 1.0), (False, True), False),
        (1.0 + 1e-15, (0.0, 1.0), (True, True), False),
        (-1.0, (0.0, 1.0), (True, True), False),
        (math.nan, (0.0, 1.0), (True, True), False),
        (math.nan, (-math.inf, math.inf), (True, True), False),
        (-1e300, (-math.inf, 0.0), (True, True), True),
    ],
)
def test_within_computes_the_verdict_from_the_band(value, band, closed, expected):
    c = Claim.within("c", "s", value, band, "src", closed=closed)
    assert c.passed is expected
    assert c.as_row()["passed"] is expected and c.as_row()["band"] == list(band)


def test_at_most_and_at_least():
    assert Claim.at_most("a", "s", 1e-14, 1e-14).passed
    assert not Claim.at_most("a", "s", 1e-14, 1e-14, strict=True).passed
    assert Claim.at_most("a", "s", -3.0, 0.0, strict=True).passed
    assert Claim.at_least("b", "s", 2.0, 2.0).passed and not Claim.at_least("b", "s", 2.0, 2.0, strict=True).passed
    assert Claim.at_most("a", "s", 0.0, 0.0, strict=True).band_text() == "[-inf, 0)"


def test_passed_cannot_be_set_against_the_band():
    c = Claim.within("c", "s", 2.0, (0.0, 1.0))
    with pytest.raises(ValueError, match=r"claim 'c': passed=True contradicts value 2.0 and band \[0, 1\]"):
        c.passed = True
    c.passed = False  # agreeing is allowed
    with pytest.raises(ValueError, match="contradicts"):
        Claim("old", "s", "m", True, 2.0, (0.0, 1.0), "src")  # the legacy constructor is checked too
    # a compound claim may fail inside its band (another stated condition not met), never pass outside it
    assert not Claim("old", "s", "m", False, 0.5, (0.0, 1.0), "src").passed
    assert Claim("old", "s", "m", True, 0.5, (0.0, 1.0), "src").passed


def test_legacy_claims_without_band_keep_their_verdict():
    assert not Claim(name="module_ran", statement="runs", measured="boom", passed=False).passed
    assert Claim("x", "s", "m", True, 3.0).passed  # a value without band: the explicit verdict stands
    with pytest.raises(ValueError, match="give a value and a band"):
        Claim("x", "s", "m")


def test_bad_bands_and_values_are_refused():
    with pytest.raises(ValueError, match="low <= high"):
        Claim.within("c", "s", 0.5, (1.0, 0.0))
    with pytest.raises(ValueError, match=r"band must be \(low, high\)"):
        Claim.within("c", "s", 0.5, (1.0,))
    with pytest.raises(TypeError, match="the value must be a real number"):
        Claim.within("c", "s", "0.5", (0.0, 1.0))
    with pytest.raises(TypeError, match="the value must be a real number"):
        Claim.within("c", "s", True, (0.0, 1.0))
