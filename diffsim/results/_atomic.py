"""Atomic writes: a temp file in the same directory, then ``os.replace``, with the umask's mode."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from diffsim.results._layout import CELLS


def umask_mode(base: int = 0o666) -> int:
    """The mode a new file gets under the current umask (``open()`` does the same)."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


@contextlib.contextmanager
def atomic_file(path):
    """Yield a temp path beside ``path`` (same suffix, so writers that choose a format by suffix
    work); on success give it the umask's mode and ``os.replace`` it onto ``path``, on error delete
    it. Readers, and a run killed mid-write, see the old file or the new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, umask_mode())  # mkstemp makes 0600: give the file the mode open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_file`), fsynced before the rename."""
    path = Path(path)
    with atomic_file(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    return path


def remove_stale_temps(directory) -> None:
    """Delete temp files left by writes that a kill interrupted (``.<name>.<random>.tmp<suffix>``).
    Call it only while holding the directory's lock (another run's temp files are in flight)."""
    for folder in (Path(directory), Path(directory) / CELLS):
        if folder.is_dir():
            for path in folder.glob(".*.tmp*"):
                path.unlink(missing_ok=True)
