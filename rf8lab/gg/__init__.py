"""Generalized Gaussian: the distribution, maximum-likelihood fitting, and model comparison."""
from .comparison import compare
from .dist import GG, gg, scale_for_variance
from .fitting import FitResult, distinct, fit, fit_counts, shape_from_moment_ratio

__all__ = ["GG", "gg", "scale_for_variance", "FitResult", "distinct", "fit", "fit_counts", "shape_from_moment_ratio",
           "compare"]
