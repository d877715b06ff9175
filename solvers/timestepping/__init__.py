"""Time stepping: steppers (schemes with their declared order), problems, step rules, one driver.

Steppers (``order`` declared on the class; SDE schemes also ``strong_order``/``weak_order``):

================================  ===============  =====================================
stepper                           problem          order
================================  ===============  =====================================
:class:`ForwardEuler`             ODEProblem       1
:class:`SSPRK2`                   ODEProblem       2 (SSP coefficient 1)
:class:`SSPRK3`                   ODEProblem       3 (SSP coefficient 1)
:class:`RK4`                      ODEProblem       4
:class:`DormandPrince54`          ODEProblem       5, embedded 4, dense output
:class:`ExactLinear`              SemilinearProb.  exact (N ≡ 0)
:class:`ETD1`                     SemilinearProb.  1
:class:`ETD2RK`                   SemilinearProb.  2
:class:`ETDRK4`                   SemilinearProb.  4
:class:`LieSplitting`             SplitProblem     1
:class:`StrangSplitting`          SplitProblem     2
:class:`Substeps`                 (its inner's)    that of the inner stepper
:class:`JumpSplitting`            SDEProblem       weak 1 (SDE step + jump sweep)
:class:`EulerMaruyama`            SDEProblem       strong 1/2 (1 additive), weak 1
:class:`StochasticHeun`           SDEProblem       strong 1 (additive/commutative), weak 2 (additive)
================================  ===============  =====================================

:func:`integrate` is the one time loop; step rules: :class:`FixedStep`, :class:`StepFunction`
(e.g. CFL via :func:`cfl_step`), :class:`PIController`; :class:`Event` for located events.
"""

from ._checks import TIME_TOL, step_budget
from .adaptive import AdaptiveResult, dormand_prince
from .base import Stepper
from .driver import DEFAULT_MAX_STEPS, Event, Solution, integrate
from .explicit import RK4, SSPRK2, SSPRK3, ButcherTableau, DormandPrince54, ForwardEuler
from .exponential import ETD1, ETD2RK, ETDRK4, ExactLinear, contour_phi, etdrk4_coefficients, phi_functions
from .problems import ODEProblem, SDEProblem, SemilinearProblem, SplitProblem
from .splitting import JumpSplitting, LieSplitting, StrangSplitting, Substeps
from .ssp import integrate_ssp
from .step_control import FixedStep, PIController, StepFunction, cfl_step
from .stochastic import EulerMaruyama, StochasticHeun

# Every deterministic-order stepper class (JumpSplitting, weak order 1 by construction, is tested with its model).
STEPPERS = (ForwardEuler, SSPRK2, SSPRK3, RK4, DormandPrince54, ExactLinear, ETD1, ETD2RK, ETDRK4, LieSplitting,
            StrangSplitting, Substeps, EulerMaruyama, StochasticHeun)

__all__ = [
    "DEFAULT_MAX_STEPS",
    "ETD1",
    "ETD2RK",
    "ETDRK4",
    "RK4",
    "SSPRK2",
    "SSPRK3",
    "STEPPERS",
    "TIME_TOL",
    "AdaptiveResult",
    "ButcherTableau",
    "DormandPrince54",
    "EulerMaruyama",
    "Event",
    "ExactLinear",
    "FixedStep",
    "ForwardEuler",
    "JumpSplitting",
    "LieSplitting",
    "ODEProblem",
    "PIController",
    "SDEProblem",
    "SemilinearProblem",
    "Solution",
    "SplitProblem",
    "StepFunction",
    "Stepper",
    "StochasticHeun",
    "StrangSplitting",
    "Substeps",
    "cfl_step",
    "contour_phi",
    "dormand_prince",
    "etdrk4_coefficients",
    "integrate",
    "integrate_ssp",
    "phi_functions",
    "step_budget",
]
