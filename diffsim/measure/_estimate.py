"""The typed result of every measurement (defined with the estimators in :mod:`diffsim.observe`)."""

from diffsim.observe import Estimate, bootstrap

bootstrap_estimate = bootstrap  # the name used by the measurement modules

__all__ = ["Estimate", "bootstrap_estimate"]
