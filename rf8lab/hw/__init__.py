"""RF8 for hardware designers: the shift-and-add multiplier as a bit-exact model (model.py) and the test
vectors written from it (vectors.py). The model's functions are here too:
`from rf8lab import hw; hw.product(code, activation)`."""
from .model import check_exhaustive, fields, mac, product, products_table, rf8_product, terms

__all__ = ["check_exhaustive", "fields", "mac", "product", "products_table", "rf8_product", "terms"]
