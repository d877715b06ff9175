"""Floors of a study (meanfield.floors): the sampling floor has the i.i.d. rate and constant, the
discretisation floor decreases at the continuum solver's order, both are the same on any executor, and
they are part of the study's identity."""

import json

import numpy as np
import pandas as pd
import pytest

from meanfield import metrics
from meanfield.floors import atoms, floor_seed, refined_continuum, resolve_floors, sample_like, sampling_floor
from meanfield.measures import EmpiricalMeasure, GridDensity, IntervalDensity1D
from meanfield.pairings import ContinuumVsContinuum, ParticlesOnly, ParticleVsContinuum, ParticleVsExact
from meanfield.rates import fit_rate
from meanfield.solvers.grids import UniformGrid
from meanfield.study import Study, fit_rates, plot_rates

# E W1(μ̂_n, U[0,1]) = ∫ E|F_n - F| dx → sqrt(2/(π n)) ∫ sqrt(x(1-x)) dx = sqrt(2/(π n)) π/8 (Brownian bridge)
UNIFORM_W1 = np.sqrt(2 / np.pi) * np.pi / 8  # ≈ 0.3133 / sqrt(n)


def _w1(a, b):
    return metrics.wasserstein(a, b, 1)


def test_sampling_floor_of_a_grid_density_has_the_iid_rate_and_constant():
    dens = GridDensity(np.ones(64), UniformGrid(lower=0.0, upper=1.0, shape=64, periodic=False))
    ns = [2**k for k in range(6, 13)]
    seeds = range(12)
    values = np.array([[sampling_floor(dens, n, _w1, np.random.default_rng([s, n])) for s in seeds] for n in ns])
    fit = fit_rate(np.repeat(ns, len(seeds)), values.ravel())
    assert -0.6 < fit.slope < -0.4, fit  # i.i.d. rate n^{-1/2} in 1-D
    scaled = (values * np.sqrt(ns)[:, None]).ravel() / UNIFORM_W1
    # sd of sqrt(n) W1 / constant is about 0.55 (Brownian bridge); 84 draws: the band is +-4 standard errors
    assert abs(scaled.mean() - 1) < 4 * 0.55 / np.sqrt(scaled.size), scaled.mean()


def test_sample_like_draws_from_each_kind_of_measure():
    rng = np.random.default_rng(1)
    interval = IntervalDensity1D([0.0, 1.0, 1.0, 3.0], [0.25, 0.5, 0.25])  # an atom of mass 1/2 at x = 1
    s = sample_like(interval, 20000, rng)
    assert s.mass == pytest.approx(1.0, rel=1e-12) and s.n == 20000
    assert np.mean(s.x == 1.0) == pytest.approx(0.5, abs=0.02)
    assert np.all((s.x >= 0) & (s.x <= 3))
    emp = EmpiricalMeasure([0.0, 2.0], [0.2, 0.6])
    e = sample_like(emp, 10000, rng)
    assert e.mass == pytest.approx(0.8, rel=1e-12) and np.mean(e.x == 2.0) == pytest.approx(0.75, abs=0.02)
    assert sample_like(emp, 0, rng) is None
    assert atoms(None) == 0 and atoms(EmpiricalMeasure([0.0, 1.0, 2.0], [0.5, 0.0, 0.5])) == 2
    with pytest.raises(ValueError, match="k must be"):
        sample_like(emp, -1)
    with pytest.raises(ValueError, match="signed"):
        sample_like(EmpiricalMeasure([0.0, 1.0], [0.5, -0.1]), 3)
    with pytest.raises(TypeError, match="measure must be"):
        sample_like(np.ones(3), 3)
    with pytest.raises(TypeError, match="empirical"):
        atoms(interval)


def test_floor_seed_depends_on_task_time_and_label_only():
    a = floor_seed(3, {"n": 8}, 0.5, "rho").generate_state(2)
    assert np.array_equal(a, floor_seed(3, {"n": 8}, 0.5, "rho").generate_state(2))
    for other in (floor_seed(4, {"n": 8}, 0.5, "rho"), floor_seed(3, {"n": 16}, 0.5, "rho"),
                  floor_seed(3, {"n": 8}, 1.0, "rho"), floor_seed(3, {"n": 8}, 0.5, "eta")):
        assert not np.array_equal(a, other.generate_state(2))
    task = np.random.SeedSequence([3, 0]).generate_state(2)  # never the task's own stream
    assert not np.array_equal(a, task)


def test_refined_continuum_and_resolve_floors():
    from meanfield.models import Dislocations2D, Newtonian1D

    assert refined_continuum(Newtonian1D, {"resolution": 64, "dt_max": 0.1}) == {"resolution": 128, "dt_max": 0.05}
    assert refined_continuum(Dislocations2D, {})["resolution"] == 128  # the signature default 64, doubled
    with pytest.raises(ValueError, match="integer continuum 'resolution'"):
        refined_continuum(Newtonian1D, {})
    with pytest.raises(ValueError, match="grid"):
        refined_continuum(Dislocations2D, {"grid": object()})
    assert resolve_floors("auto", ParticleVsContinuum()) == ("sampling", "discretisation")
    assert resolve_floors("auto", ParticleVsContinuum(), {"grid"}) == ("sampling",)
    assert resolve_floors("auto", ParticleVsExact(lambda m, t: None)) == ()
    assert resolve_floors("auto", ContinuumVsContinuum()) == ()
    assert resolve_floors(["discretisation", "sampling"], ParticleVsContinuum()) == ("sampling", "discretisation")
    assert resolve_floors(["sampling"], ParticleVsExact(lambda m, t: None)) == ("sampling",)
    for bad, match in ((["nope"], "unknown floor"), ("sampling", "must be 'auto' or a list"),
                       (["sampling", "sampling"], "repeated")):
        with pytest.raises(ValueError, match=match):
            resolve_floors(bad, ParticleVsContinuum())
    with pytest.raises(ValueError, match="no discretisation floor"):
        resolve_floors(["discretisation"], ParticleVsExact(lambda m, t: None))
    with pytest.raises(ValueError, match="no sampling floor"):
        resolve_floors(["sampling"], ParticlesOnly())


def _exact_uniform(model, t):
    """Separated uniform data before contact: rho(t) = uniform on [0, 1 + 2t] (tests/test_pairings.py)."""
    return {"rho": IntervalDensity1D([0.0, 1.0 + 2 * t], [1.0])}


def _exact_study(**kw):
    args = dict(model="Newtonian1D", sweep={"n": [64, 256, 1024]}, t_end=0.1, seeds=list(range(8)), metrics=["W1"],
                model_params={"rho_support": (0.0, 1.0), "eta_support": (1.5, 2.5)},
                pairing=ParticleVsExact(_exact_uniform), floors=("sampling",))
    args.update(kw)
    return Study(**args)


def test_sampling_floor_through_a_study_has_the_iid_rate_and_constant():
    table = _exact_study().run()
    assert "discretisation_floor" not in table.columns
    floor = table["sampling_floor"].to_numpy()
    # midpoint particles are not i.i.d.: exactly (1+2t)/(4n), far below the i.i.d. floor
    np.testing.assert_allclose(table["value"], 1.2 / (4 * table["n"]), rtol=1e-12)
    assert np.all(table["value"] < floor)
    rates = fit_rates(table)
    assert -0.62 < rates["sampling_slope"].iloc[0] < -0.38  # i.i.d.: n^{-1/2}; 3 n x 8 seeds
    assert rates["slope"].iloc[0] == pytest.approx(-1.0, abs=1e-9)
    scaled = floor * np.sqrt(table["n"].to_numpy()) / (1.2 * UNIFORM_W1)  # W1 scales with the support length
    assert abs(scaled.mean() - 1) < 4 * 0.55 / np.sqrt(scaled.size) + 0.05  # + finite-n bias at n = 64


def test_floors_are_the_same_on_one_and_two_workers_and_after_resuming(tmp_path):
    study = lambda: _exact_study(sweep={"n": [16, 32]}, seeds=[0, 1])  # noqa: E731
    one = study().run()
    pd.testing.assert_frame_equal(one, study().run(workers=2), check_exact=True)
    pd.testing.assert_frame_equal(one, study().run(store=tmp_path), check_exact=True)
    pd.testing.assert_frame_equal(one, study().run(store=tmp_path), check_exact=True)  # read back from the store
    assert one["sampling_floor"].nunique() == len(one)  # every task, seed and n its own sample


def _annihilation(**kw):
    args = dict(model="Annihilation1D", sweep={"n": [8], "continuum.resolution": [100, 200, 400]}, t_end=0.5,
                metrics=["W1"], continuum_kwargs={"window": (-4.0, 4.0)}, pairing=ParticleVsContinuum(),
                floors=("discretisation",))
    args.update(kw)
    return Study(**args)


def test_discretisation_floor_decreases_at_the_finite_volume_order():
    study = _annihilation()
    table = study.run()
    assert "sampling_floor" not in table.columns
    d = table.groupby("continuum.resolution")["discretisation_floor"].sum()  # "+" and "-" summed
    cells = np.array(d.index, dtype=float)
    fit = fit_rate(8.0 / cells, d.to_numpy())
    assert 0.7 < fit.slope < 1.4, fit  # upwind finite volumes: first order (validation/annihilation1d.py fv_order)
    # the floor is W1 between the run and the run at twice the resolution averaged onto its cells, computed directly
    from meanfield.floors import on_coarse_grid

    params = {"n": 8, "continuum.resolution": 200}
    ref = study.reference(params).measure(0.5)
    fine = study._model_cls().solve_continuum(0.5, [0.5], resolution=400, window=(-4.0, 4.0)).measure(0.5)
    averaged = on_coarse_grid(fine["+"], ref["+"])
    assert averaged.grid.shape == ref["+"].grid.shape
    row = table[(table["continuum.resolution"] == 200) & (table["species"] == "+")]
    assert row["discretisation_floor"].iloc[0] == pytest.approx(_w1(ref["+"], averaged), rel=1e-12)


def test_finer_reference_is_computed_once_per_setting(monkeypatch):
    calls = []
    original = Study.solve_finer_reference
    monkeypatch.setattr(Study, "solve_finer_reference", lambda self, p: calls.append(p) or original(self, p))
    _annihilation(sweep={"n": [8, 16], "continuum.resolution": [100]}, seeds=[0, 1]).run()
    assert len(calls) == 1


def test_floors_are_part_of_the_identity(tmp_path):
    auto, sampling, none = (_annihilation(floors=f).identity() for f in ("auto", ["sampling"], []))
    assert auto["floors"] == ["sampling", "discretisation"] and auto["floor_refinement"] == 2
    assert sampling["floors"] == ["sampling"] and "floor_refinement" not in sampling
    assert "floors" not in none  # a study without floors keeps the identity it had before floors existed
    assert "floors" not in _annihilation(compare_times=[]).identity()  # no distances: no floors, no finer run
    assert len({json.dumps(i, sort_keys=True) for i in (auto, sampling, none)}) == 3
    small = dict(sweep={"n": [8], "continuum.resolution": [100]})
    _annihilation(**small, floors=[]).run(store=tmp_path)
    with pytest.raises(ValueError, match="floors"):
        _annihilation(**small).run(store=tmp_path)


def test_bad_floors_are_refused_before_any_work():
    with pytest.raises(ValueError, match="floors"):
        _annihilation(floors="some")
    with pytest.raises(ValueError, match="no discretisation floor"):
        Study("Newtonian1D", {"continuum.resolution": [8]}, 0.1, pairing=ContinuumVsContinuum(),
              floors=["discretisation"])


def test_fit_rates_leaves_out_points_limited_by_the_discretisation_floor():
    rows = []
    for n, value, disc in ((10, 1.0, 0.01), (100, 0.1, 0.01), (1000, 0.01, 0.01), (10000, 0.01, 0.01)):
        rows.append({"n": n, "seed": 0, "time": 1.0, "species": "", "metric": "W1", "value": value, "run": "pair",
                     "sampling_floor": 2 / np.sqrt(n), "discretisation_floor": disc})
    table = pd.DataFrame(rows)
    everything, chosen = fit_rates(table), fit_rates(table, reference_factor=3)
    assert everything["points"].iloc[0] == 4 and everything["slope"].iloc[0] > -0.9
    assert chosen["points"].iloc[0] == 2 and chosen["left_out"].iloc[0] == 2
    assert chosen["slope"].iloc[0] == pytest.approx(-1.0, abs=1e-12)
    assert chosen["sampling_slope"].iloc[0] == pytest.approx(-0.5, abs=1e-12)
    assert "1000, 10000" in chosen["why"].iloc[0]
    with pytest.raises(ValueError, match="reference_factor"):
        fit_rates(table, reference_factor=-1)
    fig = plot_rates(table)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "sampling floor" in labels and "discretisation floor" in labels
    styles = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert styles["sampling floor"].get_color() == styles[labels[0]].get_color()  # the series' colour


def test_discretisation_floor_is_computed_once_per_process(monkeypatch):
    """The floor is the same for every seed and n of a reference setting: a second study of the same setting
    (a fresh object, as a worker process gets for each task) reuses it instead of solving it again."""
    import meanfield.floors as floors
    import meanfield.study as study_module

    monkeypatch.setattr(floors, "_MEMO", {})
    calls = []
    original = study_module._distance
    monkeypatch.setattr(study_module, "_distance", lambda *a: calls.append(a) or original(*a))
    kw = dict(sweep={"n": [8, 16], "continuum.resolution": [100]}, seeds=[0, 1])
    first = _annihilation(**kw).run()
    assert len(calls) == 4 * 2 + 2  # 4 tasks x 2 species, and the floor of each species once
    calls.clear()
    again = _annihilation(**kw).run()
    assert len(calls) == 4 * 2  # the floors come from the memo
    pd.testing.assert_frame_equal(first, again, check_exact=True)
    assert floors.discretisation_memo(("k",), lambda: 1.5) == 1.5
    assert floors.discretisation_memo(("k",), lambda: 2.5) == 1.5  # kept, not recomputed


def test_on_coarse_grid_averages_a_refining_grid_density_and_keeps_the_mass():
    from meanfield.floors import on_coarse_grid

    coarse_grid, fine_grid = UniformGrid((0.0, 0.0), (1.0, 2.0), (4, 3)), UniformGrid((0.0, 0.0), (1.0, 2.0), (8, 6))
    values = np.random.default_rng(0).random((8, 6))
    fine = GridDensity(values, fine_grid)
    coarse = on_coarse_grid(fine, GridDensity(np.ones((4, 3)), coarse_grid))
    assert coarse.grid is coarse_grid and coarse.mass == pytest.approx(fine.mass, rel=1e-14)
    assert coarse.values[1, 2] == pytest.approx(values[2:4, 4:6].mean(), rel=1e-14)
    assert on_coarse_grid(fine, coarse_grid).values.tolist() == coarse.values.tolist()  # a grid will do
    assert on_coarse_grid(fine, UniformGrid((0.0, 0.0), (1.0, 1.0), (4, 3))) is fine  # another box: unchanged
    assert on_coarse_grid(fine, UniformGrid((0.0, 0.0), (1.0, 2.0), (3, 3))) is fine  # no integer factor
    point = EmpiricalMeasure(np.zeros((1, 2)), np.ones(1))
    assert on_coarse_grid(point, coarse_grid) is point
