"""The quick validation of paper 004 runs and every claim passes (it is part of the README's main job)."""


def test_quick_validation_passes(tmp_path):
    from meanfield.validation import smoluchowski

    report = smoluchowski.run(tmp_path, quick=True)
    assert report.passed, [c.as_row() for c in report.claims if not c.passed]
    assert all((tmp_path / p).exists() for p in ("smoluchowski_kinetics.png", "smoluchowski_particles.csv"))
