"""Re-export of :mod:`diffsim.measure._queries` (moved there; kept for existing imports)."""

from diffsim.measure._queries import Queries, fresh_queries, noised_training_queries, query_statistics

__all__ = ["Queries", "noised_training_queries", "fresh_queries", "query_statistics"]
