"""The ``diffsim`` command line. Each command prints a human table, or one strict JSON object
with ``--json`` (NaN and infinities as ``null``); bad input gives a one-line message and exit code
2; a closed pipe (``diffsim ... | head``) ends quietly with exit code 141 (128 + SIGPIPE, as a
shell reports a command ended by a broken pipe)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

from diffsim._validate import ConfigError
from diffsim.cli_util import FIGURE_FORMATS, OneLineParser, check_output_path
from diffsim._version import __version__



def command_modules() -> list[str]:
    """The command groups: every module of :mod:`diffsim.commands`, each with ``register(subparsers)``
    (no list to edit; a registered study without a module of its own gets a generated command)."""
    import diffsim.commands

    return [f"diffsim.commands.{m.name}" for m in pkgutil.iter_modules(diffsim.commands.__path__)
            if not m.name.startswith("_")]

EXIT_BROKEN_PIPE = 141


def version_text() -> str:
    """``diffsim X.Y.Z`` (the installed distribution's version where installed)."""
    import importlib.metadata as md

    try:
        installed = md.version("diffsim-memorization")
    except md.PackageNotFoundError:
        installed = None
    return f"diffsim {installed or __version__}"


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="diffsim", description="Statistical physics of memorization in diffusion models."
    )
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in command_modules():
        importlib.import_module(name).register(sub)
    # loaded like the command modules (cli_config's own `python -m` entry imports this module)
    importlib.import_module("diffsim.cli_config").add_generated_commands(sub)
    return parser


def parse_args(parser, argv=None):
    """``parser.parse_args``, except that ``KEY=VALUE`` words after options (``diffsim run CONFIG
    --scale paper n_steps=400``) join the command's ``overrides`` (argparse does not mix
    positionals with options in subcommands)."""
    args, extra = parser.parse_known_args(argv)
    if extra and hasattr(args, "overrides"):
        words = [w for w in extra if not w.startswith("-") and "=" in w]
        args.overrides = [*args.overrides, *words]
        extra = [w for w in extra if w not in words]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


# Output options shared by the study commands, checked for every command before its handler runs
# (a run refused after it computed would lose its result); the sweep commands check their own
# --out / --gallery / --results folders.
OUTPUT_OPTIONS = (("figure", "file"), ("checkpoint_dir", "dir"))


def check_output_options(args) -> None:
    for attr, kind in OUTPUT_OPTIONS:
        value = getattr(args, attr, None)
        if value:
            check_output_path(value, "--" + attr.replace("_", "-"), kind=kind,
                              formats=FIGURE_FORMATS if kind == "file" else None)


def main(argv=None) -> int:
    try:
        parser = build_parser()
        args = parse_args(parser, argv)
        check_output_options(args)
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return code
    except ConfigError as err:
        print(f"diffsim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diffsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`diffsim ... | head`). As the Python docs recommend, point stdout
        # at devnull so the interpreter's final flush does not raise again, and end quietly.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (captured)
            pass
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
