"""RF8 for hardware designers: the shift-and-add multiplier as a bit-exact model (model.py) and the test
vectors written from it (vectors.py)."""
