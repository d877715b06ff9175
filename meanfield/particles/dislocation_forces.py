"""The pair force (6) of model 003 on T² for the Gaussian mollifier, as a Fourier sum.

Hudson, van Meurs, Peletier (2020), eq. (6); theory page 003 (``docs/theory/003-dislocations.md``):
``F_i = -(b_i/n) Σ_j b_j ∇V_δ(X_i - X_j) = -b_i Σ_k 2πik V̂_k e^{2πik·X_i} S_k`` with
``S_k = (1/n) Σ_j b_j e^{-2πik·X_j}``, summed over the modes ``k`` whose kernel coefficient exceeds the
truncation (``Dislocations2D._modes``): O(n K) work, no table; ``∇V_δ(0) = 0`` makes the self-term
vanish. The tabulated kernels (bump, user profile) use :mod:`meanfield.particles.periodic_interp`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fourier_force"]


def fourier_force(x, b, k1, k2, v):
    """``F_i`` of (6) at positions ``x`` (n, 2) with charges ``b`` (n,) from the modes ``(k1, k2)``
    (integer-valued floats) and coefficients ``v = V̂_δ(k)``; shape (n, 2)."""
    # e^{2πik·x} = e^{2πik_1x_1} e^{2πik_2x_2} from per-axis powers (few exps); elementwise sums instead
    # of complex BLAS products (which measured ~90x slower here on a loaded 2-core machine)
    kmax = int(max(np.abs(k1).max(), np.abs(k2).max()))
    ks = np.arange(-kmax, kmax + 1)
    ex = np.exp(2j * np.pi * np.outer(x[:, 0], ks))
    ey = np.exp(2j * np.pi * np.outer(x[:, 1], ks))
    phase = ex[:, k1.astype(int) + kmax] * ey[:, k2.astype(int) + kmax]  # (n, K)
    s = (b[:, None] * phase.conj()).mean(axis=0)  # S_k
    common = phase * (v * s)[None, :]
    return -b[:, None] * np.stack([(common.imag * (-2 * np.pi * k1)).sum(1),
                                   (common.imag * (-2 * np.pi * k2)).sum(1)], 1)
