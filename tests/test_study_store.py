"""A study's store cannot go stale: a rerun with any setting changed is refused, the same study resumes."""

import json

import pandas as pd
import pytest

from meanfield.store import first_difference, identity_hash
from meanfield.study import Study


def _args(**kw):
    args = dict(model="Newtonian1D", sweep={"n": [4, 8]}, t_end=0.2, times=[0.1, 0.2], seeds=[0, 1],
                metrics=["W1"], sample_kwargs={"sampling": "random"}, continuum_kwargs={"resolution": 64})
    args.update(kw)
    return args


def _count_calls(monkeypatch):
    calls = {"task": 0, "reference": 0}
    task, ref = Study.run_task, Study.solve_reference

    def counted_task(self, *a):
        calls["task"] += 1
        return task(self, *a)

    def counted_ref(self, *a):
        calls["reference"] += 1
        return ref(self, *a)

    monkeypatch.setattr(Study, "run_task", counted_task)
    monkeypatch.setattr(Study, "solve_reference", counted_ref)
    return calls


def test_same_study_resumes_without_recomputing(tmp_path, monkeypatch):
    calls = _count_calls(monkeypatch)
    first = Study(**_args()).run(store=tmp_path)
    assert calls == {"task": 4, "reference": 1}
    record = json.loads((tmp_path / "study.json").read_text())
    assert record["identity"]["t_end"] == 0.2 and record["identity"]["seeds"] == [0, 1]
    assert record["hash"] == identity_hash(record["identity"])
    names = sorted(p.name for p in tmp_path.glob("task-*.json"))
    assert len(names) == 4 and all(name.startswith(f"task-{record['hash']}-") for name in names)
    again = Study(**_args()).run(store=tmp_path)
    assert calls == {"task": 4, "reference": 1}  # nothing recomputed
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, Study(**_args()).run())  # and the stored rows are the computed ones


@pytest.mark.parametrize(
    "change, setting, old, new",
    [
        ({"t_end": 0.3, "times": [0.1, 0.3]}, "t_end", "0.2", "0.3"),
        ({"model_params": {"profile": "bump"}}, "model_params.profile", "(not set)", '"bump"'),
        ({"continuum_kwargs": {"resolution": 128}}, "continuum_kwargs.resolution", "64", "128"),
        ({"sample_kwargs": {"sampling": "midpoint"}}, "sample_kwargs.sampling", '"random"', '"midpoint"'),
        ({"particle_kwargs": {"record_events": False}}, "particle_kwargs.record_events", "(not set)", "false"),
        ({"metrics": ["W1", "BL"]}, "metrics", '["W1"]', '["W1", "BL"]'),
        ({"seeds": [0, 2]}, "seeds", "[0, 1]", "[0, 2]"),
        ({"times": [0.2]}, "times", "[0.1, 0.2]", "[0.2]"),
        ({"sweep": {"n": [4, 16]}}, "sweep.n", "[4, 8]", "[4, 16]"),
    ],
)
def test_changed_setting_is_refused_with_both_values(tmp_path, monkeypatch, change, setting, old, new):
    Study(**_args()).run(store=tmp_path)
    calls = _count_calls(monkeypatch)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ValueError) as info:
        Study(**_args(**change)).run(store=tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message
    assert f"{setting} is {old} there but {new} now" in message
    assert calls == {"task": 0, "reference": 0}  # refused before any work
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_package_version_and_defaults_are_part_of_the_identity(tmp_path, monkeypatch):
    import meanfield
    from meanfield.models import Newtonian1D

    Study(**_args()).run(store=tmp_path)
    monkeypatch.setattr(meanfield, "__version__", "9.9.9")
    with pytest.raises(ValueError, match=r'meanfield is "\d[^"]*" there but "9.9.9" now'):
        Study(**_args()).run(store=tmp_path)
    monkeypatch.undo()
    defaults = Newtonian1D.solve_continuum.__kwdefaults__
    monkeypatch.setattr(Newtonian1D.solve_continuum, "__kwdefaults__", {**defaults, "scheme": "finite_volume"})
    with pytest.raises(ValueError, match=r'defaults.solve_continuum.scheme is "quantile" there but "finite_volume"'):
        Study(**_args()).run(store=tmp_path)


def test_task_files_of_another_study_are_never_read(tmp_path):
    """Two identities never share a task file, even for the same parameters and seed."""
    a, b = Study(**_args()), Study(**_args(t_end=0.3, times=[0.3]))
    assert a.task_key({"n": 4}, 0) != b.task_key({"n": 4}, 0)
    assert a.task_key({"n": 4}, 0).endswith("-0") and a.task_key({"n": 4}, 0) != a.task_key({"n": 8}, 0)


def test_store_without_record_or_with_garbage_record_is_refused(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "task-0000abcd-1.json").write_text("[]")
    with pytest.raises(ValueError, match=r"old holds task files \(task-0000abcd-1.json, ...\) but no study.json"):
        Study(**_args()).run(store=tmp_path / "old")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "study.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad: study.json is not a study record"):
        Study(**_args()).run(store=tmp_path / "bad")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"store .*file exists and is not a folder"):
        Study(**_args()).run(store=tmp_path / "file")


def test_tampered_task_file_is_refused(tmp_path):
    study = Study(**_args())
    study.run(store=tmp_path)
    path = tmp_path / f"{study.task_key({'n': 4}, 0)}.json"
    body = json.loads(path.read_text())
    body["seed"] = 1
    path.write_text(json.dumps(body))
    with pytest.raises(ValueError, match="do not match its name"):
        study.run(store=tmp_path)


def test_setting_without_plain_form_is_refused_for_a_store(tmp_path):
    study = Study(**_args(continuum_kwargs={"resolution": 64, "dt_max": object()}))
    with pytest.raises(ValueError, match=r"continuum_kwargs.dt_max = <object object .*> has no plain \(JSON\) form"):
        study.run(store=tmp_path)
    assert not (tmp_path / "study.json").exists()


def test_first_difference():
    assert first_difference({"a": 1, "b": {"c": [1, 2]}}, {"a": 1, "b": {"c": [1, 2]}}) is None
    assert first_difference({"a": 1, "b": {"c": [1, 2]}}, {"a": 1, "b": {"c": [2, 1]}}) == ("b.c", [1, 2], [2, 1])
    assert first_difference({"a": 1}, {"a": 1.0}) == ("a", 1, 1.0)  # an int and a float are different settings
