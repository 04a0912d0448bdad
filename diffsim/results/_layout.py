"""The names of the files in a results directory (see :mod:`diffsim.results`)."""

from __future__ import annotations

import re

TABLE = "table.csv"
SUMMARY = "summary.csv"
METADATA = "metadata.json"
CELLS = "cells"
LOCK = ".diffsim-lock.json"
RESULTS_FORMAT = "diffsim-results/1"
PART_FORMAT = "diffsim-cell/1"
_PART = re.compile(r"^c(\d+)_s(\d+)\.json$")
_SHARD_DIR = re.compile(r"^shard-(\d+)-of-(\d+)$")


def unit_name(cell: int, seed: int) -> str:
    """File stem of the part for ``(cell, seed)``: ``c00012_s3``."""
    return f"c{cell:05d}_s{seed}"


def shard_dirname(index: int, count: int) -> str:
    return f"shard-{index}-of-{count}"
