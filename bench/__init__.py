"""Benchmarks of driftline, run from the repository root.

``python -m bench replay`` measures the replay path against plain JSON decoding (see
:mod:`bench.replay`); ``python -m bench profile`` profiles it (see :mod:`bench.profile`).
Generated data and results go to ``bench/out/``, which git ignores.
"""
