"""Declarations of validations 000 and 004 over Study: the pairings and direct computations they add
(validation/computations.py, NormalisedSpecies, HomogeneousReference) against independent references."""

import numpy as np
import pandas as pd
import pytest

from meanfield.pairings import ParticleVsContinuum
from meanfield.study import Study, distances, run_studies
from meanfield.validation import coulomb2d, smoluchowski
from meanfield.validation.computations import Computation, ContinuumOnly, DatasetValue, Recorded

SMALL = dict(sigma=1.0, gamma_bar=0.4, centre_plus=(-0.4, 0.0), centre_minus=(0.4, 0.0), width=0.4)


def _w1(table):
    d = distances(table)
    return d[d["metric"] == "W1"].set_index(["n", "seed", "species"])["value"].sort_index()


def test_normalised_species_is_twice_the_plain_pairing_for_half_masses():
    """m± = 1/2 and even N: normalising both sides doubles W1 exactly (W1 is 1-homogeneous in the mass),
    so the normalised pairing agrees with the package's ParticleVsContinuum to round-off."""
    common = dict(model="SignedCoulomb2D", sweep={"n": [16, 32]}, t_end=0.02, seeds=[0, 1],
                  model_params={**SMALL, "mass_plus": 0.5, "mass_minus": 0.5},
                  continuum_kwargs={"resolution": 48, "dt": 0.02 / 8})
    plain = Study(**common, pairing=ParticleVsContinuum()).run()
    normed = Study(**common, pairing=coulomb2d.NormalisedSpecies()).run()
    np.testing.assert_allclose(_w1(normed).to_numpy(), 2 * _w1(plain).to_numpy(), rtol=1e-9)


def test_normalised_species_compares_rounded_species_counts():
    """m+ = 0.6 with N = 32 gives N+ = 19: the particles weigh m+-/N+- (model 000's species weights), so each
    species carries its mass exactly and the plain pairing runs too; normalising both sides to mass one
    divides W1 by the species' mass exactly (W1 is 1-homogeneous in the mass)."""
    common = dict(model="SignedCoulomb2D", sweep={"n": [32]}, t_end=0.02, seeds=[0],
                  model_params={**SMALL, "mass_plus": 0.6, "mass_minus": 0.4},
                  continuum_kwargs={"resolution": 48, "dt": 0.02 / 8})
    plain = _w1(Study(**common, pairing=ParticleVsContinuum()).run())
    w1 = _w1(Study(**common, pairing=coulomb2d.NormalisedSpecies()).run())
    assert len(w1) == 2 and np.all(np.isfinite(w1.to_numpy())) and np.all(w1.to_numpy() > 0)
    mass = np.array([{"+": 0.6, "-": 0.4}[s] for s in w1.index.get_level_values("species")])
    np.testing.assert_allclose(plain.to_numpy(), mass * w1.to_numpy(), rtol=1e-9)


def test_normalised_species_refuses_a_grid_keyword_and_a_bad_tail():
    with pytest.raises(ValueError, match="grid"):
        Study("SignedCoulomb2D", {"n": [8]}, 0.1, model_params=SMALL, continuum_kwargs={"grid": None},
              pairing=coulomb2d.NormalisedSpecies())
    with pytest.raises(ValueError, match="tail"):
        Study("SignedCoulomb2D", {"n": [8]}, 0.1, model_params=SMALL, pairing=coulomb2d.NormalisedSpecies(tail=-1.0))


def test_computations_resume_and_do_not_depend_on_workers(tmp_path):
    """Direct computations declared as studies: the kernel checks, a small FFT check and a PDE mass
    record the same numbers in-process, on two processes and when resumed from a store."""
    declared = {
        "kernel": Study("CoagulationDiffusion", {"pairing.args": [{}]}, 1.0, metrics=[],
                        pairing=Computation(smoluchowski.kernel_checks), observers=[Recorded()]),
        "fft": Study("CoagulationDiffusion", {"pairing.args": [{"big_m": 64}, {"big_m": 128}]}, 1.0, metrics=[],
                     pairing=Computation(smoluchowski.fft_additive), observers=[Recorded()]),
        "mass": Study("CoagulationDiffusion", {"continuum.resolution": [4]}, 1e-3, [0.0, 1e-3], metrics=[],
                      model_params={"max_mass": 4}, pairing=ContinuumOnly(),
                      observers=[DatasetValue("total_mass", on="sample")]),
    }
    first = run_studies(declared, store=tmp_path / "s")
    assert first["kernel"]["species"].tolist() == ["closed_form_error", "shooting_error", "hard_core_limit"]
    assert first["fft"].shape[0] == 6 and first["mass"].shape[0] == 2
    ref = smoluchowski.kernel_checks(None, None)
    assert first["kernel"].set_index("species")["value"].to_dict() == ref
    files = sorted(p.stat().st_mtime_ns for p in (tmp_path / "s").rglob("task-*.json"))
    again = run_studies(declared, store=tmp_path / "s")
    assert sorted(p.stat().st_mtime_ns for p in (tmp_path / "s").rglob("task-*.json")) == files  # resumed
    procs = run_studies(declared, workers=2)
    for name in declared:
        pd.testing.assert_frame_equal(first[name], again[name])
        pd.testing.assert_frame_equal(first[name], procs[name])


def test_homogeneous_reference_matches_solve_homogeneous():
    """The torus pairing's reference is solve_homogeneous's f_n as constant densities: ∫ f_n = f_n L^3."""
    from meanfield.models.smoluchowski import CoagulationDiffusion

    model = CoagulationDiffusion(max_mass=4, box=1.0)
    pairing = smoluchowski.HomogeneousReference(resolution=4)
    run = pairing.reference(model, {"continuum": {}}, 1e-3, [5e-4, 1e-3])
    _, f = model.solve_homogeneous(1e-3, [5e-4, 1e-3])
    masses = [run.measure(1e-3)[str(m)].mass for m in range(1, 5)]
    np.testing.assert_allclose(masses, f[-1], rtol=1e-13)


def test_computation_refuses_a_non_function():
    with pytest.raises(ValueError, match=r"Computation\.fn"):
        Study("CoagulationDiffusion", {"pairing.args": [{}]}, 1.0, metrics=[], pairing=Computation(3),
              observers=[Recorded()])


def test_validation_pairings_same_table_on_two_processes():
    """The pairings 000 and 004 declare (NormalisedSpecies, HomogeneousReference, MonomerAtoms) with
    their observers give bit-identical tables in-process and on two local processes."""
    from meanfield.observers import TotalMass

    declared = {
        "coulomb": Study("SignedCoulomb2D", {"n": [16]}, 0.02, [0.0, 0.02], compare_times=[0.02], seeds=[0, 1],
                         metrics=["W1", "BL"], model_params={**SMALL, "mass_plus": 0.5, "mass_minus": 0.5},
                         continuum_kwargs={"resolution": 48, "dt": 0.02 / 8}, pairing=coulomb2d.NormalisedSpecies(),
                         observers=[DatasetValue("second_moment"), coulomb2d.SpreadProcess()]),
        "torus": Study("CoagulationDiffusion", {"n": [125]}, 5e-4, [2.5e-4, 5e-4], seeds=[0, 1], metrics=["BL"],
                       model_params=smoluchowski.TORUS, pairing=smoluchowski.HomogeneousReference(resolution=4),
                       observers=[TotalMass(on="both"), smoluchowski.MassUnits()]),
        "r3": Study("CoagulationDiffusion", {"n": [250]}, 5e-4, [5e-4], seeds=[0], metrics=["BL"],
                    model_params=smoluchowski.R3, continuum_kwargs={"resolution": 8},
                    pairing=smoluchowski.MonomerAtoms(), observers=[smoluchowski.MonomerCells(),
                                                                     smoluchowski.MonomerHistogram(bins=8)]),
    }
    local = run_studies(declared)
    procs = run_studies(declared, workers=2)
    for name in declared:
        assert len(distances(local[name])) > 0
        pd.testing.assert_frame_equal(local[name], procs[name])
