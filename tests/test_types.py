"""The type checker is clean on the package: ``python -m mypy`` from the repository root, with the
configuration of ``pyproject.toml`` (``[tool.mypy]``)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                    reason="mypy is not installed (pip install -e '.[test]')")
def test_mypy_is_clean_on_the_package():
    # An incremental cache beside the others in the repository (ignored by git): a warm run takes
    # seconds, a cold one about half a minute on two cores.
    cache = REPO / ".mypy_cache"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(cache)],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"mypy found errors:\n{proc.stdout}{proc.stderr}"
