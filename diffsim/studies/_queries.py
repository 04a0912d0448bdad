"""Moved to :mod:`diffsim.measure._queries` (re-exported here for older imports)."""

from diffsim.measure._queries import Queries, fresh_queries, noised_training_queries, query_statistics

__all__ = ["Queries", "noised_training_queries", "fresh_queries", "query_statistics"]
