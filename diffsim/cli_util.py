"""Helpers shared by CLI command modules."""

from __future__ import annotations

import argparse
import json


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


def add_json_flag(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def emit(payload: dict, table: str, as_json: bool) -> None:
    """Print ``payload`` as one JSON object, or ``table`` for humans."""
    print(json.dumps(payload) if as_json else table)


class OneLineParser(argparse.ArgumentParser):
    """argparse parser whose usage errors are one line on stderr with exit code 2."""

    def error(self, message):
        import sys

        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)
