"""Helpers shared by CLI command modules."""

from __future__ import annotations

import argparse
import json
import sys
import time


def int_list(text: str) -> tuple[int, ...]:
    """Parse ``"20,30,40"``."""
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None


def float_list(text: str) -> tuple[float, ...]:
    """Parse ``"0.5,0.6"``."""
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None


def progress(label: str, total: int | None = None):
    """A progress callback for studies: one line on stderr per finished unit, with elapsed time
    and, when ``total`` is known, the count and an ETA."""
    start = time.time()
    done = [0]

    def step(what):
        done[0] += 1
        elapsed = time.time() - start
        count = ""
        if total:
            eta = elapsed / done[0] * (total - done[0])
            count = f" [{done[0]}/{total}] eta {eta:5.1f}s,"
        print(f"  {label}:{count} {what} done, elapsed {elapsed:5.1f}s", file=sys.stderr, flush=True)

    return step


def add_json_flag(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def emit(payload: dict, table: str, as_json: bool) -> None:
    """Print ``payload`` as one JSON object, or ``table`` for humans."""
    print(json.dumps(payload) if as_json else table)


class OneLineParser(argparse.ArgumentParser):
    """argparse parser whose usage errors are one line on stderr with exit code 2."""

    def error(self, message):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)
