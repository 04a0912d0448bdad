"""The study commands' options, generated from the study config dataclasses.

A study config (one frozen dataclass per study, one config = one point) is the single source of a
command's options: every field becomes ``--field-name`` with the field's type, its default, its
help text (the ``Attributes:`` section of the config's docstring, which the API reference renders
too) and, for ``Literal`` fields, its choices. A command names the fields it loops over
(``vary``: the option takes a comma-separated list and the command runs one config per value, or
per combination when several fields vary), the lists' defaults, and short aliases kept from older
releases (``--dims`` for ``--dim``). Nothing else is written by hand, so the options cannot drift
from the configs: a field added to a config is a new option of its command.

We generate argparse options ourselves rather than use tyro: argparse's usage errors are already
one line with exit code 2 (:class:`~diffsim.cli_util.OneLineParser`), the commands keep their flat
``--option value`` form with comma lists, and the range checks stay in each config's ``validate()``
(one message naming the parameter and its range, the same from the CLI, TOML and Python).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import itertools
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from diffsim._validate import ConfigError
from diffsim.progress import Progress

__all__ = ["StudyCommand", "add_study_parser", "configs_from_args", "run_points", "field_docs", "option_name", "reference"]


@dataclass(frozen=True)
class StudyCommand:
    """How a command exposes a study config.

    Attributes:
        name: the command's name (``diffsim NAME``).
        config_type: the study's config dataclass.
        help: one line for ``diffsim --help``.
        vary: fields the command loops over, with the command's default list of values
            (``{"dim": (16, 20, 24, 28)}``); the option takes a comma-separated list.
        aliases: extra option strings for a field (``{"dim": ("--dims",)}``).
        hidden: fields not offered on this command (set by the command itself).
        increasing: varied fields whose values must be given in increasing order (the sweeps over
            N and P that tables and extrapolations read in order).
    """

    name: str
    config_type: type
    help: str
    vary: dict = field(default_factory=dict)
    aliases: dict = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    increasing: tuple[str, ...] = ("dim", "n_train")

    def fields(self) -> list[dataclasses.Field]:
        return [f for f in dataclasses.fields(self.config_type) if f.init and f.name not in self.hidden]


def option_name(name: str) -> str:
    """``n_trajectories`` -> ``--n-trajectories``."""
    return "--" + name.replace("_", "-")


def field_docs(config_type) -> dict[str, str]:
    """Field name -> help text, from the ``Attributes:`` section of the class docstring
    (Google style: ``name: text``, continuation lines indented further)."""
    doc = inspect.cleandoc(config_type.__doc__ or "")
    docs: dict[str, str] = {}
    inside, current, indent = False, None, None
    for line in doc.splitlines():
        if re.fullmatch(r"Attributes:\s*", line):
            inside = True
            continue
        if not inside:
            continue
        if line and not line[0].isspace():  # the next section (or text) ends it
            break
        match = re.fullmatch(r"(\s+)(\w+)(?: \([^)]*\))?:\s*(.*)", line)
        if match and (indent is None or len(match.group(1)) == indent):
            indent = len(match.group(1))
            current = match.group(2)
            docs[current] = match.group(3).strip()
        elif current and line.strip():
            docs[current] = (docs[current] + " " + line.strip()).strip()
    return docs


def _hints(config_type) -> dict[str, Any]:
    return typing.get_type_hints(config_type)


def _optional(hint) -> tuple[bool, Any]:
    """``(True, X)`` for ``X | None``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return True, args[0]
    return False, hint


def _scalar_parser(hint, option: str):
    """A string -> value converter for a scalar annotation, with a one-line error naming the option."""
    if typing.get_origin(hint) is typing.Literal:
        choices = typing.get_args(hint)
        kind = type(choices[0])
        return kind, choices
    names = {int: "an integer", float: "a number", str: "a string"}
    if hint not in names:
        raise TypeError(f"{option}: no command-line form for the annotation {hint!r}")

    def convert(text: str):
        try:
            return hint(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {names[hint]}") from None

    convert.__name__ = hint.__name__
    return convert, None


def _list_parser(item, option: str, *, length: int | None = None):
    convert, choices = _scalar_parser(item, option)

    def parse(text: str) -> tuple:
        items = [x.strip() for x in str(text).split(",") if x.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"{text!r} is empty: expected a comma-separated list")
        if length is not None and len(items) != length:
            raise argparse.ArgumentTypeError(f"{text!r} has {len(items)} values: expected {length}, comma-separated")
        values = []
        for x in items:
            value = convert(x)
            if choices is not None and value not in choices:
                raise argparse.ArgumentTypeError(f"{x!r} is not one of {', '.join(map(str, choices))}")
            values.append(value)
        return tuple(values)

    return parse, choices


def _shown(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, tuple):
        if len(value) > 8 and all(isinstance(v, (int, float)) for v in value):
            return f"{len(value)} values from {_shown(min(value))} to {_shown(max(value))}"
        return ",".join(_shown(v) for v in value) if value else "()"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _add_field(parser, command: StudyCommand, f: dataclasses.Field, hint, doc: str) -> None:
    option = option_name(f.name)
    strings = [option, *command.aliases.get(f.name, ())]
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
    optional, hint = _optional(hint)
    kwargs: dict[str, Any] = {"dest": f.name}
    varied = f.name in command.vary
    if varied:
        default = tuple(command.vary[f.name])
        kwargs["type"], choices = _list_parser(hint, option)
        kwargs["metavar"] = f.name.upper() + "[,...]"
        doc = (doc.rstrip(".") + "; " if doc else "") + "comma-separated: one run per value"
    elif hint is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
        choices = None
    elif typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            kwargs["type"], choices = _list_parser(args[0], option)
        elif args and all(a == args[0] for a in args):
            kwargs["type"], choices = _list_parser(args[0], option, length=len(args))
        else:
            raise TypeError(f"{option}: no command-line form for the annotation {hint!r}")
        kwargs["metavar"] = "V[,...]" if not choices else "{" + ",".join(map(str, choices)) + "}[,...]"
    else:
        convert, choices = _scalar_parser(hint, option)
        if optional:
            def or_none(text: str, convert=convert):
                return None if text.strip().lower() == "none" else convert(text)

            or_none.__name__ = getattr(convert, "__name__", "value")
            kwargs["type"] = or_none
        else:
            kwargs["type"] = convert
        if choices is not None:
            kwargs["choices"] = choices
            kwargs["metavar"] = "{" + ",".join(map(str, choices)) + "}"
    text = doc or f.name.replace("_", " ")
    if choices is not None and "choices" not in kwargs:
        text += f" (from {', '.join(map(str, choices))})"
    if optional and not varied:
        text += "; 'none' for none"
    kwargs["help"] = f"{text} [default: {_shown(default)}]".replace("%", "%%")
    kwargs["default"] = default
    parser.add_argument(*strings, **kwargs)


def add_study_parser(sub, command: StudyCommand, *, description: str | None = None) -> argparse.ArgumentParser:
    """Add ``command`` to the subparsers ``sub``, with one option per config field (in the config's
    order, under "study options"). Returns the parser, for the command's own options (``--figure``)."""
    parser = sub.add_parser(command.name, help=command.help, description=description or command.help)
    group = parser.add_argument_group(f"study options (the fields of {command.config_type.__name__})")
    hints = _hints(command.config_type)
    docs = field_docs(command.config_type)
    for f in command.fields():
        _add_field(group, command, f, hints[f.name], docs.get(f.name, ""))
    parser.set_defaults(study_command=command)
    return parser


def configs_from_args(args: argparse.Namespace, **fixed) -> list:
    """The validated configs of a parsed study command: one per combination of the varied fields'
    values (the first varied field outermost), every one validated before any runs. ``fixed``
    overrides fields (a command's own consequence of another option)."""
    command: StudyCommand = args.study_command
    values = {f.name: getattr(args, f.name) for f in command.fields()}
    values.update(fixed)
    varied = [name for name in command.vary if name not in fixed]
    configs = []
    for combination in itertools.product(*(values[name] for name in varied)):
        point = {**values, **dict(zip(varied, combination))}
        configs.append(command.config_type(**point).validate())
    for name in varied:  # after each value's own range check
        shown = f"{name}={','.join(map(str, values[name]))}"
        if len(set(values[name])) != len(values[name]):
            raise ConfigError(f"{shown} repeats a value: give each value once")
        if name in command.increasing and list(values[name]) != sorted(values[name]):
            raise ConfigError(f"{shown} is out of order: expected increasing values")
    return configs


def point_label(command: StudyCommand, config) -> str:
    """``dim=20, alpha=0.1``: the varied fields' values of one point."""
    return ", ".join(f"{name}={getattr(config, name)}" for name in command.vary) or command.name


def run_points(args: argparse.Namespace, run, *, configs=None, **fixed) -> list:
    """Validate every point of a parsed study command (:func:`configs_from_args`), then run
    ``run(config, progress=callback)`` on each, with the one progress display on stderr (nothing
    with ``--quiet``). Returns the results in order."""
    command: StudyCommand = args.study_command
    configs = configs_from_args(args, **fixed) if configs is None else configs
    display = Progress(command.name, len(configs), quiet=getattr(args, "quiet", False))
    results = []
    for config in configs:
        label = point_label(command, config)
        results.append(run(config, progress=None if display.quiet else display.within(label)))
        display.update(label)
    return results


def reference(parser: argparse.ArgumentParser) -> str:
    """The command-line reference in Markdown (``docs/cli.md``): every command with its options,
    their defaults and help, as ``--help`` shows them (same source: the configs)."""
    lines = ["# Command-line reference", "",
             "Generated from the study configs by `python -m diffsim.cli_config > docs/cli.md` (the suite checks",
             "it is current). Study options are the config fields: the same names in TOML experiments",
             "(`dim = [...]`), in `diffsim run CONFIG key=value` overrides and in Python (`CollapseConfig(dim=...)`).",
             "A varied option (`--dim 16,20,24`) runs one point per value.", ""]

    def walk(p, path):
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if subs:
            for name, child in subs[0].choices.items():
                walk(child, (*path, name))
            return
        lines.extend([f"## `diffsim {' '.join(path)}`", "", (p.description or "").strip(), ""])
        lines.extend(["| option | default | meaning |", "|---|---|---|"])
        for action in p._actions:
            if not action.option_strings or action.dest == "help":
                continue
            names = ", ".join(f"`{s}`" for s in action.option_strings)
            text = (action.help or "").replace("%%", "%").replace("|", "\\|")
            default = ""
            if "[default: " in text:
                text, _, default = text.rpartition(" [default: ")
                default = f"`{default[:-1]}`"
            lines.append(f"| {names} | {default} | {text} |")
        positional = [a for a in p._actions if not a.option_strings and a.dest != "help"]
        for action in positional:
            lines.append(f"| `{action.metavar or action.dest}` (positional) | | {(action.help or '').replace('|', '/')} |")
        lines.append("")

    walk(parser, ())
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover - `python -m diffsim.cli_config > docs/cli.md`
    from diffsim.cli import build_parser

    print(reference(build_parser()), end="")
