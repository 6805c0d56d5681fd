"""The codec: what the public functions rf8lab.encode / decode / quantize run.

api.py (arguments checked once, the Encoded container, backend choice) over three implementations of
the same rules: reference.py (exact rationals, the oracle), vectorized.py (array code written once for
numpy and torch, with scale_rule.py and the xp.py shims) and kernels.py (Numba, driven by
numba_backend.py). layout.py says which elements share a scale.
"""
