"""Provenance of a results directory: the environment and git state of a run, and ``metadata.json``."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import time
from pathlib import Path

import numpy as np

from diffsim._version import SOURCE_ROOT, __version__
from diffsim.results._atomic import atomic_write_text
from diffsim.results._layout import METADATA, RESULTS_FORMAT, unit_name


def environment() -> dict:
    """Versions (diffsim, jax, jaxlib, numpy, Python), git commit, device kind, host."""
    import importlib.metadata as md

    import jax

    def version(pkg):
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return None

    devices = jax.devices()
    commit, dirty = _git_state(SOURCE_ROOT)
    return {
        "diffsim": __version__,
        "jax": jax.__version__,
        "jaxlib": version("jaxlib"),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "backend": jax.default_backend(),
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "x64": bool(jax.config.read("jax_enable_x64")),
        "git_commit": commit,
        "git_dirty": dirty,
    }


def _git_state(root: Path) -> tuple[str | None, bool | None]:
    """``(HEAD commit, tracked files modified?)`` of the checkout holding diffsim (read-only git
    calls; None when not a git checkout)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, env=env)
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, env=env,
        )
        return head.stdout.strip(), (bool(status.stdout.strip()) if status.returncode == 0 else None)
    except (OSError, subprocess.SubprocessError):
        return None, None


def read_metadata(directory) -> dict | None:
    path = Path(directory) / METADATA
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_metadata(directory, resolved: dict, config_hash: str, *, shard: str | None, units: list[tuple[int, int]],
                   parts: dict, env: dict, started: str, extra: dict | None = None) -> dict:
    """Write ``metadata.json`` (atomically) describing ``directory`` and the parts it holds."""
    expected = [unit_name(c, s) for c, s in units]
    done = [unit_name(c, s) for c, s in units if (c, s) in parts]
    meta = {
        "format": RESULTS_FORMAT,
        "experiment": resolved["name"],
        "study": resolved["study"],
        "scale": resolved["scale"],
        "description": resolved.get("description", ""),
        "config_hash": config_hash,
        "shard": shard,
        "units_expected": len(expected),
        "units_done": len(done),
        "complete": len(done) == len(expected),
        "started": started,
        "updated": _now(),
        "environment": env,
        "wall_s": {unit_name(c, s): parts[(c, s)]["wall_s"] for c, s in units if (c, s) in parts},
        "config": resolved,
    }
    meta.update(extra or {})
    atomic_write_text(Path(directory) / METADATA, json.dumps(meta, indent=1) + "\n")
    return meta


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
