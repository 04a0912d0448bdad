"""Checkpoints of training states: log-spaced steps, atomic ``.npz`` files, exact reloads.

A checkpoint stores every leaf of a pytree (a :class:`diffsim.nets.train.TrainState`, or any
pytree of arrays) under its ``jax.tree_util.keystr`` path, plus a JSON metadata string. Files are
written to a temporary name in the same directory and moved into place with ``os.replace``, so a
reader never sees a partial file. Loading needs a template pytree of the same structure (for
example a freshly initialised state) and returns bit-identical arrays.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np

from diffsim import _validate

__all__ = ["checkpoint_steps", "checkpoint_path", "save_checkpoint", "load_checkpoint"]

_META = "__metadata__"


def checkpoint_steps(total_steps: int, n_checkpoints: int, granularity: int = 1) -> tuple[int, ...]:
    """Step 0 and up to ``n_checkpoints`` log-spaced steps in ``[granularity, total_steps]``,
    each a multiple of ``granularity`` (the steps run per dispatch), always ending at
    ``total_steps``; strictly increasing."""
    total_steps = _validate.integer("steps", total_steps, minimum=1)
    n_checkpoints = _validate.integer("n_checkpoints", n_checkpoints, minimum=1)
    granularity = _validate.integer("steps_per_dispatch", granularity, minimum=1, maximum=total_steps)
    if total_steps % granularity:
        raise _validate.ConfigError(
            f"steps={total_steps} is out of range: expected a multiple of steps_per_dispatch={granularity}"
        )
    units = total_steps // granularity
    # (np.geomspace with one point returns its start: one checkpoint is the end of the run)
    raw = np.array([units]) if n_checkpoints == 1 else np.unique(np.round(np.geomspace(1, units, n_checkpoints)).astype(int))
    return (0,) + tuple(int(u) * granularity for u in raw)


def checkpoint_path(directory, step: int) -> Path:
    """``directory/step_00001234.npz``."""
    return Path(directory) / f"step_{int(step):08d}.npz"


def _flatten(tree) -> dict[str, np.ndarray]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def save_checkpoint(path, tree, metadata: dict | None = None) -> Path:
    """Write every leaf of ``tree`` and ``metadata`` (JSON-serialisable) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = _flatten(tree)
    if _META in arrays:  # pragma: no cover - reserved name
        raise _validate.ConfigError(f"a leaf path is named {_META!r}, which is reserved")
    arrays[_META] = np.asarray(json.dumps(metadata or {}))
    from diffsim.results import atomic_file

    with atomic_file(path) as tmp:  # the umask's file mode, like every results file
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]  # the stub types **kwds as allow_pickle
    return path


def load_checkpoint(path, template):
    """Read a checkpoint written by :func:`save_checkpoint` into the structure of ``template``.

    Returns ``(tree, metadata)``. Raises :class:`diffsim._validate.ConfigError` when a leaf is
    missing or has another shape or dtype than in ``template``.
    """
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    with np.load(Path(path), allow_pickle=False) as stored:
        out = []
        for p, leaf in leaves:
            name = jax.tree_util.keystr(p)
            if name not in stored.files:
                raise _validate.ConfigError(f"checkpoint {path} has no leaf {name}: expected the template's structure")
            arr = stored[name]
            ref = np.asarray(leaf)
            if arr.shape != ref.shape or arr.dtype != ref.dtype:
                raise _validate.ConfigError(
                    f"checkpoint {path} leaf {name} has shape {arr.shape} {arr.dtype}: "
                    f"expected {ref.shape} {ref.dtype}"
                )
            out.append(jax.numpy.asarray(arr))
        metadata = json.loads(str(stored[_META])) if _META in stored.files else {}
    return jax.tree_util.tree_unflatten(treedef, out), metadata
