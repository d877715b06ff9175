"""validation/newtonian1d.py: the quick run passes every claim (slow here; CI's main-job step runs
the same quick validation through `meanfield validate`)."""

import pytest

from meanfield.validation import newtonian1d as val


@pytest.mark.slow
def test_quick_validation_run_passes(tmp_path):
    rep = val.run(tmp_path, quick=True)
    assert rep.passed, [c.as_row() for c in rep.claims if not c.passed]
    assert all(p.endswith(".png") for p in rep.figures) and rep.data
