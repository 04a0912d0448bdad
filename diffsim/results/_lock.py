"""The lock on a results directory: one writer at a time, stale locks taken over."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path

from diffsim._validate import ConfigError
from diffsim.results._atomic import umask_mode
from diffsim.results._layout import LOCK
from diffsim.results._provenance import _now

LOCK_STALE_S = 48 * 3600.0  # a lock not refreshed for this long (DIFFSIM_LOCK_STALE_S) is stale


def lock_stale_after() -> float:
    """Seconds after its last refresh at which a lock counts as stale (``DIFFSIM_LOCK_STALE_S``)."""
    text = os.environ.get("DIFFSIM_LOCK_STALE_S")
    try:
        return float(text) if text else LOCK_STALE_S
    except ValueError:
        raise ConfigError(f"DIFFSIM_LOCK_STALE_S={text!r} is not valid: expected a number of seconds") from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except (OverflowError, ValueError):
        return False
    return True


def _lock_stale(holder: dict | None, age_s: float) -> str | None:
    """Why the lock described by ``holder`` (refreshed ``age_s`` ago) is stale, or None if held."""
    if holder is None:
        return "its lock file is unreadable" if age_s > 60 else None  # a lock being written: not stale yet
    if holder.get("host") == socket.gethostname() and not _pid_alive(int(holder.get("pid", -1))):
        return f"process {holder.get('pid')} on this host ({holder.get('host')}) is not running"
    limit = lock_stale_after()
    if age_s > limit:
        return f"it was last refreshed {age_s / 3600:.1f} h ago (stale after {limit / 3600:.3g} h, DIFFSIM_LOCK_STALE_S)"
    return None


def _read_lock(path: Path) -> tuple[dict | None, float] | None:
    """``(holder, seconds since refresh)`` of the lock at ``path``, or None when there is none."""
    try:
        age = time.time() - path.stat().st_mtime
        holder = json.loads(path.read_text())
        return (holder if isinstance(holder, dict) else None), age
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None, age


class DirectoryLock:
    """The lock held on a results directory (see :func:`lock_directory`)."""

    def __init__(self, directory: Path, path: Path, created: list[Path]):
        self.directory, self.path, self.created = directory, path, created

    def refresh(self) -> None:
        """Mark the lock as alive (its mtime is the heartbeat that keeps it from going stale)."""
        with contextlib.suppress(OSError):
            os.utime(self.path)

    def release(self, *, remove_empty_dir: bool = False) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
        if remove_empty_dir:
            for folder in self.created:  # deepest first; rmdir only removes empty folders
                with contextlib.suppress(OSError):
                    folder.rmdir()


@contextlib.contextmanager
def lock_directory(directory, *, what: str = "a run", stream=None):
    """Hold ``directory/.diffsim-lock.json`` while writing results into ``directory``.

    The lock holds the holder's pid, host, start time and command line. A second holder is refused
    with a ConfigError naming the directory and the holder. A lock is *stale*, and taken over with a
    message on ``stream`` (stderr), when its pid is not running on this host, or when it has not
    been refreshed (:meth:`DirectoryLock.refresh`, after every finished cell) for
    ``DIFFSIM_LOCK_STALE_S`` seconds (48 h by default: a lock from another host, whose pid cannot be
    checked). Creation is ``O_CREAT | O_EXCL``, atomic on local filesystems and NFSv3+. If the body
    raises ConfigError before writing anything, the directory is removed again when this call
    created it (a refused run leaves nothing behind)."""
    directory = Path(directory)
    stream = sys.stderr if stream is None else stream
    created = [d for d in (directory, *directory.parents) if not d.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now(), "what": what,
              "command": " ".join(sys.argv)}
    for _attempt in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, umask_mode())
        except FileExistsError:
            found = _read_lock(path)
            if found is None:
                continue  # released meanwhile: try again
            holder, age = found
            why = _lock_stale(holder, age)
            if why is None:
                who = (f"pid {holder.get('pid')} on host {holder.get('host')}, {holder.get('what', 'a run')} "
                       f"started {holder.get('started')}" if holder else "a process whose lock is being written")
                raise ConfigError(
                    f"{directory} is in use by {who} (lock {path}): wait for it to finish, or choose another "
                    f"--out; if that process is gone, delete {path}"
                ) from None
            # take the stale lock over: move it aside, and check that what we moved is what we judged
            aside = path.with_name(f"{LOCK}.stale-{os.getpid()}")
            try:
                os.rename(path, aside)
            except FileNotFoundError:
                continue
            moved = _read_lock(aside)
            if moved is not None and moved[0] != holder:  # another process took it over first: put it back
                with contextlib.suppress(OSError):
                    os.link(aside, path)
                aside.unlink(missing_ok=True)
                raise ConfigError(f"{directory} is in use: another process took over its stale lock at the same time")
            aside.unlink(missing_ok=True)
            print(f"diffsim: taking over the stale lock of {directory}: {why}", file=stream, flush=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(record) + "\n")
        break
    else:
        raise ConfigError(f"{directory} is in use: could not take its lock {path}")
    lock = DirectoryLock(directory, path, created)
    try:
        yield lock
    except ConfigError:
        lock.release(remove_empty_dir=True)
        raise
    except BaseException:
        lock.release()
        raise
    lock.release()
