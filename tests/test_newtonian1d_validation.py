"""validation/newtonian1d.py: its private exact quantile distances, and (slow) the quick run."""

import numpy as np
import pytest

from validation import newtonian1d as val


@pytest.mark.parametrize("n, M", [(10, 1), (10, 7), (64, 256)])
def test_quantile_distance_midpoint_atoms_vs_uniform(n, M):
    # midpoint atoms of U[0,1]: W1 = 1/(4N), W2 = 1/(N sqrt(12)) exactly; uniform has linear quantile
    x = (np.arange(n) + 0.5) / n
    q = np.linspace(0.0, 1.0, M + 1)
    assert val._quantile_distance(x, q, 1) == pytest.approx(1 / (4 * n), rel=1e-12)
    assert val._quantile_distance(x, q, 2) == pytest.approx(1 / (n * np.sqrt(12)), rel=1e-12)


def test_quantile_distance_translation():
    x = np.array([0.2, 0.7])
    q = np.array([5.0, 6.0])  # U[5, 6], far right of both atoms: W1 = mean displacement
    assert val._quantile_distance(x, q, 1) == pytest.approx(5.5 - 0.45, rel=1e-14)


@pytest.mark.slow
def test_quick_validation_run_passes(tmp_path):
    rep = val.run(tmp_path, quick=True)
    measured = [c for c in rep.claims if "not measured" not in c.measured]
    assert all(c.passed for c in measured), [c.as_row() for c in measured if not c.passed]
    assert all(p.endswith(".png") for p in rep.figures) and rep.data
