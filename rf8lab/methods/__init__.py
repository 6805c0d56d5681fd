"""The paper's methods around the format: BackSlash rate-constrained training (backslash.py), DeepShape
(deepshape.py), weight conversion and code sizes (convert.py), the end-to-end pipeline (pipeline.py), and
their forms for torch modules (torch_methods.py)."""
from .backslash import BackSlash

__all__ = ["BackSlash"]
