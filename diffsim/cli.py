"""The ``diffsim`` command line. Each command prints a human table, or one JSON object with
``--json``; bad input gives a one-line message and exit code 2."""

from __future__ import annotations

import importlib
import sys

from diffsim._validate import ConfigError
from diffsim.cli_util import OneLineParser

# Command groups, each a module with ``register(subparsers)``; a study adds its module here.
COMMAND_MODULES = ("diffsim.commands.core", "diffsim.commands.sweep", "diffsim.commands.hmm", "diffsim.commands.denoiser",
                   "diffsim.commands.geometry", "diffsim.commands.guidance")


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="diffsim", description="Statistical physics of memorization in diffusion models."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as err:
        print(f"diffsim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diffsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
