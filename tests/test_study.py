"""Studies: same table whatever the executor, resume after an interruption, fitted rates, study files."""

import numpy as np
import pandas as pd
import pytest

from meanfield.study import Study, fit_rates, load_study_file, plot_rates


def _study(**kw):
    args = dict(model="Newtonian1D", sweep={"n": [8, 16, 32]}, t_end=0.5, times=[0.25, 0.5], seeds=[0, 1],
                metrics=["W1"], sample_kwargs={"sampling": "random"}, continuum_kwargs={"resolution": 256})
    args.update(kw)
    return Study(**args)


def test_in_process_table_and_rate():
    table = _study().run()
    assert len(table) == 3 * 2 * 2 * 2  # n x seeds x times x species
    assert set(table["species"]) == {"rho", "eta"}
    rates = fit_rates(table)
    # i.i.d. initial samples: W1 ~ N^{-1/2}; a loose band since only 3 N values and 2 seeds
    assert np.all((rates["slope"] > -0.9) & (rates["slope"] < -0.2))
    fig = plot_rates(table)
    assert len(fig.axes) == 1
    # default floors (particles vs solve_continuum): both, beside every distance
    disc = table.groupby(["time", "species"])["discretisation_floor"].nunique()
    assert np.all(disc == 1)  # one finer run per reference setting: the same for every n and seed
    assert table["sampling_floor"].nunique() == len(table)  # a fresh i.i.d. sample per task, time and species
    assert np.all(rates["sampling_slope"] < 0)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "sampling floor" in labels and "discretisation floor" in labels


def test_same_table_on_processes_and_dask(tmp_path):
    ref = _study().run()
    pd.testing.assert_frame_equal(ref, _study().run(workers=2))
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            pd.testing.assert_frame_equal(ref, _study().run(executor=client))


def test_interrupted_study_resumes(tmp_path, monkeypatch):
    full = _study().run()
    study = _study()
    calls = {"n": 0}
    original = Study.run_task

    def flaky(self, params, seed, reference):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("simulated kill")
        return original(self, params, seed, reference)

    monkeypatch.setattr(Study, "run_task", flaky)
    with pytest.raises(KeyboardInterrupt):
        study.run(store=tmp_path)
    assert len(list(tmp_path.glob("task-*.json"))) == 3
    monkeypatch.setattr(Study, "run_task", original)
    done_before = calls["n"]
    resumed = study.run(store=tmp_path)
    pd.testing.assert_frame_equal(full, resumed)
    assert calls["n"] == done_before  # the resumed run went through the original, not flaky


def test_reference_computed_once_per_setting(monkeypatch):
    study = _study(sweep={"n": [8, 16], "continuum.resolution": [64, 128]})
    calls = []
    original = Study.solve_reference
    monkeypatch.setattr(Study, "solve_reference", lambda self, p: calls.append(p) or original(self, p))
    study.run()
    assert len(calls) == 2


def test_bad_study_arguments():
    with pytest.raises(ValueError, match="sweep key 'resolution'"):
        _study(sweep={"n": [8], "resolution": [1]})
    with pytest.raises(ValueError, match="unknown metrics"):
        _study(metrics=["W7"])
    with pytest.raises(ValueError, match="not a registered model"):
        _study(model="Nope")


def test_study_file_errors_name_line_and_key(tmp_path):
    good = tmp_path / "s.toml"
    good.write_text('model = "Newtonian1D"\nt_end = 0.5\n[sweep]\nn = [8, 16]\n')
    assert load_study_file(good).sweep == {"n": [8, 16]}
    assert load_study_file(good).identity()["floors"] == ["sampling", "discretisation"]
    good.write_text('model = "Newtonian1D"\nt_end = 0.5\nfloors = ["sampling"]\n[sweep]\nn = [8, 16]\n')
    assert load_study_file(good).identity()["floors"] == ["sampling"]
    good.write_text('model = "Newtonian1D"\nt_end = 0.5\nfloors = ["grid"]\n[sweep]\nn = [8, 16]\n')
    with pytest.raises(ValueError, match=r"line 3, key 'floors': floors: unknown floor 'grid'"):
        load_study_file(good)
    bad = tmp_path / "b.toml"
    bad.write_text('model = "Newtonian1D"\nt_end = "soon"\n[sweep]\nn = [8, 16]\n')
    with pytest.raises(ValueError, match=r"line 2, key 't_end'"):
        load_study_file(bad)
    bad.write_text('model = "Newtonian1D"\nt_end = 1\nseedz = [1]\n[sweep]\nn = [8]\n')
    with pytest.raises(ValueError, match=r"line 3, key 'seedz': unknown key"):
        load_study_file(bad)
    bad.write_text('model = "Newtonian1D"\nt_end = 1\n[sweep]\nn = []\n')
    with pytest.raises(ValueError, match=r"line 4, key 'sweep.n'"):
        load_study_file(bad)
    bad.write_text('model = "Newtonian1D"\nt_end = = 1\n')
    with pytest.raises(ValueError, match=r"not valid TOML.*line 2"):
        load_study_file(bad)


class _ClassEmptiesModel:
    """Two species on R: "a" has n particles at 0 and the continuum puts mass 1/2 at 0 exactly;
    "b" has no particles left, while the continuum keeps mass 1/2 at 1."""

    def __init__(self):
        pass

    def sample_particles(self, n, rng=None):
        return n

    def simulate_particles(self, n, t_end, times=None, rng=None):
        from meanfield.measures import EmpiricalMeasure

        class _Traj:
            def measure(self, t):
                return {"a": EmpiricalMeasure(np.zeros(n), np.full(n, 0.5 / n))}

        return _Traj()

    def solve_continuum(self, t_end, times=None):
        from meanfield.measures import EmpiricalMeasure

        class _Ref:
            def measure(self, t):
                return {"a": EmpiricalMeasure(np.zeros(1), [0.5]), "b": EmpiricalMeasure(np.ones(1), [0.5])}

        return _Ref()


def test_species_without_particles_is_the_zero_measure():
    table = Study(model=_ClassEmptiesModel, sweep={"n": [4, 8]}, t_end=1.0, metrics=["BL", "BLsum", "W1"]).run()
    b = table[table["species"] == "b"].set_index("metric")["value"]
    assert np.all(b.loc["BL"] == 0.5) and np.all(b.loc["BLsum"] == 0.5)  # ‖0 - ν‖_BL = ν(R) for ν ≥ 0
    assert np.all(np.isnan(b.loc["W1"]))  # no transport between masses 0 and 1/2
    a = table[table["species"] == "a"]
    assert np.all(a["value"] == 0.0)
    rates = fit_rates(table)  # exact zeros (a) and NaNs (b, W1) leave the fit; b's BL does not decay
    assert sorted(zip(rates["species"], rates["metric"], strict=True)) == [("b", "BL"), ("b", "BLsum")]
    assert np.allclose(rates["slope"], 0.0)
