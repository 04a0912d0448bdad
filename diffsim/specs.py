"""Config parts shared by every study: the data, the network, the training and the sampling.

A study config is a frozen dataclass whose fields are either plain values (``seed``) or *parts*,
frozen dataclasses declared once here (or next to the code they configure) and reused by every study
that needs them::

    @dataclass(frozen=True)
    class CollapseConfig:
        data: DataSpec = DataSpec(model="gaussian", dim=20, alpha=0.2)
        measure: CollapseOptions = CollapseOptions()     # from measure_collapse's keywords
        seed: int = 0

A field of a part is addressed by its dotted *path* (``data.dim``, ``train.steps``) in every
interface alike: TOML sub-tables (``[params.data] dim = 20``), sweep axes (``[grid] "data.dim" =
[16, 20]``), overrides (``data.dim=20``), command-line options (``--data.dim 16,20``) and Python
(``replace_path(config, "data.dim", 20)``). :func:`leaves` lists the paths of a config type with
their annotations, defaults and documentation; :func:`build` constructs a config from ``{path:
value}``; :func:`validate_parts` validates each part and names the path of a bad field.

Measurement options come from the measurement's signature (:func:`options_of`): the keyword
arguments of ``measure_collapse`` are the fields of ``CollapseOptions``, with their defaults and the
``Args:`` documentation, so the two cannot drift apart.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import math
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from numpy.typing import ArrayLike

from diffsim import _validate
from diffsim._validate import ConfigError
from diffsim.data import DataName, Nonlinearity
from diffsim.process import GRID_KINDS, GridKind
from diffsim.solvers import SOLVERS, SolverName

__all__ = ["DataSpec", "Sampling", "config_json", "Leaf", "leaves", "build", "get_path", "replace_path", "validate_parts", "options_of",
           "is_part", "doc_entries", "MAX_LOAD", "Options"]

MAX_LOAD = 5.0  # the bound on alpha = log(P)/N: exp(2 alpha) and the theory's root finders stay finite


def is_part(hint: Any) -> bool:
    """A config part is a dataclass type used as the annotation of a config field."""
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


@dataclass(frozen=True)
class Leaf:
    """One settable value of a (nested) config: its dotted ``path``, annotation ``hint``, ``default``
    (the value in the default config) and ``doc`` (from the owning class's ``Attributes:``)."""

    path: str
    hint: Any
    default: Any
    doc: str

    @property
    def name(self) -> str:
        """The last segment of the path (``data.dim`` -> ``dim``)."""
        return self.path.rpartition(".")[2]


def doc_entries(text: str | None, section: str = "Attributes") -> dict[str, str]:
    """Name -> text from a Google-style section (``Attributes:`` or ``Args:``) of a docstring. An
    entry may document several names at once (``t_max, t_min: the time range``)."""
    doc = inspect.cleandoc(text or "")
    docs: dict[str, str] = {}
    inside, current, indent = False, [], None
    for line in doc.splitlines():
        if re.fullmatch(rf"{section}:\s*", line):
            inside = True
            continue
        if not inside:
            continue
        if line and not line[0].isspace():  # the next section (or text) ends it
            break
        match = re.fullmatch(r"(\s+)(\w+(?:\s*,\s*\w+)*)(?: \([^)]*\))?(?: ``\[[^`]*\]``)?:\s*(.*)", line)
        if match and (indent is None or len(match.group(1)) == indent):
            indent = len(match.group(1))
            current = [n.strip() for n in match.group(2).split(",")]
            for name in current:
                docs[name] = match.group(3).strip()
        elif current and line.strip():
            for name in current:
                docs[name] = (docs[name] + " " + line.strip()).strip()
    return docs


def _hints(config_type: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(config_type)
    except Exception:  # annotations naming what cannot be imported here: values are checked by validate()
        return {f.name: Any for f in dataclasses.fields(config_type)}


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def leaves(config_type: type, *, default: Any = None, prefix: str = "") -> list[Leaf]:
    """Every settable value of ``config_type``, parts expanded depth first in field order. The
    defaults are those of ``default`` (an instance; by default the class's own defaults, so that a
    study's ``data: DataSpec = DataSpec(dim=8)`` gives ``data.dim`` the default 8)."""
    hints = _hints(config_type)
    docs = doc_entries(config_type.__doc__)
    out = []
    for f in dataclasses.fields(config_type):
        if not f.init:
            continue
        value = getattr(default, f.name) if default is not None else _default(f)
        path = f"{prefix}{f.name}"
        hint = hints.get(f.name, Any)
        if is_part(hint):
            part_default = value if value is not dataclasses.MISSING else None
            out.extend(leaves(hint, default=part_default, prefix=path + "."))
        else:
            out.append(Leaf(path, hint, value, docs.get(f.name, "")))
    return out


def build(config_type: type, values: dict[str, Any], *, base: Any = None) -> Any:
    """The config ``config_type(...)`` with the values ``{path: value}`` set over ``base`` (default:
    the class defaults; each part's default is the study's default for it). Not validated."""
    hints = _hints(config_type)
    groups: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {}
    for path, value in values.items():
        head, dot, rest = path.partition(".")
        if dot:
            groups.setdefault(head, {})[rest] = value
        else:
            kwargs[head] = value
    names = {f.name: f for f in dataclasses.fields(config_type) if f.init}
    for head, sub in groups.items():
        if head not in names or not is_part(hints.get(head)):
            raise ConfigError(f"{head}: not a part of {config_type.__name__}: expected one of "
                              f"{', '.join(n for n in names if is_part(hints.get(n)))}")
        part_base = getattr(base, head) if base is not None else _default(names[head])
        kwargs[head] = build(hints[head], sub, base=None if part_base is dataclasses.MISSING else part_base)
    if base is not None:
        return dataclasses.replace(base, **kwargs)
    return config_type(**kwargs)


def get_path(config: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``get_path(cfg, "data.dim")``)."""
    for part in path.split("."):
        config = getattr(config, part)
    return config


def replace_path(config: Any, path: str, value: Any) -> Any:
    """A copy of ``config`` with the value at the dotted ``path`` replaced."""
    head, dot, rest = path.partition(".")
    if not dot:
        return dataclasses.replace(config, **{head: value})
    return dataclasses.replace(config, **{head: replace_path(getattr(config, head), rest, value)})


def validate_parts(config: Any) -> None:
    """Validate every part of ``config`` (each with its own ``validate()``); a part's error names the
    field by its path (``data.dim=0 is out of range ...``)."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value) and hasattr(value, "validate"):
            try:
                value.validate()
            except ConfigError as err:
                message = str(err)
                raise ConfigError(message if message.startswith(f"{f.name}.") else f"{f.name}.{message}") from None


# --------------------------------------------------------------------------------------------
# measurement options from a signature

class Options:
    """Base of the options classes that :func:`options_of` fills from a measurement's signature."""

    _check: Callable[..., None] | None = None

    def validate(self) -> Any:
        """Range checks of the options (the measurement's own ``check``), before any work."""
        if type(self)._check is not None:
            type(self)._check(**self.as_kwargs())  # type: ignore[misc]
        return self

    def as_kwargs(self) -> dict[str, Any]:
        """The options as the measurement's keyword arguments."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    if typing.TYPE_CHECKING:  # the fields come from the signature at run time
        def __init__(self, **options: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...


O = typing.TypeVar("O", bound=Options)


def _annotation(fn: Callable, p: inspect.Parameter) -> Any:
    """The evaluated annotation of one parameter of ``fn`` (only the kept ones are evaluated, so an
    excluded parameter may name a type imported for the type checker alone)."""
    if p.annotation is inspect.Parameter.empty:
        return Any
    if isinstance(p.annotation, str):  # ``from __future__ import annotations``
        return eval(p.annotation, fn.__globals__)  # noqa: S307 - the module's own annotation text
    return p.annotation


def options_of(fn: Callable, *, exclude: tuple[str, ...] = (), check: Callable[..., None] | None = None,
               defaults: dict | None = None) -> Callable[[type[O]], type[O]]:
    """Class decorator: the decorated :class:`Options` subclass becomes a frozen dataclass whose
    fields are the keyword-only parameters of ``fn`` (less ``exclude``), with their annotations,
    defaults (``defaults`` overrides some) and the ``Args:`` documentation of ``fn`` as its
    ``Attributes:``. ``validate()`` calls ``check(**options)`` when given; ``as_kwargs()`` returns
    the options as ``fn``'s keyword arguments. A sequence parameter is a tuple field::

        @options_of(measure_collapse, exclude=("t_ref",), check=check_collapse_options)
        class CollapseOptions(Options):
            \"\"\"The options of measure_collapse.\"\"\"
    """
    sig = inspect.signature(fn)
    docs = doc_entries(fn.__doc__, "Args")
    defaults = defaults or {}
    fields, lines = [], []
    for p in sig.parameters.values():
        if p.kind is not inspect.Parameter.KEYWORD_ONLY or p.name in exclude:
            continue
        default = defaults.get(p.name, p.default)
        if default is inspect.Parameter.empty:
            raise TypeError(f"{fn.__name__}: keyword {p.name!r} has no default: it cannot be an option")
        hint = _annotation(fn, p)
        if hint == ArrayLike:  # an array of numbers option (times, sigmas) is a tuple of floats field
            hint = tuple[float, ...]
            default = tuple(float(v) for v in default)
        elif typing.get_origin(hint) in (collections.abc.Sequence, list):  # a sequence option is a tuple field
            args = typing.get_args(hint)
            hint = tuple[args[0], ...] if args else tuple  # type: ignore[valid-type]
            default = tuple(default)
        fields.append((p.name, hint, dataclasses.field(default=default)))
        lines.append(f"    {p.name}: {docs.get(p.name, p.name.replace('_', ' '))}")

    def decorate(cls: type[O]) -> type[O]:
        head = inspect.cleandoc(cls.__doc__ or f"Options of :func:`{fn.__module__}.{fn.__name__}`.")
        namespace = {"__doc__": head + "\n\nAttributes:\n" + "\n".join(lines), "__module__": cls.__module__,
                     "__qualname__": cls.__qualname__, "_check": staticmethod(check) if check else None}
        return dataclasses.make_dataclass(cls.__name__, fields, bases=(cls,), frozen=True, namespace=namespace)

    return decorate


# --------------------------------------------------------------------------------------------
# the data part



@dataclass(frozen=True)
class DataSpec:
    """The data of a study: a model, its dimension and the training-set size.

    Attributes:
        model: data model: gaussian (isotropic), mixture (two clusters) or hmm (hidden manifold).
        dim: dimension N.
        alpha: load alpha = log(P)/N: P = round(exp(alpha N)) training points (unless n_train is set).
        n_train: training points P (overrides alpha when set).
        sigma: gaussian: standard deviation; mixture: cluster standard deviation (hmm: unused).
        mtilde: mixture: cluster separation, |v|^2 = N mtilde^2 for the centres +-v.
        alpha_d: hmm: latent ratio D/N (D = round(alpha_d N)).
        nonlinearity: hmm: activation phi of the hidden manifold.
    """

    model: DataName = "gaussian"
    dim: int = 20
    alpha: float = 0.2
    n_train: int | None = None
    sigma: float = 1.0
    mtilde: float = 1.0
    alpha_d: float = 0.5
    nonlinearity: Nonlinearity = "linear"

    def validate(self, models: tuple[str, ...] | None = None) -> "DataSpec":
        from diffsim import data

        _validate.choice("model", self.model, models or data.DATA_MODELS)
        _validate.integer("dim", self.dim, minimum=1)
        if self.n_train is None:
            _validate.positive("alpha", self.alpha, upper=MAX_LOAD)
        else:
            _validate.integer("n_train", self.n_train, minimum=2)
        _validate.positive("sigma", self.sigma)
        _validate.positive("mtilde", self.mtilde)
        _validate.positive("alpha_d", self.alpha_d, upper=1.0)
        _validate.choice("nonlinearity", self.nonlinearity, data.NONLINEARITIES)
        return self

    @property
    def n_points(self) -> int:
        """``P``: ``n_train`` when set, else ``round(exp(alpha N))``."""
        from diffsim.data import points_at_load

        return self.n_train if self.n_train is not None else points_at_load(self.alpha, self.dim)

    @property
    def load(self) -> float:
        """The realised load ``log(P) / N``."""
        return math.log(self.n_points) / self.dim

    def make(self, key: Any = None) -> Any:
        """The data model at dimension N (:func:`diffsim.data.make`; hmm features from ``key``)."""
        from diffsim import data

        return data.make(self.model, self.dim, sigma=self.sigma, mtilde=self.mtilde, alpha_d=self.alpha_d,
                         nonlinearity=self.nonlinearity, key=key)


# --------------------------------------------------------------------------------------------
# the sampling part



@dataclass(frozen=True)
class Sampling:
    """How a study samples the backward diffusion: a solver on a time grid.

    Attributes:
        solver: sde (Euler-Maruyama on the backward SDE), ode (Heun on the probability-flow ODE) or
            ddim (deterministic DDIM), where the study's sampler offers it.
        n_steps: sampler steps from t_max to t_min.
        t_max: first sampler time (OU time t).
        t_min: last sampler time (OU time t).
        grid: time grid: log, uniform or edm, where the study's sampler offers it.
    """

    solver: SolverName = "sde"
    n_steps: int = 600
    t_max: float = 5.0
    t_min: float = 1e-3
    grid: GridKind = "log"

    def validate(self, solvers: tuple[str, ...] | None = None, grids: tuple[str, ...] | None = None) -> "Sampling":
        _validate.choice("solver", self.solver, solvers or SOLVERS)
        _validate.integer("n_steps", self.n_steps, minimum=2, maximum=_validate.MAX_STEPS)
        _validate.positive("t_max", self.t_max, upper=50.0)
        _validate.positive("t_min", self.t_min, upper=self.t_max)
        _validate.choice("grid", self.grid, grids or GRID_KINDS)
        return self


def config_json(config: Any) -> dict:
    """A (nested) config as JSON-ready dicts: tuples as lists, parts as tables."""
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(dataclasses.asdict(config))
