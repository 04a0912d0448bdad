"""Experiment configs: a TOML file naming a study, its fixed parameters, sweep axes, seeds and scales.

An experiment file (``experiments/*.toml``, read with the standard library's ``tomllib``)::

    study = "collapse"                 # a name in diffsim.studies.STUDIES
    description = "what it measures"   # optional; name defaults to the file stem
    seeds = [0, 1]                     # replicas: every cell runs once per seed

    [params]                           # fixed fields of the study's config dataclass
    data = "gaussian"

    [grid]                             # axes crossed as a product (file order, last axis fastest)
    alpha = [0.2, 0.3]
    dim = [16, 20, 24]                 # one study config is one point: a sweep iterates

    [zip]                              # axes of equal length taken together, crossed with the grid
    sigma = [0.5, 1.0]                 # ([[zip]] tables give several independent groups)
    mtilde = [1.0, 2.0]

    [scales.quick]                     # a named scale overrides seeds, params, grid or zip
    params = { n_trajectories = 64 }   # params and grid are merged key by key; seeds and zip replaced
    grid = { dim = [8, 12] }

A *cell* is one point of the sweep: its index ``i`` (enumeration order above) and the study config
built from ``params`` and the cell's axis values. :func:`load_experiment` checks everything (unknown
keys, wrong types, each cell's ``validate()``) and raises one :class:`~diffsim.ConfigError` listing
*every* problem with its key path, before anything runs or is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffsim import specs
from diffsim._validate import ConfigError

__all__ = ["SCALES", "Cell", "Experiment", "load_experiment", "parse_experiment", "parse_overrides", "config_hash",
           "table_schema", "check_table_schema"]

SCALES = ("quick", "paper")
TOP_KEYS = ("study", "name", "description", "seeds", "params", "grid", "zip", "scales")
SCALE_KEYS = ("seeds", "params", "grid", "zip")
MAX_REPORTED = 40
_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)\s*=")


@dataclass(frozen=True)
class Cell:
    """One point of a sweep: ``index`` (its place in the enumeration, folded into the PRNG key),
    ``axes`` (axis name -> value as written in the TOML) and the validated study ``config``."""

    index: int
    axes: dict
    config: Any


@dataclass(frozen=True)
class Experiment:
    """A resolved experiment: a study, a scale, seeds and the validated cells of its sweep."""

    name: str
    study: str
    scale: str
    description: str
    seeds: tuple[int, ...]
    params: dict
    axes: tuple[str, ...]
    cells: tuple[Cell, ...]
    source: str | None = None

    def resolved(self) -> dict:
        """JSON-ready description: the TOML inputs after scale resolution and every cell's full
        study config (defaults included)."""
        return {
            "name": self.name,
            "study": self.study,
            "scale": self.scale,
            "description": self.description,
            "source": self.source,
            "seeds": list(self.seeds),
            "params": _jsonable(self.params),
            "axes": list(self.axes),
            "cells": [
                {"cell": c.index, "axes": _jsonable(c.axes), "config": _jsonable(dataclasses.asdict(c.config))}
                for c in self.cells
            ],
        }

    @property
    def hash(self) -> str:
        """Hash of what determines the numbers: the study, the seeds and every cell's full config
        in order (not the name, scale or description)."""
        return config_hash(self.study, self.seeds, [c.config for c in self.cells])


# The layout of the result tables: part of every config hash, so that results written with other
# column or quantity names read as another config (``diffsim figures`` stops, or reruns them with
# --rerun-stale; ``diffsim run --resume`` refuses to mix them). 2: the one naming scheme of
# ``diffsim.results`` (``theory/<name>``, ``memorized_fraction``); 3: ``score_error_true`` in
# separation_size and separation_pruning; 4: nested configs (``data.dim``, ``train.steps``): the
# cells' configs are nested tables and the axis columns are named by their paths' last segment.
TABLE_SCHEMA = 4


def config_hash(study: str, seeds, configs) -> str:
    """sha256 (16 hex digits) of the canonical JSON of ``(study, seeds, [asdict(config), ...])`` and
    the :data:`TABLE_SCHEMA`."""
    return _hash(study, seeds, [_jsonable(dataclasses.asdict(c)) for c in configs], TABLE_SCHEMA)


def _hash(study: str, seeds, cells: list, schema: int) -> str:
    """:func:`config_hash` of the JSON configs ``cells`` under table ``schema`` (1: before the schema
    was part of the hash)."""
    payload: dict[str, Any] = {"study": study, "seeds": [int(s) for s in seeds], "cells": cells}
    if schema > 1:
        payload["tables"] = schema
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def table_schema(metadata: dict) -> int | None:
    """The table schema that wrote a results directory, read from its ``metadata.json``: the schema
    (1 to :data:`TABLE_SCHEMA`) under which the recorded config hashes to the recorded hash; None
    where none does (metadata written by hand, or by a newer diffsim)."""
    try:
        resolved = metadata["config"]
        study, seeds = resolved["study"], resolved["seeds"]
        cells = [cell["config"] for cell in resolved["cells"]]
        recorded = metadata["config_hash"]
    except (KeyError, TypeError):
        return None
    return next((k for k in range(TABLE_SCHEMA, 0, -1) if _hash(study, seeds, cells, k) == recorded), None)


def check_table_schema(metadata: dict, where) -> None:
    """Refuse results written with an older table schema (other column or quantity names): a
    one-line ConfigError naming ``where``, the schema and the diffsim that wrote them."""
    schema = table_schema(metadata)
    if schema is None or schema == TABLE_SCHEMA:
        return
    env = metadata.get("environment") or {}
    commit = env.get("git_commit")
    writer = f"diffsim {env.get('diffsim') or 'unknown'}" + (f", commit {commit[:8]}" if commit else "")
    raise ConfigError(
        f"{where} was written with table schema {schema} ({writer}); this diffsim reads schema {TABLE_SCHEMA}, "
        "whose columns and quantity names differ: rerun the experiment (`diffsim figures --rerun-stale`, "
        "or `diffsim run CONFIG --out` another folder)"
    )


def load_experiment(path, scale: str = "quick", *, name: str | None = None, overrides: dict | None = None) -> Experiment:
    """Read and validate the experiment file ``path`` at ``scale``; raise one ConfigError listing
    every problem (``path: key.path: message`` lines). ``overrides`` (see :func:`parse_overrides`)
    win over the file and its scale."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config={str(path)!r} is not a file: expected a TOML experiment file")
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a byte-order mark (Windows editors) is dropped
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start}): "
                          "expected a TOML file, which is UTF-8") from None
    except OSError as err:
        raise ConfigError(f"config={str(path)!r} cannot be read: {err.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    return parse_experiment(raw, scale, name=name or path.stem, source=str(path), overrides=overrides)


def parse_overrides(items) -> dict:
    """``["n_steps=400", "data=mixture", "dim=[8, 12]"]`` -> ``{key: value}``. A value is read as a
    TOML value (numbers, booleans, ``"strings"``, ``[lists]``), else taken as a bare string. The
    values are then checked like the TOML file's (see :func:`parse_experiment`)."""
    out = {}
    for item in items:
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", key):
            raise ConfigError(f"override {item!r} is not valid: expected KEY=VALUE, e.g. train.steps=400 or "
                              "data.dim=[8,12]")
        if key in out:
            raise ConfigError(f"override {key!r} is given twice: give each parameter once")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        out[key] = value
    return out


def parse_experiment(raw: dict, scale: str = "quick", *, name: str = "experiment", source: str | None = None,
                     overrides: dict | None = None) -> Experiment:
    """Validate the parsed TOML ``raw`` at ``scale`` (see the module docstring for the layout).

    ``overrides`` (``{key: value}``, e.g. from ``diffsim run CONFIG key=value``) are applied last:
    ``seeds`` replaces the seeds; a sweep axis is replaced (a list gives its values, a single value
    makes it a one-value axis); any other key sets a study parameter. They are checked like the
    file's own values, their errors reported as ``override KEY``."""
    errors = _Errors()
    errors.unknown_keys(raw, TOP_KEYS, "")
    study = _study(raw, errors)
    name, description = _header(raw, name, errors)
    seeds, params, grid, zip_groups = _resolve_scale(raw, scale, errors)
    if overrides:
        seeds, params, grid = _apply_overrides(overrides, seeds, params, grid, zip_groups, errors)
    axes = _Axes.collect(grid, zip_groups, params, errors)
    if study is None:
        raise ConfigError(errors.message(source))
    fields = _fields(study.config_type)
    fixed = {}
    for key, (value, at) in params.items():
        if key == "seed" and "seed" in fields:
            errors.add(at, "the seed is set by the top-level 'seeds' list, not by params")
            continue
        fixed.update(_coerce(key, value, at, fields, errors))
    # Every cell is built and validated even after earlier errors (badly typed keys fall back to
    # the study's defaults), so one pass reports every problem.
    cells = []
    column = axis_columns(axes.values)
    for index, (shown, overrides) in enumerate(axes.points(fields, errors)):
        config = _build_cell(study.config_type, fields, {**fixed, **overrides}, axes.origins(params, shown, fields), shown, errors)
        if config is not None:
            cells.append(Cell(index, {column[k]: v for k, v in shown.items()}, config))
    if errors:
        raise ConfigError(errors.message(source))
    return Experiment(
        name=name, study=study.name, scale=scale, description=description, seeds=seeds,
        params=fixed, axes=tuple(column[a] for a in axes.values), cells=tuple(cells), source=source,
    )


def axis_columns(paths) -> dict[str, str]:
    """Axis path -> its column in the result tables: the path's last segment (``data.dim`` -> ``dim``),
    or the whole path where two axes share a last segment."""
    paths = list(paths)
    last = [p.rpartition(".")[2] for p in paths]
    return {p: (name if last.count(name) == 1 else p) for p, name in zip(paths, last)}


def _study(raw: dict, errors: "_Errors"):
    from diffsim.studies import STUDIES

    known = ", ".join(sorted(STUDIES))
    study_name = raw.get("study")
    if study_name is None:
        errors.add("study", f"missing: expected one of {known}")
    elif not isinstance(study_name, str):
        errors.add("study", f"expected a string, one of {known}; got {_type_name(study_name)}")
    elif study_name not in STUDIES:
        errors.add("study", f"{study_name!r} is not known: expected one of {known}")
    else:
        return STUDIES[study_name]
    return None


def _header(raw: dict, name: str, errors: "_Errors") -> tuple[str, str]:
    name = raw.get("name", name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        errors.add("name", f"{name!r} is not a valid name: expected letters, digits, '_', '-' or '.'")
    description = raw.get("description", "")
    if not isinstance(description, str):
        errors.add("description", f"expected a string, got {_type_name(description)}")
        description = ""
    return name, description


def _resolve_scale(raw: dict, scale: str, errors: "_Errors"):
    """Apply ``[scales.<scale>]``: seeds and zip replaced, params and grid merged key by key.
    Returns ``(seeds, params, grid, zip_groups)``; params and grid map key -> (value, key path)."""
    seeds, seeds_at = raw.get("seeds", [0]), "seeds"
    params = {k: (v, f"params.{k}") for k, v in _flat(_table(raw, "params", errors)).items()}
    grid = {k: (v, f"grid.{k}") for k, v in _flat(_table(raw, "grid", errors)).items()}
    zips, zip_at = raw.get("zip", []), "zip"
    scales = _table(raw, "scales", errors)
    if not scales and scale not in SCALES:
        errors.add("scale", f"{scale!r} is not known: expected one of {', '.join(SCALES)} (the file defines no scales)")
    elif scales and scale not in scales:
        errors.add("scales", f"has no scale {scale!r}: defined scales are {', '.join(scales)}")
    elif scales and not isinstance(scales[scale], dict):
        errors.add(f"scales.{scale}", f"expected a table, got {_type_name(scales[scale])}")
    elif scales:
        over, at = scales[scale], f"scales.{scale}"
        errors.unknown_keys(over, SCALE_KEYS, at)
        if "seeds" in over:
            seeds, seeds_at = over["seeds"], f"{at}.seeds"
        params.update({k: (v, f"{at}.params.{k}") for k, v in _flat(_table(over, "params", errors, at)).items()})
        grid.update({k: (v, f"{at}.grid.{k}") for k, v in _flat(_table(over, "grid", errors, at)).items()})
        if "zip" in over:
            zips, zip_at = over["zip"], f"{at}.zip"
    if isinstance(zips, dict):
        zip_groups = [(_flat(zips), zip_at)]
    elif isinstance(zips, list) and all(isinstance(z, dict) for z in zips):
        zip_groups = [(_flat(z), f"{zip_at}[{i}]") for i, z in enumerate(zips)]
    else:
        errors.add(zip_at, f"expected a table of equal-length lists (or [[zip]] tables), got {_type_name(zips)}")
        zip_groups = []
    return _check_seeds(seeds, seeds_at, errors), params, grid, zip_groups


def _apply_overrides(overrides: dict, seeds, params: dict, grid: dict, zip_groups: list, errors: "_Errors"):
    params, grid = dict(params), dict(grid)
    zipped = {k for group, _ in zip_groups for k in group}
    for key, value in overrides.items():
        at = f"override {key}"
        if key == "seeds":
            seeds = _check_seeds(value, at, errors)
        elif key in zipped:
            errors.add(at, f"{key!r} is a zipped axis: change it in the config file's [zip] table")
        elif key in grid:
            grid[key] = (value if isinstance(value, list) else [value], at)
        elif key in TOP_KEYS:
            errors.add(at, f"{key!r} cannot be overridden: expected seeds, an axis or a study parameter")
        else:
            params[key] = (value, at)
    return seeds, params, grid


@dataclass
class _Axes:
    """The sweep axes: ``values`` (axis -> list as written), ``at`` (axis -> key path) and
    ``factors`` (one list of points per grid axis or zip group; cells are their product)."""

    values: dict
    at: dict
    factors: list

    @classmethod
    def collect(cls, grid: dict, zip_groups: list, params: dict, errors: "_Errors") -> "_Axes":
        axes = cls({}, {}, [])
        for axis, (values, at) in grid.items():
            if _axis_ok(axis, values, at, axes.values, errors):
                axes.values[axis], axes.at[axis] = list(values), at
                axes.factors.append([{axis: v} for v in values])
        for group, at in zip_groups:
            lengths = {k: len(v) for k, v in group.items() if isinstance(v, list)}
            if len(set(lengths.values())) > 1:
                errors.add(at, "zipped axes must have equal lengths, got " + ", ".join(f"{k}: {n}" for k, n in lengths.items()))
                continue
            ok = [k for k, v in group.items() if _axis_ok(k, v, f"{at}.{k}", axes.values, errors, distinct=False)]
            if ok and len(ok) == len(group):
                repeated = _first_repeat([[group[k][j] for k in ok] for j in range(len(group[ok[0]]))])
                if repeated is not None:
                    errors.add(at, f"point {repeated} ({', '.join(f'{k}={group[k][repeated]!r}' for k in ok)}) repeats an "
                                   "earlier point: expected distinct points (a repeated cell would run twice)")
                    continue
                for k in ok:
                    axes.values[k], axes.at[k] = list(group[k]), f"{at}.{k}"
                axes.factors.append([{k: group[k][j] for k in ok} for j in range(len(group[ok[0]]))])
        for axis in axes.values:
            if axis in params:
                errors.add(params[axis][1], f"{axis!r} is also a sweep axis ({axes.at[axis]}): set it in one place")
        return axes

    def position(self, axis: str, value) -> str:
        return f"{self.at[axis]}[{self.values[axis].index(value)}]"

    def points(self, fields: dict, errors: "_Errors"):
        """Yield ``(axis values as written, typed config overrides)`` for every cell, in order."""
        typed_factors = []
        for factor in self.factors:
            typed = []
            for point in factor:
                overrides = {}
                for axis, value in point.items():
                    overrides.update(_coerce(axis, value, self.position(axis, value), fields, errors))
                typed.append((point, overrides))
            typed_factors.append(typed)
        for combo in itertools.product(*typed_factors):
            shown: dict = {}
            overrides = {}
            for point, values in combo:
                shown.update(point)
                overrides.update(values)
            yield shown, overrides

    def origins(self, params: dict, shown: dict, fields: dict) -> dict:
        """Config field -> key path its value came from, for one cell."""
        origin = {k: at for k, (_, at) in params.items()}
        origin.update({a: self.position(a, v) for a, v in shown.items()})
        return origin


# --------------------------------------------------------------------------------------------
# helpers

class _Errors:
    """Accumulates ``(key path, message)`` pairs; reported together, in order, deduplicated."""

    def __init__(self):
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        if (path, message) not in self.items:
            self.items.append((path, message))

    def unknown_keys(self, table: dict, allowed, at: str) -> None:
        for key in table:
            if key not in allowed:
                where = f"{at}.{key}" if at else key
                self.add(where, f"unknown key: expected one of {', '.join(allowed)}")

    def __bool__(self) -> bool:
        return bool(self.items)

    def message(self, source: str | None) -> str:
        head = f"{source}: " if source else ""
        n = len(self.items)
        if n == 1:  # one line: the parameter's key path and the message
            path, msg = self.items[0]
            return f"{head}{path}: {msg} (nothing was run or written)"
        lines = [f"{head}{n} error{'s' if n > 1 else ''} in the experiment config (nothing was run or written):"]
        lines += [f"  {path}: {msg}" for path, msg in self.items[:MAX_REPORTED]]
        if n > MAX_REPORTED:
            lines.append(f"  ... and {n - MAX_REPORTED} more")
        return "\n".join(lines)


def _table(raw: dict, key: str, errors: _Errors, at: str = "") -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        errors.add(f"{at}.{key}" if at else key, f"expected a table, got {_type_name(value)}")
        return {}
    return value


def _check_seeds(seeds, at: str, errors: _Errors) -> tuple[int, ...]:
    if not isinstance(seeds, list) or not seeds:
        errors.add(at, f"expected a non-empty list of integers >= 0, got {seeds!r}")
        return (0,)
    good = []
    for i, s in enumerate(seeds):
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2**31:
            errors.add(f"{at}[{i}]", f"{s!r} is out of range: expected an integer in [0, 2^31)")
        else:
            good.append(s)
    if len(set(good)) != len(good):
        errors.add(at, f"{seeds!r} repeats a seed: expected distinct seeds")
    return tuple(good)


def _axis_ok(axis: str, values, at: str, seen: dict, errors: _Errors, *, distinct: bool = True) -> bool:
    if axis in seen:
        errors.add(at, f"axis {axis!r} is swept twice")
        return False
    if not isinstance(values, list) or not values:
        errors.add(at, f"expected a non-empty list of values, got {values!r}")
        return False
    if distinct:
        repeated = _first_repeat(values)
        if repeated is not None:
            errors.add(f"{at}[{repeated}]", f"{values[repeated]!r} repeats an earlier value of {axis!r}: "
                                            "expected distinct values (a repeated cell would run twice)")
            return False
    return True


def _first_repeat(points) -> int | None:
    """Index of the first point equal to an earlier one (numbers compared by value, 8 == 8.0)."""
    seen = set()
    for i, point in enumerate(points):
        key = _value_key(point)
        if key in seen:
            return i
        seen.add(key)
    return None


def _value_key(value):
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    if isinstance(value, list):
        return ("list", tuple(_value_key(v) for v in value))
    if isinstance(value, dict):
        return ("table", tuple(sorted((k, _value_key(v)) for k, v in value.items())))
    return (type(value).__name__, repr(value))


def _fields(config_type) -> dict[str, Any]:
    """Dotted path -> resolved type annotation of every settable value of a (nested) study config."""
    return {leaf.path: leaf.hint for leaf in specs.leaves(config_type)}


def _flat(table: dict, prefix: str = "") -> dict:
    """A TOML table with sub-tables (``{"data": {"dim": 20}}``, from ``[params.data]`` or the dotted
    key ``data.dim = 20``) as dotted paths (``{"data.dim": 20}``); no config field takes a table."""
    out = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, path + "."))
        else:
            out[path] = value
    return out


def _coerce(key: str, value, at: str, fields: dict, errors: _Errors) -> dict:
    """``{field: typed value}`` for a TOML key, or ``{}`` after recording the error."""
    if key not in fields:
        last = key.rpartition(".")[2]
        near = [path for path in fields if path.rpartition(".")[2] == last]
        if near:  # a flat name of a nested field, or the wrong part
            errors.add(at, f"unknown parameter {key!r}: did you mean {' or '.join(near)}?")
        else:
            known = ", ".join(sorted(set(fields) - {"seed"}))
            errors.add(at, f"unknown parameter {key!r}: expected one of {known}")
        return {}
    ok, typed = _typed(value, fields[key])
    if not ok:
        errors.add(at, f"{key}={value!r} has the wrong type: expected {_describe(fields[key])}, got {_type_name(value)}")
        return {}
    return {key: typed}


def _typed(value, hint) -> tuple[bool, Any]:
    """Check ``value`` (from TOML) against a field annotation; return ``(ok, coerced value)``."""
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return value in typing.get_args(hint), value
    if hint is Any:
        return True, tuple(value) if isinstance(value, list) else value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if hint is str:
        return isinstance(value, str), value
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list):
            return False, value
        if len(args) == 2 and args[1] is Ellipsis:
            inner = [args[0]] * len(value)  # tuple[X, ...]
        elif args:
            inner = list(args)  # fixed length: tuple[X, Y]
            if len(value) != len(inner):
                return False, value
        else:
            inner = [Any] * len(value)
        out = []
        for item, item_hint in zip(value, inner):
            ok, typed = _typed(item, item_hint)
            if not ok:
                return False, value
            out.append(typed)
        return True, tuple(out)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if arg is type(None):
                continue
            ok, typed = _typed(value, arg)
            if ok:
                return True, typed
        return False, value
    return True, tuple(value) if isinstance(value, list) else value


def _describe(hint) -> str:
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(hint)))
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is str:
        return "a string"
    if hint is bool:
        return "true or false"
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        plural = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {plural.get(args[0], 'values')}"
        if args:
            return f"a list of {len(args)} values ({', '.join(_describe(a) for a in args)})"
        return "a list"
    return getattr(hint, "__name__", str(hint))


def _type_name(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )


def _build_cell(config_type, fields: dict, values: dict, origin: dict, shown: dict, errors: _Errors):
    """Construct and validate one cell's config from ``{path: value}``, or return None after recording
    its errors.

    ``validate()`` stops at the first bad field; that field is then reset to its default and
    ``validate()`` rerun, so every independent bad field of the cell is reported, each with the key
    path it came from (``grid.alpha[2]``, ``scales.quick.params.data.dim``)."""
    values = dict(values)
    defaults = {leaf.path: leaf.default for leaf in specs.leaves(config_type) if leaf.default is not dataclasses.MISSING}
    label = ", ".join(f"{k}={v!r}" for k, v in shown.items()) or "the only cell"
    failed: set[str] = set()
    for _ in range(len(fields) + 1):
        try:
            config = specs.build(config_type, values)
            config.validate()
            return None if failed else config
        except TypeError as err:  # a required field without a default
            errors.add("params", f"cannot build {config_type.__name__}: {err}")
            return None
        except ValueError as err:  # ConfigError, or a plain ValueError from validate()
            message = str(err)
            match = _NAME.match(message)
            field = match.group(1) if match else None
            errors.add(origin.get(field, f"cell ({label})"), message)
            if field not in defaults or field in failed or values.get(field, defaults[field]) == defaults[field]:
                return None
            failed.add(field)
            values[field] = defaults[field]
    return None


def _jsonable(value):
    """Tuples to lists, recursively (for JSON and hashing)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
