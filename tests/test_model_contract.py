"""The model contract (meanfield.models.contract) checked on every model in ``meanfield.models.__all__``:
params rebuild the model, ``initial_density(grid)`` gives one density per species on the grid,
``initial=`` accepts a callable and a GridDensity in the continuum and particle runs, the preset passed
back as a GridDensity reproduces the preset run, species labels agree between particle and continuum
outputs, and the shared bad input is refused before any work, naming the argument.

Each model enters through a small case (sizes chosen for a run of a second or two); a model added to
``__all__`` without a case fails ``test_every_model_has_a_case``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from meanfield import models
from meanfield.measures import EmpiricalMeasure, GridDensity, IntervalDensity1D
from meanfield.models.base import grid_from_attrs
from meanfield.models.contract import Model, same_params


@dataclass
class Case:
    """How to run one model small: the constructor, a short time, a particle count and the keywords of
    the continuum and particle runs."""

    make: Callable[[], Any]
    t_end: float
    n: int
    continuum: dict = field(default_factory=dict)
    particles: dict = field(default_factory=dict)
    sample: dict = field(default_factory=dict)


def _signed_coulomb():
    return models.SignedCoulomb2D(mass_plus=0.6, mass_minus=0.4, centre_plus=(-0.3, 0.0), centre_minus=(0.3, 0.0))


CASES = {
    "SignedCoulomb2D": Case(_signed_coulomb, 0.01, 40, continuum={"resolution": 32}),
    "Annihilation1D": Case(models.Annihilation1D, 0.05, 60, continuum={"resolution": 200}),
    "Newtonian1D": Case(models.Newtonian1D, 0.05, 64, continuum={"resolution": 200, "scheme": "finite_volume"}),
    "Dislocations2D": Case(models.Dislocations2D, 0.01, 40, continuum={"resolution": 32}),
    "CoagulationDiffusion": Case(lambda: models.CoagulationDiffusion(max_mass=3, total_density=2.0,
                                                                     initial_mass_fractions=(0.5, 0.3, 0.2)), 0.01, 40,
                                 continuum={"resolution": 8}),
}


def _rng(model, seed):
    """The seed for sample_particles (None for deterministic initial data)."""
    return None if getattr(model, "deterministic", False) else seed


def _dynamics_rng(model, seed):
    """The seed for simulate_particles (None where the dynamics use no random numbers)."""
    deterministic = getattr(model, "deterministic", False) or getattr(model, "deterministic_dynamics", False)
    return None if deterministic else seed


def _bump(grid, k=0):
    """A smooth positive bump near the centre of the grid's box, as f(x), f(x, y) or f(x, y, z); species
    ``k`` gets its own centre (equal data for two species would put 1-D quantile particles on top of
    each other)."""
    lo, hi = np.asarray(grid.lower, float), np.asarray(grid.upper, float)
    c, w = (lo + hi) / 2, (hi - lo) / 16
    c = c + 0.37 * k * w

    def f(*xs):
        return np.exp(-sum(((x - ci) / wi) ** 2 for x, ci, wi in zip(xs, c, w, strict=True)) / 2) + 0.0
    return f


@pytest.fixture(scope="module", params=sorted(CASES))
def run(request):
    """The model, its case and its preset continuum run (computed once per model)."""
    name = request.param
    case = CASES[name]
    model = case.make()
    sol = model.solve_continuum(case.t_end, times=[0.0, case.t_end], **case.continuum)
    return name, model, case, sol


def _as_dict(measure, species):
    return measure if isinstance(measure, dict) else {species[0]: measure}


def test_every_model_has_a_case():
    assert sorted(CASES) == sorted(models.__all__)


def test_params_rebuild_an_equal_model_and_name_every_constructor_argument(run):
    name, model, _, _ = run
    assert isinstance(model, Model)
    params = model.params
    assert isinstance(params, dict), f"{name}.params must be a property holding a dict"
    assert set(params) == set(inspect.signature(type(model)).parameters), name
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        again = type(model)(**params)
    assert same_params(again.params, params)


def test_species_are_string_labels_shared_by_particles_and_continuum(run):
    _name, model, case, sol = run
    species = tuple(model.species)
    assert species and all(isinstance(s, str) for s in species)
    assert list(_as_dict(sol.measure(case.t_end), species)) == list(species)
    state = model.sample_particles(case.n, rng=_rng(model, 0), **case.sample)
    traj = model.simulate_particles(state, case.t_end, rng=_dynamics_rng(model, 1), **case.particles)
    assert list(_as_dict(traj.measure(case.t_end), species)) == [s for s in species if s in traj.measure(case.t_end)]
    assert all(isinstance(m, EmpiricalMeasure) for m in _as_dict(traj.measure(case.t_end), species).values())


def test_initial_density_is_one_density_per_species_on_the_grid(run):
    name, model, _case, sol = run
    if sol.attrs.get("measure_kind") != "grid":
        pytest.skip(f"{name}'s continuum output is not on a grid")
    grid = grid_from_attrs(sol.attrs)
    d = model.initial_density(grid)
    assert list(d) == list(model.species)
    for s, rho in d.items():
        assert isinstance(rho, (GridDensity, IntervalDensity1D)), (name, s)
        if isinstance(rho, GridDensity):
            assert rho.grid == grid


def test_the_preset_as_a_grid_density_reproduces_the_preset_run(run):
    name, model, case, sol = run
    grid = grid_from_attrs(sol.attrs)
    again = model.solve_continuum(case.t_end, times=[0.0, case.t_end], initial=model.initial_density(grid),
                                  **case.continuum)
    for s, rho in _as_dict(sol.measure(case.t_end), model.species).items():
        other = _as_dict(again.measure(case.t_end), model.species)[s]
        np.testing.assert_allclose(other.values, rho.values, rtol=1e-12, atol=1e-14 * np.abs(rho.values).max(),
                                   err_msg=f"{name} species {s}")


def test_a_callable_initial_density_is_normalised_to_the_species_mass(run):
    name, model, case, sol = run
    grid = grid_from_attrs(sol.attrs)
    preset = _as_dict(sol.measure(0.0), model.species)
    mine_initial = {s: _bump(grid, k) for k, s in enumerate(model.species)}
    mine = model.solve_continuum(case.t_end, times=[0.0, case.t_end], initial=mine_initial, **case.continuum)
    start = _as_dict(mine.measure(0.0), model.species)
    for s in model.species:
        assert start[s].mass == pytest.approx(preset[s].mass, rel=1e-9, abs=1e-14), (name, s)
        if preset[s].mass > 0:
            assert not np.allclose(start[s].values, preset[s].values), f"{name}: the callable was ignored"
    state = model.sample_particles(case.n, rng=_rng(model, 0), initial=mine_initial, **case.sample)
    traj = model.simulate_particles(state, case.t_end, rng=_dynamics_rng(model, 1), **case.particles)
    assert set(_as_dict(traj.measure(0.0 if 0.0 in traj.times else case.t_end), model.species)) <= set(model.species)


@pytest.mark.parametrize("bad, error", [(lambda *xs: 0.0 * xs[0], ValueError),
                                        (lambda *xs: np.nan + 0.0 * xs[0], ValueError),
                                        ("not a density", TypeError)])
def test_unusable_initial_data_is_refused_naming_initial(run, bad, error):
    _name, model, case, _ = run
    with pytest.raises(error, match="initial"):
        model.solve_continuum(case.t_end, initial={s: bad for s in model.species}, **case.continuum)


def test_initial_must_name_the_species(run):
    _name, model, case, sol = run
    f = _bump(grid_from_attrs(sol.attrs))
    with pytest.raises((ValueError, TypeError), match="initial"):
        model.solve_continuum(case.t_end, initial={"no such species": f}, **case.continuum)


@pytest.mark.parametrize("t_end, error", [("1", TypeError), (None, (TypeError, ValueError)), (1j, TypeError),
                                          (float("nan"), ValueError), (-1.0, ValueError), (0.0, ValueError)])
def test_bad_final_times_are_refused_naming_t_end(run, t_end, error):
    _name, model, case, _ = run
    with pytest.raises(error, match="t_end"):
        model.solve_continuum(t_end, **case.continuum)
    state = model.sample_particles(case.n, rng=_rng(model, 0), **case.sample)
    with pytest.raises(error, match="t_end"):
        model.simulate_particles(state, t_end, rng=_dynamics_rng(model, 1), **case.particles)


@pytest.mark.parametrize("n, error", [(2**63, ValueError), (True, TypeError), (16.5, (TypeError, ValueError)),
                                      ("8", TypeError), (0, ValueError)])
def test_bad_particle_numbers_are_refused_naming_n(run, n, error):
    _name, model, case, _ = run
    with pytest.raises(error, match="n"):
        model.sample_particles(n, rng=_rng(model, 0), **case.sample)
