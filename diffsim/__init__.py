"""diffsim: the statistical physics of memorization in diffusion models, in JAX.

The public API is re-exported from the submodules: :mod:`diffsim.process` (forward process and
clocks), :mod:`diffsim.data` (data models), :mod:`diffsim.score` (streamed empirical score),
:mod:`diffsim.sample` (backward samplers), :mod:`diffsim.observe` (estimators),
:mod:`diffsim.theory` (closed forms) and :mod:`diffsim.studies` (config -> table).
"""

__version__ = "0.1.0"

from diffsim._validate import ConfigError

__all__ = ["ConfigError", "__version__"]
