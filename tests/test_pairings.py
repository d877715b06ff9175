"""Pairings and observers: every pairing gives the same table, bit for bit, in-process, on two local
processes and on a dask LocalCluster; each measure map checked against a direct computation."""

import numpy as np
import pandas as pd
import pytest

from meanfield import pairings as P
from meanfield.measures import EmpiricalMeasure, GridDensity, IntervalDensity1D
from meanfield.metrics import bounded_lipschitz
from meanfield.observers import CentreOfMass, Observer, ParticleCount, TotalMass
from meanfield.study import Study, fit_rates


def exact_separated(model, t):
    """Separated uniform data before contact: rho(t) is uniform on [0, 1 + 2t] (the particles'
    midpoint atomisation then has W1 = (1 + 2t)/(4N) exactly)."""
    return {"rho": IntervalDensity1D([0.0, 1.0 + 2 * t], [1.0])}


def newtonian_energy(traj, t):
    return float(traj.info["energy"][list(traj.times).index(t)])


SEPARATED = {"rho_support": (0.0, 1.0), "eta_support": (1.5, 2.5)}


def interleaved(model, n, rng):
    """Alternating charges at the midpoints of n cells of (-1, 1)."""
    return -1 + (np.arange(n) + 0.5) * 2 / n, np.where(np.arange(n) % 2 == 0, 1, -1)


def active_count(traj, t):
    return int(np.count_nonzero(traj.info["active"][list(traj.times).index(t)]))


def _studies():
    return {
        "particle_vs_continuum": Study(
            "Newtonian1D", {"n": [8, 16]}, 0.5, [0.25, 0.5], seeds=[0, 1], metrics=["W1", "BL"],
            sample_kwargs={"sampling": "random"}, continuum_kwargs={"resolution": 64},
            observers=[ParticleCount(), TotalMass(on="both"), CentreOfMass(on="both")]),
        "sde_vs_continuum": Study(
            "Dislocations2D", {"n": [6, 12]}, 0.001, seeds=[0, 1], metrics=["BLsum"],
            continuum_kwargs={"resolution": 16}, pairing=P.SDEVsContinuum("euler_maruyama"),
            observers=[CentreOfMass()]),
        "lattice_vs_lattice": Study(
            "Dislocations2D", {"n": [6, 12], "pairing.eps": [1 / 10, 1 / 16]}, 0.002, seeds=[0, 1],
            metrics=["BLsum"], pairing=P.LatticeVsLattice(), observers=[ParticleCount()]),
        "active_parts": Study(
            "Annihilation1D", {"n": [16, 32]}, 0.5, [0.25, 0.5], metrics=["BL", "W1"],
            continuum_kwargs={"resolution": 200}, pairing=P.ActiveParts(full=True)),
        "mass_classes": Study(
            "CoagulationDiffusion", {"n": [40, 80]}, 0.02, seeds=[0, 1], metrics=["BL"],
            model_params={"max_mass": 4, "diffusivity": 0.01, "alpha": 20.0}, continuum_kwargs={"resolution": 4},
            pairing=P.MassClasses(weight="mass"), observers=[ParticleCount(), TotalMass()]),
        "particle_vs_exact": Study(
            "Newtonian1D", {"n": [8, 16]}, 0.1, metrics=["W1"], model_params=SEPARATED,
            pairing=P.ParticleVsExact(exact_separated)),
        "continuum_vs_continuum": Study(
            "Newtonian1D", {"continuum.resolution": [64, 128]}, 0.5, metrics=["W1"],
            pairing=P.ContinuumVsContinuum({"scheme": "finite_volume"})),
        "continuum_refinement": Study(
            "Newtonian1D", {"continuum.resolution": [32, 64]}, 0.5, metrics=["W1"],
            continuum_kwargs={"scheme": "finite_volume"},
            pairing=P.ContinuumVsContinuum(reference_kwargs={"resolution": 256})),
        "particles_from": Study(
            "Annihilation1D", {"n": [8, 12]}, 0.5, [0.25, 0.5], metrics=[], pairing=P.ParticlesFrom(interleaved),
            observers=[Observer("active", active_count)]),
        "coupled_sde": Study(
            "Dislocations2D", {"n": [4, 8]}, 0.004, [0.002, 0.004], seeds=[0, 1], metrics=["W1"],
            model_params={"delta": 0.2}, particle_kwargs={"resolution": 16}, pairing=P.CoupledSDEMeanField(),
            observers=[P.PathwiseDistance()]),
        "coupled_walkers": Study(
            "Dislocations2D", {"n": [4, 8], "pairing.eps": [1 / 8, 1 / 10]}, 0.02, seeds=[0, 1], metrics=["W1"],
            model_params={"delta": 0.2}, pairing=P.CoupledWalkersMeanField(), observers=[P.PathwiseDistance()]),
        "particles_only": Study(
            "Newtonian1D", {"n": [8, 16]}, 0.5, [0.0, 0.25, 0.5], metrics=[], pairing=P.ParticlesOnly(),
            sample_kwargs={"sampling": "random"}, observers=[Observer("energy", newtonian_energy)]),
    }


@pytest.fixture(scope="module")
def in_process_tables():
    return {name: study.run() for name, study in _studies().items()}


def test_every_pairing_gives_the_same_table_on_two_processes(in_process_tables):
    for name, study in _studies().items():
        pd.testing.assert_frame_equal(in_process_tables[name], study.run(workers=2), check_exact=True, obj=name)


def test_every_pairing_gives_the_same_table_on_a_dask_cluster(in_process_tables):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        with distributed.Client(cl) as client:
            for name, study in _studies().items():
                pd.testing.assert_frame_equal(in_process_tables[name], study.run(executor=client), check_exact=True,
                                              obj=name)


def test_tables_have_distances_and_observers(in_process_tables):
    t = in_process_tables["particle_vs_continuum"]
    assert set(t["run"]) == {"pair", "sample", "reference"}
    obs = t[t["run"] != "pair"]
    count = obs[obs["metric"] == "particle_count"]
    assert np.all(count.loc[count["species"] == "all", "value"] == 2 * count.loc[count["species"] == "all", "n"])
    mass = obs[(obs["metric"] == "total_mass") & (obs["species"] == "rho")]
    np.testing.assert_allclose(mass["value"], 1.0, rtol=1e-14)  # each species has mass 1 on both sides
    assert len(fit_rates(t)) == 2 * 2 * 2  # metrics x times x species: the observers are not fitted
    only = in_process_tables["particles_only"]
    assert set(only["run"]) == {"sample"} and set(only["metric"]) == {"energy"} and len(only) == 2 * 3


def test_particle_vs_exact_matches_the_formula(in_process_tables):
    t = in_process_tables["particle_vs_exact"]
    assert list(t["species"]) == ["rho", "rho"]  # only the labels of the exact solution
    np.testing.assert_allclose(t["value"], (1 + 2 * 0.1) / (4 * t["n"].to_numpy()), rtol=1e-12)


def test_active_parts_against_a_direct_computation(in_process_tables):
    study = _studies()["active_parts"]
    params, t = {"n": 32}, 0.5
    traj, sol = study.sample(params, 0), study.reference(params)
    dens = sol.measure(t)
    kappa = dens["+"].values - dens["-"].values
    active = study._model_cls().active_measures(traj, t)
    expected = {}
    for label, part in (("+", np.clip(kappa, 0, None)), ("-", np.clip(-kappa, 0, None))):
        cont = GridDensity(part, dens["+"].grid)
        expected["active" + label] = bounded_lipschitz(active[label], cont) if active[label] is not None else cont.mass
    for label in ("+", "-"):
        expected[label] = bounded_lipschitz(traj.measure(t)[label], dens[label])
    table = in_process_tables["active_parts"]
    got = table[(table["n"] == 32) & (table["time"] == t) & (table["metric"] == "BL")].set_index("species")["value"]
    assert set(got.index) == set(expected)
    for label, value in expected.items():
        assert got[label] == value, label


def test_mass_classes_all_is_the_mass_density(in_process_tables):
    study = _studies()["mass_classes"]
    traj = study.sample({"n": 80}, 1)
    emp = traj.measure(0.02)
    pairs = study.pairing.measures(None, traj, study.reference({"n": 80}), 0.02)
    sample_all, ref_all = pairs["all"]
    assert sample_all.mass == pytest.approx(sum(int(k) * m.mass for k, m in emp.items()), rel=1e-14)
    assert ref_all.mass == pytest.approx(10.0, rel=1e-12)  # Σ m ∫ f_m = Z, conserved by coagulation
    for label in emp:
        assert pairs[label][0].mass == pytest.approx(int(label) * emp[label].mass, rel=1e-14)


def test_refinement_against_one_reference(in_process_tables, monkeypatch):
    study = _studies()["continuum_refinement"]
    calls = []
    original = Study.solve_reference
    monkeypatch.setattr(Study, "solve_reference", lambda self, p: calls.append(p) or original(self, p))
    table = study.run()
    assert len(calls) == 1  # the swept resolution is overridden on the reference side
    pd.testing.assert_frame_equal(table, in_process_tables["continuum_refinement"], check_exact=True)
    w1 = table.groupby("continuum.resolution")["value"].sum()
    assert 0.8 < np.log2(w1[32] / w1[64]) < 1.6  # first-order upwind FV (measured 1.19 against 256 cells)
    counts = in_process_tables["particles_from"]
    assert set(counts["value"]) == {8.0, 12.0}  # interleaved charges never annihilate


def test_active_parts_metric_choice():
    pairing = P.ActiveParts(full=True, full_metrics=("W1",), active_metrics=("BL",))
    assert pairing.metrics_for("+", ["W1", "BL"]) == ["W1"]
    assert pairing.metrics_for("active-", ["W1", "BL"]) == ["BL"]
    assert P.ActiveParts().metrics_for("+", ["W1", "BL"]) == ["W1", "BL"]
    with pytest.raises(ValueError, match=r"ActiveParts.full_metrics must be a list of metric names"):
        Study("Annihilation1D", {"n": [8]}, 0.5, pairing=P.ActiveParts(full_metrics=("W3",)))


def test_reference_once_per_eps_and_reused_across_seeds_and_n(monkeypatch):
    study = _studies()["lattice_vs_lattice"]
    calls = []
    original = Study.solve_reference
    monkeypatch.setattr(Study, "solve_reference", lambda self, p: calls.append(p) or original(self, p))
    study.run()
    assert sorted(c["pairing.eps"] for c in calls) == [1 / 16, 1 / 10]


def test_centre_of_mass_observer_against_direct_moments():
    x = np.array([0.1, 0.4, 0.9])
    w = np.array([0.2, 0.3, 0.5])
    obs = CentreOfMass()

    class Run:
        def measure(self, t):
            return {"a": EmpiricalMeasure(x, w), "b": EmpiricalMeasure(x[:2] + 1.0, [0.5, 0.5])}

    got = obs.observe(None, Run(), 0.0)
    assert got["a"] == pytest.approx(np.dot(w, x), rel=1e-15)
    assert got["b"] == pytest.approx(1.25, rel=1e-15)
    assert got["all"] == pytest.approx((np.dot(w, x) + 1.25) / 2, rel=1e-15)
    grid_run = type("G", (), {"measure": lambda self, t: IntervalDensity1D([0.0, 1.0, 3.0], [0.5, 0.5])})()
    assert obs.observe(None, grid_run, 0.0) == {"": pytest.approx(0.25 + 1.0, rel=1e-15)}


def test_pairing_settings_are_checked_before_any_work():
    with pytest.raises(ValueError, match=r"LatticeVsLattice has no field 'delta'; fields: balanced, eps"):
        Study("Dislocations2D", {"n": [4], "pairing.delta": [0.1]}, 0.01, metrics=["BLsum"],
              pairing=P.LatticeVsLattice())
    with pytest.raises(ValueError, match=r"'eps' is set by the study itself .*pairing"):
        Study("Dislocations2D", {"n": [4]}, 0.01, metrics=["BLsum"], sample_kwargs={"eps": 0.1},
              pairing=P.LatticeVsLattice())
    with pytest.raises(ValueError, match=r"ParticleVsExact makes no continuum run"):
        Study("Newtonian1D", {"n": [4]}, 0.1, continuum_kwargs={"resolution": 8},
              pairing=P.ParticleVsExact(exact_separated))
    with pytest.raises(ValueError, match=r"compares no measures; give metrics=\[\]"):
        Study("Newtonian1D", {"n": [4]}, 0.1, pairing=P.ParticlesOnly())
    with pytest.raises(ValueError, match=r"runs no particles; do not sweep 'n'"):
        Study("Newtonian1D", {"n": [4]}, 0.1, pairing=P.ContinuumVsContinuum({"scheme": "finite_volume"}))
    with pytest.raises(ValueError, match=r"other key 'bogus' is not a keyword of Newtonian1D.solve_continuum"):
        Study("Newtonian1D", {"continuum.resolution": [8]}, 0.1, pairing=P.ContinuumVsContinuum({"bogus": 1}))
    with pytest.raises(ValueError, match=r"compare_times\[0\] = 0.3 is not one of the output times"):
        Study("Newtonian1D", {"n": [4]}, 0.5, [0.25, 0.5], compare_times=[0.3])
    with pytest.raises(ValueError, match=r"observer names repeats 'x'"):
        Study("Newtonian1D", {"n": [4]}, 0.5, observers=[Observer("x", newtonian_energy)] * 2)
    with pytest.raises(ValueError, match=r"pairing must be a meanfield.pairings.Pairing"):
        Study("Newtonian1D", {"n": [4]}, 0.5, pairing="ParticleVsContinuum")


def test_lambda_observer_refused_for_worker_processes():
    study = Study("Newtonian1D", {"n": [4]}, 0.5, metrics=[], pairing=P.ParticlesOnly(),
                  observers=[Observer("e", lambda traj, t: 0.0)])
    assert len(study.run()) == 1  # fine in-process
    with pytest.raises(ValueError, match=r"cannot be sent to worker processes.*module level"):
        study.run(workers=2)


def test_pairing_and_observers_are_part_of_the_identity(tmp_path):
    base = dict(model="Newtonian1D", sweep={"n": [4]}, t_end=0.1, model_params=SEPARATED)
    cvc = dict(model="Newtonian1D", sweep={"continuum.resolution": [8]}, t_end=0.1)
    Study(**cvc, pairing=P.ContinuumVsContinuum({"scheme": "finite_volume"})).run(store=tmp_path / "a")
    with pytest.raises(ValueError, match=r"pairing.other.cfl is \(not set\) there but 0.5 now"):
        Study(**cvc, pairing=P.ContinuumVsContinuum({"scheme": "finite_volume", "cfl": 0.5})).run(store=tmp_path / "a")
    Study(**base, pairing=P.ParticleVsExact(exact_separated)).run(store=tmp_path / "d")
    with pytest.raises(ValueError, match=r"pairing.solution is .*exact_separated#.* there but .*newtonian_energy#"):
        Study(**base, pairing=P.ParticleVsExact(newtonian_energy)).run(store=tmp_path / "d")
    Study(**base, continuum_kwargs={"resolution": 16}, observers=[TotalMass()]).run(store=tmp_path / "b")
    with pytest.raises(ValueError, match=r"observers is .*total_mass.* there but .*centre_of_mass"):
        Study(**base, continuum_kwargs={"resolution": 16}, observers=[CentreOfMass()]).run(store=tmp_path / "b")
    Study(**base, continuum_kwargs={"resolution": 16}, observers=[Observer("e", newtonian_energy)]).run(
        store=tmp_path / "c")
    with pytest.raises(ValueError, match=r"observers is .*test_pairings.newtonian_energy#.* there but "
                                         r".*exact_separated#"):
        Study(**base, continuum_kwargs={"resolution": 16}, observers=[Observer("e", exact_separated)]).run(
            store=tmp_path / "c")


def test_study_file_with_pairing_observers_and_compare_times(tmp_path):
    from meanfield.study import load_study_file, plot_rates

    path = tmp_path / "s.toml"
    path.write_text('model = "Dislocations2D"\nt_end = 0.002\ntimes = [0.001, 0.002]\ncompare_times = [0.002]\n'
                    'metrics = ["BLsum"]\nobservers = ["particle_count", "total_mass"]\n'
                    '[pairing]\nname = "LatticeVsLattice"\neps = 0.0625\n[sweep]\nn = [6, 12]\n')
    study = load_study_file(path)
    assert study.pairing == P.LatticeVsLattice(eps=0.0625) and study.compare_times == [0.002]
    assert [o.name for o in study.observers] == ["particle_count", "total_mass"]
    path.write_text('model = "Newtonian1D"\nt_end = 1\n[pairing]\nname = "LatticeVsLattice"\nepsilon = 0.1\n'
                    '[sweep]\nn = [8]\n')
    with pytest.raises(ValueError, match=r"line 5, key 'pairing.epsilon': not a field of LatticeVsLattice; fields"):
        load_study_file(path)
    path.write_text('model = "Newtonian1D"\nt_end = 1\npairing = "ParticleVsExact"\n[sweep]\nn = [8]\n')
    with pytest.raises(ValueError, match=r"line 3, key 'pairing.*unknown pairing 'ParticleVsExact'.*Python API"):
        load_study_file(path)
    path.write_text('model = "Newtonian1D"\nt_end = 1\nobservers = ["energy"]\n[sweep]\nn = [8]\n')
    with pytest.raises(ValueError, match=r"line 3, key 'observers': unknown observer 'energy'"):
        load_study_file(path)
    only = Study("Newtonian1D", {"n": [4]}, 0.5, metrics=[], pairing=P.ParticlesOnly(), observers=[TotalMass()])
    assert len(plot_rates(only.run()).texts) == 1  # observers only: no rates to plot, no error


def test_run_studies_on_one_pool_gives_each_study_its_table(in_process_tables, tmp_path):
    from meanfield.study import run_studies

    names = ["particle_vs_continuum", "particle_vs_exact", "continuum_refinement", "particles_only"]
    studies = {name: _studies()[name] for name in names}
    tables = run_studies(studies, workers=2, store=tmp_path)
    for name in names:
        pd.testing.assert_frame_equal(tables[name], in_process_tables[name], check_exact=True, obj=name)
        assert (tmp_path / name / "study.json").is_file()
    again = run_studies({name: _studies()[name] for name in names}, store=tmp_path)  # all stored: nothing to do
    for name in names:
        pd.testing.assert_frame_equal(again[name], in_process_tables[name], check_exact=True, obj=name)


def test_sde_and_lattice_pairings_call_the_named_methods_with_the_new_keywords():
    """SDEVsContinuum passes its scheme as ``scheme=``; LatticeVsLattice runs ``simulate_random_walks``:
    the sample runs equal the direct calls bit for bit."""
    from meanfield.models.dislocations import Dislocations2D

    model = Dislocations2D()
    settings = {"n": 6, "sample": {}, "particles": {}, "continuum": {}}
    got = P.SDEVsContinuum("euler_maruyama").sample(model, settings, 0.002, [0.002], np.random.default_rng(3))
    rng = np.random.default_rng(3)
    ref = model.simulate_particles(model.sample_particles(6, rng=rng), 0.002, [0.002], rng=rng, scheme="euler_maruyama")
    assert np.array_equal(got.positions[-1], ref.positions[-1])
    with pytest.raises(ValueError, match="scheme must be one of"):
        P.SDEVsContinuum("heun").sample(model, settings, 0.002, [0.002], 0)
    got = P.LatticeVsLattice(eps=1 / 16).sample(model, settings, 0.01, [0.01], np.random.default_rng(4))
    rng = np.random.default_rng(4)
    ref = model.simulate_random_walks(model.sample_lattice_particles(6, 1 / 16, rng=rng), 1 / 16, 0.01, [0.01], rng)
    assert np.array_equal(got.positions[-1], ref.positions[-1])
    with pytest.raises(ValueError, match=r"'eps' is set by the study itself"):
        Study("Dislocations2D", {"n": [4]}, 0.01, metrics=["BLsum"], particle_kwargs={"eps": 0.1},
              pairing=P.LatticeVsLattice())
    study = Study("Dislocations2D", {"n": [4]}, 0.01, metrics=["BLsum"], particle_kwargs={"kmc": "direct"},
                  pairing=P.LatticeVsLattice())
    assert study.particle_kwargs == {"kmc": "direct"}


def test_coupled_pairings_reference_is_per_seed_and_w1_below_the_pathwise_distance(in_process_tables):
    """A coupled run carries both sides (no shared reference): the W1 distance of the two empirical
    measures (optimal matching) is at most the pathwise distance of the coupling's matching, species
    by species summed; the coupled X block is ``simulate_particles`` bit for bit from the same state
    and generator."""
    from meanfield.models.dislocations import Dislocations2D
    from meanfield.particles.dislocation_couplings import sample_fixed_signs

    for name in ("coupled_sde", "coupled_walkers"):
        t = in_process_tables[name]
        keys = [c for c in t.columns if c not in ("species", "metric", "value", "run")]
        w1 = t[t["metric"] == "W1"].groupby(keys)["value"].sum()
        path = t[t["metric"] == "pathwise_distance"].set_index(keys)["value"]
        assert (w1 <= path.loc[w1.index] * (1 + 1e-12) + 1e-15).all(), name
        assert set(t[t["metric"] == "W1"]["species"]) == {"+", "-"}
    sde = in_process_tables["coupled_sde"]
    last = sde[(sde["metric"] == "pathwise_distance") & (sde["time"] == 0.004) & (sde["n"] == 8)]["value"]
    assert last.nunique() == 2 and (last > 0).all()  # each seed its own pair of runs
    study = _studies()["coupled_sde"]
    assert study.reference({"n": 8}) is None
    run = study.sample({"n": 8}, 1)
    model = Dislocations2D(delta=0.2)
    g = study.rng({"n": 8}, 1)
    traj = model.simulate_particles(sample_fixed_signs(model, 8, rng=g), 0.004, [0.002, 0.004], rng=g)
    assert np.array_equal(traj.positions[-1], run.info["x_wrapped"][-1])
    with pytest.raises(ValueError, match="balanced"):
        Study("Dislocations2D", {"n": [4]}, 0.01, metrics=["W1"], pairing=P.CoupledSDEMeanField(balanced=1))
    with pytest.raises(ValueError, match="eps"):
        Study("Dislocations2D", {"n": [4]}, 0.01, metrics=["W1"], pairing=P.CoupledWalkersMeanField(eps=2.0))
    with pytest.raises(ValueError, match="couple_sde_mean_field"):
        Study("Newtonian1D", {"n": [4]}, 0.01, metrics=["W1"], pairing=P.CoupledSDEMeanField())


class _Recorder:
    """Stands for a model: records the generator each run method receives."""

    def __init__(self, **flags):
        self.__dict__.update(flags)
        self.seen = {}

    def sample_particles(self, n, rng=None):
        self.seen["sample"] = rng
        return n

    def simulate_particles(self, state, t_end, times=None, rng=None):
        self.seen["dynamics"] = rng
        return state


def test_rng_reaches_only_the_methods_that_use_it():
    """``deterministic_dynamics``: the sampling gets the generator, the dynamics None; ``deterministic``:
    neither; otherwise both. Newtonian1D (002) refuses a generator its dynamics would ignore, and a
    study with random sampling still runs."""
    from meanfield.models import Annihilation1D, Newtonian1D

    g = np.random.default_rng(0)
    settings = {"n": 3, "sample": {}, "particles": {}}
    for flags, expect in (({}, (g, g)), ({"deterministic_dynamics": True}, (g, None)),
                          ({"deterministic": True}, (None, None))):
        model = _Recorder(**flags)
        P.ParticleVsContinuum().sample(model, settings, 1.0, [1.0], g)
        assert (model.seen["sample"], model.seen["dynamics"]) == expect, flags
    assert Newtonian1D.deterministic_dynamics and Annihilation1D.deterministic_dynamics
    m = Newtonian1D()
    with pytest.raises(ValueError, match="rng must be None"):
        m.simulate_particles(m.sample_particles(8), 0.1, rng=1)
    t = Study("Newtonian1D", {"n": [8]}, 0.1, seeds=[0, 1], sample_kwargs={"sampling": "random"},
              continuum_kwargs={"resolution": 64}).run()
    assert t["value"].nunique() == 4  # two seeds, two species: the sampling still draws from the generator
