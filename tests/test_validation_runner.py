"""The one body every validation module shares (validation/runner.py: run_paper, paper_runner), driven by
a fake paper module, and the Computation fields eps/size/with_t_end the studies of 003 sweep."""

import sys
import types

import numpy as np
import pytest

from meanfield.study import Study
from meanfield.validation import runner
from meanfield.validation.claims import Claim, PaperReport
from meanfield.validation.computations import Computation, Recorded


def scaled(model, rng, *, eps, size, t_end, offset=0.0):
    """A computation with a known answer: eps·size + t_end + offset, and one uniform draw."""
    return {"value": eps * size + t_end + offset, "draw": float(rng.random())}


def _fake_module(calls):
    mod = types.ModuleType("fake_paper")
    mod.PAPER, mod.TITLE = "999", "a fake paper"

    def studies(quick):
        calls.append(("studies", quick))
        return {"grid": Study("CoagulationDiffusion", {"pairing.eps": [0.5, 0.25], "pairing.size": [4]}, 2.0,
                              [2.0], metrics=[], pairing=Computation(scaled, args={"offset": 1.0}, with_t_end=True),
                              observers=[Recorded("measured")])}

    def claims(tables, quick):
        calls.append(("claims", sorted(tables)))
        rows = tables["grid"]
        values = rows[rows["species"] == "value"].sort_values("pairing.eps")["value"].to_numpy()
        return [Claim.within("exact", "eps·size + t_end + offset", float(values[0]), (4.0, 4.0))]

    def figures(declared, tables, quick, outdir):
        calls.append(("figures", sorted(declared), outdir.name))
        return [str(outdir / "f.png")]

    def data_files(declared, tables, quick, outdir):
        calls.append(("data_files", quick))
        return [str(outdir / "d.csv")]

    def notes(declared, quick):
        return f"studies: {', '.join(declared)}; quick={quick}"

    for f in (studies, claims, figures, data_files, notes):
        setattr(mod, f.__name__, f)
    return mod


def test_run_paper_assembles_the_parts_in_order(tmp_path):
    calls = []
    report = runner.run_paper(_fake_module(calls), tmp_path / "out", quick=False)
    assert isinstance(report, PaperReport) and report.paper == "999" and report.title == "a fake paper"
    assert [c.name for c in report.claims] == ["exact"] and report.passed  # 0.25·4 + 2 + 1 = 4 exactly
    assert report.figures == [str(tmp_path / "out" / "f.png")] and report.data == [str(tmp_path / "out" / "d.csv")]
    assert report.notes == "studies: grid; quick=False"
    assert [c[0] for c in calls] == ["studies", "claims", "figures", "data_files"]
    assert calls[0] == ("studies", False) and (tmp_path / "out").is_dir()


def test_run_paper_passes_the_execution_settings_and_resumes(tmp_path):
    store = tmp_path / "store"
    one = runner.run_paper(_fake_module([]), tmp_path / "a", store=store)
    files = {p: p.stat().st_mtime_ns for p in store.rglob("task-*.json")}
    assert len(files) == 2  # one task per eps
    two = runner.run_paper(_fake_module([]), tmp_path / "b", store=store, workers=2)
    assert {p: p.stat().st_mtime_ns for p in store.rglob("task-*.json")} == files  # read back, not recomputed
    assert one.claims == two.claims


def test_paper_runner_is_the_module_run(tmp_path, monkeypatch):
    calls = []
    mod = _fake_module(calls)
    monkeypatch.setitem(sys.modules, "fake_paper", mod)
    run = runner.paper_runner("fake_paper")
    assert runner.accepts_execution(run) and run.__module__ == "fake_paper"
    report = run(tmp_path, quick=True, workers=None, executor=None, store=None)
    assert report.passed and calls[0] == ("studies", True)


def test_run_one_uses_run_paper_for_a_module_of_studies(tmp_path, monkeypatch):
    mod = _fake_module([])
    monkeypatch.setitem(sys.modules, "meanfield.validation.fake_paper", mod)
    report, seconds = runner.run_one("fake_paper", tmp_path, quick=True, store=tmp_path / "s")
    assert report.passed and seconds >= 0
    assert list((tmp_path / "s" / "fake_paper" / "grid").rglob("task-*.json"))  # store/<module>/<study>


def test_run_paper_refuses_a_module_without_its_parts(tmp_path):
    mod = _fake_module([])
    del mod.notes
    with pytest.raises(ValueError, match=r"lacks \['notes'\]"):
        runner.run_paper(mod, tmp_path)
    assert not (tmp_path / "grid").exists()


def test_every_paper_module_is_declared_as_studies():
    import importlib

    for name in runner.PAPERS.values():
        mod = importlib.import_module(f"meanfield.validation.{name}")
        assert runner.declared_as_studies(mod), name
        assert mod.PAPER in runner.PAPERS and runner.PAPERS[mod.PAPER] == name
        assert runner.accepts_execution(mod.run) and mod.run.__module__ == mod.__name__


def test_computation_passes_eps_size_and_t_end():
    pairing = Computation(scaled, eps=0.5, size=3, args={"offset": 2.0}, with_t_end=True)
    assert pairing.keywords(0.1) == {"offset": 2.0, "eps": 0.5, "size": 3, "t_end": 0.1}
    assert Computation(scaled, args={"a": 1}).keywords(0.1) == {"a": 1}  # unset fields are not passed
    out = pairing.sample(None, {}, 0.1, [0.1], np.random.default_rng(0)).values
    assert out["value"] == 0.5 * 3 + 0.1 + 2.0


@pytest.mark.parametrize("kwargs, match", [
    ({"eps": 0.0}, "Computation.eps"), ({"eps": "1/16"}, "Computation.eps"), ({"eps": float("nan")}, "Computation.eps"),
    ({"size": 0}, "Computation.size"), ({"size": 2.5}, "Computation.size"), ({"size": True}, "Computation.size"),
    ({"with_t_end": 1}, "Computation.with_t_end"), ({"args": {"eps": 1.0}}, "must not name"),
])
def test_computation_refuses_bad_fields(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Computation(scaled, **kwargs).check(None, "pairing")
