"""The codec: what the public functions rf8lab.encode / decode / quantize run.

spec.py (QuantSpec, a quantizer setting as one checked value) and api.py (arguments checked once, backend
choice; encoded.py holds the Encoded container) over three implementations of the same rules:
reference.py (exact rationals, the oracle), vectorized.py (array code written once for numpy and torch,
with scale_rule.py and the xp.py shims) and kernels.py (Numba, driven by numba_backend.py). layout.py says
which elements share a scale.
"""
