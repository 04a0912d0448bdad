"""The fused Pallas kernel of the streamed pass (``kernel="fused"``, GPU only).

The kernel lives in :mod:`diffsim.score._fused`; this module keeps its public names importable from
``diffsim.score.fused``. Monkeypatch ``diffsim.score._fused`` (where ``kernel="fused"`` looks them
up), not this module.
"""

from diffsim.score._fused import default_blocks, default_splits, fused_accumulate

__all__ = ["fused_accumulate", "default_blocks", "default_splits"]
