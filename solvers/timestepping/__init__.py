"""Time steppers (model-agnostic).

* :class:`ETDRK4`: fourth-order exponential time differencing Runge–Kutta (Cox & Matthews 2002)
  for ``u' = L u + N(u)`` with ``L`` diagonal (e.g. in Fourier space), coefficients evaluated by
  contour integrals (Kassam & Trefethen 2005) so they are accurate for every ``h L`` incl. 0.
* :mod:`ssp`: strong-stability-preserving Runge–Kutta (SSP-RK1 = forward Euler, SSP-RK3 of
  Shu & Osher 1988) with a CFL step rule and exact landing on output times.
* :mod:`adaptive`: Dormand–Prince 5(4) with error control and event location.
"""

from .adaptive import AdaptiveResult, dormand_prince
from .etdrk4 import ETDRK4
from .ssp import cfl_step, integrate_ssp, ssp_rk1_step, ssp_rk3_step

__all__ = [
    "ETDRK4",
    "AdaptiveResult",
    "cfl_step",
    "dormand_prince",
    "integrate_ssp",
    "ssp_rk1_step",
    "ssp_rk3_step",
]
