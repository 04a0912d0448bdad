"""The one progress display of every command, sweep and training loop.

A :class:`Progress` counts units (study points, sweep cells, training checkpoints) on stderr with
the rate and an ETA; on a terminal the line is redrawn in place, elsewhere (a batch-job log, a
pipe) it is one line per event. Inside a unit, a study reports what it is doing through the
callback of :meth:`Progress.within`; the lines are indented under the count. ``quiet`` gives a
display that prints nothing, so callers never branch on it.

Studies and measurements take ``progress=None`` or any callable ``(what: str) -> None``; they do
not know about this class.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Callable

__all__ = ["Progress"]


class Progress:
    """Units done of ``total`` (or a count when ``total`` is None), rate, ETA and elapsed time.

    Args:
      label: what is being counted, first on each line (``"collapse"``, ``"rem/quick"``).
      total: the number of units, if known.
      done: units already done before this display started (a resumed sweep).
      unit: the units' name in the line (``"points"``, ``"cells"``, ``"steps"``).
      stream: where to write (default: ``sys.stderr``, looked up when writing).
      quiet: print nothing.
    """

    def __init__(self, label: str, total: int | None = None, *, done: int = 0, unit: str = "points",
                 stream=None, quiet: bool = False):
        self.label, self.total, self.done, self.unit = label, total, done, unit
        self.quiet = quiet
        self._stream = stream
        self.start = time.perf_counter()
        self.ran = 0
        self.last = "starting" if not done else f"{done} already done"
        if not quiet and done:
            self._draw()

    @property
    def stream(self):
        return sys.stderr if self._stream is None else self._stream

    @property
    def tty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def update(self, what: str = "", *, count: int = 1) -> None:
        """``count`` more units are done (``what``: which)."""
        self.done += count
        self.ran += count
        self.last = str(what)
        if not self.quiet:
            self._draw()

    __call__ = update

    def note(self, what: str) -> None:
        """A line inside the current unit (not counted): indented, with the elapsed time."""
        if self.quiet:
            return
        text = f"    {what} ({time.perf_counter() - self.start:.1f}s)"
        if self.tty:  # overwrite the count with the line, then draw the count again below it
            self.stream.write("\r" + text.ljust(shutil.get_terminal_size().columns - 1) + "\n")
            self._draw()
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def within(self, prefix: str = "") -> Callable[[str], None]:
        """A callback ``(what) -> None`` for a study or training loop inside one unit: its messages
        become :meth:`note` lines, prefixed (``"N=20"``); an integer message reads ``N=<n> done``."""

        def report(what) -> None:
            text = f"N={what} done" if isinstance(what, int) else str(what).strip()
            self.note(f"{prefix}: {text}" if prefix else text)

        return report

    def _draw(self) -> None:
        elapsed = time.perf_counter() - self.start
        rate = self.ran / elapsed if self.ran and elapsed > 0 else 0.0
        if self.total:
            left = self.total - self.done
            eta = f"ETA {left / rate:6.0f}s" if rate > 0 else "ETA      ?"
            filled = min(20, int(20 * self.done / self.total))
            count = f"[{'#' * filled}{'-' * (20 - filled)}] {self.done:>4}/{self.total} {self.unit}  {eta}"
        else:
            count = f"{self.done:>4} {self.unit}"
        line = f"{self.label} {count}  elapsed {elapsed:6.1f}s  {self.last}"
        if self.tty:
            columns = shutil.get_terminal_size().columns - 1
            end = "\n" if self.total and self.done >= self.total else ""
            self.stream.write("\r" + line[:columns].ljust(columns) + end)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
