"""Model-agnostic numerics: grids, FFTs, spectral operators, finite volumes, time stepping.

Nothing here imports :mod:`meanfield`.
"""
