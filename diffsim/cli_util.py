"""Helpers shared by CLI command modules."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from diffsim._validate import ConfigError
from diffsim.results import finite_or_none


def add_output_flags(parser, *, json: bool = True) -> None:
    """The output options every command has: ``--quiet`` (no progress on stderr) and, where the
    command prints a result, ``--json`` (one strict JSON object instead of a table)."""
    group = parser.add_argument_group("output")
    if json:
        group.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    group.add_argument("--quiet", action="store_true", help="no progress display on stderr")


def strict_json(payload) -> str:
    """``payload`` as strict JSON (RFC 8259): NaN and infinities become ``null``, NumPy/JAX
    scalars and arrays become numbers and lists; anything else unserialisable raises TypeError."""
    return json.dumps(_finite(payload), allow_nan=False)


def _finite(value):
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy / JAX scalars and arrays
        return _finite(value.tolist())
    return value


def shown(value, spec: str = ".4g") -> str:
    """A number of a human table formatted by ``spec``, ``-`` where it is missing."""
    return "-" if value is None else format(value, spec)


def emit(payload: dict, table: str, as_json: bool) -> None:
    """Print ``payload`` as one strict JSON object (NaN/inf as null), or ``table`` for humans."""
    print(strict_json(payload) if as_json else table)


FIGURE_FORMATS = (".png", ".pdf", ".svg", ".eps", ".ps", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".pgf")


def check_output_path(path, option: str, *, kind: str = "file", formats=None) -> Path | None:
    """Check, before any computation and without creating anything, that ``path`` (the value of
    the command-line ``option``) can be written: ``kind="file"`` needs a known suffix from
    ``formats`` (if given) and a writable existing folder or creatable one; ``kind="dir"`` an
    existing writable folder or one that can be created. Raises a one-line ConfigError naming the
    option; returns ``Path(path)``.

    Call it in every command that writes (``--out``, ``--figure``, ``--checkpoint-dir``): a run
    refused after it computed loses its result."""
    if path is None:
        return None
    text = str(path)
    target = Path(text).expanduser()
    shown = f"{option}={text!r}"
    if not text.strip() or "\0" in text:
        raise ConfigError(f"{shown} is not a valid path")
    if kind == "file":
        if formats is not None:
            suffix = target.suffix.lower()
            allowed = tuple(f.lower() for f in formats)
            if suffix not in allowed:
                what = f"suffix {suffix!r}" if suffix else "no suffix"
                raise ConfigError(f"{shown} has {what}: expected a file ending in one of {', '.join(allowed)}")
        if target.is_dir():
            raise ConfigError(f"{shown} is a folder: expected a file path")
        if target.exists() and not os.access(target, os.W_OK):
            raise ConfigError(f"{shown} cannot be overwritten: permission denied")
        _check_folder(target.parent, shown)
    elif kind == "dir":
        if target.exists() and not target.is_dir():
            raise ConfigError(f"{shown} is a file: expected a folder (it is created if missing)")
        _check_folder(target, shown)
    else:  # pragma: no cover - programming error
        raise ValueError(f"kind={kind!r}: expected 'file' or 'dir'")
    return target


def _check_folder(folder: Path, shown: str) -> None:
    """``folder`` exists and is writable, or its nearest existing ancestor is a writable folder."""
    folder = folder if str(folder) else Path(".")
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise ConfigError(f"{shown} cannot be created: {str(candidate)!r} is a file, not a folder")
            if not os.access(candidate, os.W_OK | os.X_OK):
                raise ConfigError(f"{shown} cannot be written: no write permission in {str(candidate)!r}")
            return
    raise ConfigError(f"{shown} cannot be created: no existing folder above it")  # pragma: no cover


class OneLineParser(argparse.ArgumentParser):
    """argparse parser whose usage errors are one line on stderr with exit code 2. Options are
    never abbreviated (``--data`` is not a prefix of ``--data.model``: it is refused by name)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)
