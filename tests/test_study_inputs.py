"""Study settings are checked before any work: integer particle numbers and seeds, keys that the
model's constructor and run methods accept, errors from study files that name file, line and key."""

import numpy as np
import pytest

from meanfield.study import Study, load_study_file


def _study(**kw):
    args = {"model": "Newtonian1D", "sweep": {"n": [4, 8]}, "t_end": 0.1, "seeds": [0, 1],
            "sample_kwargs": {"sampling": "random"}, "continuum_kwargs": {"resolution": 64}}
    args.update(kw)
    return Study(**args)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"sweep": {"n": [16.5]}}, r"sweep\['n'\]\[0\] = 16.5 is a float; it must be an integer"),
        ({"sweep": {"n": [16.0]}}, r"sweep\['n'\]\[0\] = 16.0 is a float"),
        ({"sweep": {"n": [8, True]}}, r"sweep\['n'\]\[1\] = True is a bool"),
        ({"sweep": {"n": [8, 0]}}, r"sweep\['n'\]\[1\] = 0 must be >= 1"),
        ({"sweep": {"n": [8, 16, 8]}}, r"sweep\['n'\] repeats 8 \(entries 0 and 2\)"),
        ({"sweep": {"n": [8], "model.profile": ["bump", "bump"]}}, r"sweep\['model.profile'\] repeats 'bump'"),
        ({"seeds": [1.7]}, r"seeds\[0\] = 1.7 is a float"),
        ({"seeds": [1, 1.7]}, r"seeds\[1\] = 1.7 is a float"),
        ({"seeds": [True]}, r"seeds\[0\] = True is a bool"),
        ({"seeds": [1, 1]}, r"seeds repeats 1 \(entries 0 and 1\)"),
        ({"seeds": [-1]}, r"seeds\[0\] = -1 must be >= 0"),
        ({"seeds": []}, r"seeds must be a non-empty list of integers"),
        ({"seeds": 3}, r"seeds must be a non-empty list of integers, got 3"),
        ({"metrics": ["W1", "W1"]}, r"metrics repeats 'W1'"),
        ({"metrics": "W1"}, r"metrics must be a non-empty list of names"),
        ({"t_end": True}, r"t_end must be a positive finite number, got True"),
        ({"t_end": float("inf")}, r"t_end must be a positive finite number"),
        ({"times": [0.05, 0.2]}, r"times\[1\] = 0.2 must be a number in \[0, t_end=0.1\]"),
        ({"times": [0.1, 0.05]}, r"times must be strictly increasing"),
        ({"model_params": {"bogus": 1}},
         (r"model_params key 'bogus': 'bogus' is not a parameter of Newtonian1D; valid: eta_support, profile, "
          r"rho_support$")),
        ({"sweep": {"n": [8], "model.bogus": [1]}},
         r"sweep key 'model.bogus': 'bogus' is not a parameter of Newtonian1D"),
        ({"continuum_kwargs": {"resolution": 64, "bogus": 1}},
         (r"continuum_kwargs key 'bogus': 'bogus' is not a keyword of Newtonian1D.solve_continuum; "
          r"valid: cfl, dt_max, flux, initial, method, resolution, scheme, stepper$")),
        ({"sweep": {"n": [8], "continuum.bogus": [1]}}, r"not a keyword of Newtonian1D.solve_continuum"),
        ({"particle_kwargs": {"bogus": 1}},
         r"'bogus' is not a keyword of Newtonian1D.simulate_particles; valid: ghosts, masses, record_events$"),
        ({"sample_kwargs": {"rng": 1}}, r"sample_kwargs key 'rng': 'rng' is set by the study itself"),
        ({"continuum_kwargs": {"resolution": 64, "t_end": 2}}, r"'t_end' is set by the study itself"),
        ({"sweep": {"n": [8], "particles.state": [1]}}, r"'state' is set by the study itself"),
        ({"model": 3}, r"model must be a registered model name or a model class, got 3"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(kw, message):
    with pytest.raises(ValueError, match=message):
        _study(**kw)


def test_numpy_integers_are_accepted_as_plain_ints():
    study = _study(sweep={"n": [np.int64(4), np.int32(8)]}, seeds=[np.int64(3)])
    assert study.sweep["n"] == [4, 8] and study.seeds == [3]
    assert all(type(n) is int for n in study.sweep["n"]) and type(study.seeds[0]) is int


def test_swept_value_overrides_a_fixed_one():
    study = _study(sweep={"n": [4], "continuum.resolution": [32]})
    assert study._settings(study.parameter_sets()[0])["continuum"] == {"resolution": 32}


def test_missing_required_argument_is_refused_before_any_work(monkeypatch):
    calls = []
    monkeypatch.setattr(Study, "solve_reference", lambda self, p: calls.append(p))
    study = _study(continuum_kwargs={})  # building is fine: the setting may be added before running
    with pytest.raises(ValueError, match=r"Newtonian1D.solve_continuum needs 'resolution': give it in "
                                         r"continuum_kwargs or sweep 'continuum.resolution'"):
        study.run()
    assert calls == []


_HEAD = 'model = "Newtonian1D"\nt_end = 0.1\n'


@pytest.mark.parametrize(
    "body, where, message",
    [
        ("[sweep]\nn = [16.5]\n", "line 4, key 'sweep.n'", r"sweep\['n'\]\[0\] = 16.5 is a float"),
        ("[sweep]\nn = [16.0, 32]\n", "line 4, key 'sweep.n'", r"16.0 is a float"),
        ("[sweep]\nn = [true]\n", "line 4, key 'sweep.n'", r"True is a bool"),
        ("seeds = [1.7]\n[sweep]\nn = [8]\n", "line 3, key 'seeds'", r"seeds\[0\] = 1.7 is a float"),
        ("seeds = [1, 1.7]\n[sweep]\nn = [8]\n", "line 3, key 'seeds'", r"seeds\[1\] = 1.7 is a float"),
        ("seeds = [2, 2]\n[sweep]\nn = [8]\n", "line 3, key 'seeds'", r"seeds repeats 2"),
        ("[continuum]\nresolution = 64\nbogus = 1\n[sweep]\nn = [8]\n", "line 5, key 'continuum.bogus'",
         r"valid: cfl, dt_max, flux, initial, method, resolution, scheme, stepper"),
        ("[model_params]\nprofil = 'bump'\n[sweep]\nn = [8]\n", "line 4, key 'model_params.profil'",
         r"not a parameter of Newtonian1D; valid: eta_support, profile, rho_support"),
        ("[sweep]\nn = [8]\n\"model.bogus\" = [1, 2]\n", "line 5, key 'sweep.model.bogus'",
         r"'bogus' is not a parameter of Newtonian1D"),
        ("[sweep]\nn = [8]\nmodel.profile = ['bump']\n", "line 5, key 'sweep.model.profile'",
         r"quote dotted names"),
        ("metrics = ['W1', 'W9']\n[sweep]\nn = [8]\n", "line 3, key 'metrics'", r"unknown metrics \['W9'\]"),
        ("times = [0.5]\n[sweep]\nn = [8]\n", "line 3, key 'times'", r"times\[0\] = 0.5 must be a number in"),
    ],
)
def test_study_file_errors_name_file_line_and_key(tmp_path, body, where, message):
    path = tmp_path / "s.toml"
    path.write_text(_HEAD + body)
    with pytest.raises(ValueError, match=f"^{path}: {where}: .*{message}"):
        load_study_file(path)


def test_unreadable_study_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_study_file(tmp_path / "missing.toml")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        load_study_file(tmp_path)
    (tmp_path / "b.toml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match=r"b.toml: not a text \(UTF-8\) file"):
        load_study_file(tmp_path / "b.toml")
    (tmp_path / "g.toml").write_text("PK\x03\x04 this is not toml")
    with pytest.raises(ValueError, match=r"g.toml: not valid TOML"):
        load_study_file(tmp_path / "g.toml")
