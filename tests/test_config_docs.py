"""Every study config documents every field (the generated CLI's help) and types its choices.

``diffsim.cli_config`` reads each option's help from the ``Attributes:`` section of the config's
docstring and each option's choices from ``Literal`` annotations; these tests keep the docstrings
complete and the ``Literal`` choices equal to what ``validate()`` accepts.
"""

from __future__ import annotations

import dataclasses
import typing

import pytest

from diffsim import specs
from diffsim._validate import ConfigError
from diffsim.cli_config import field_docs
from diffsim.nets.models import ModelConfig
from diffsim.nets.train import TrainConfig
from diffsim.studies import STUDIES

STUDY_CONFIGS = sorted({s.config_type for s in STUDIES.values()}, key=lambda c: c.__name__)


def _parts(config_type) -> list[type]:
    """The config parts (nested dataclasses) of a study config, depth first."""
    hints = typing.get_type_hints(config_type)
    found = []
    for f in dataclasses.fields(config_type):
        if specs.is_part(hints.get(f.name)):
            found += [hints[f.name], *_parts(hints[f.name])]
    return found


PARTS = sorted({p for c in STUDY_CONFIGS for p in _parts(c)} | {ModelConfig, TrainConfig, specs.DataSpec, specs.Sampling},
               key=lambda c: c.__name__)
CONFIGS = STUDY_CONFIGS + PARTS

# Fields checked by validate() only in a given context: none now (DataSpec checks the HMM
# nonlinearity, data.nonlinearity, whatever the model).
CONTEXT: dict = {}


def _literal_fields(config_type):
    """``(name, choices, is_tuple)`` of every field annotated ``Literal[...]`` or ``tuple[Literal[...], ...]``."""
    out = []
    for name, hint in typing.get_type_hints(config_type).items():
        is_tuple = typing.get_origin(hint) is tuple
        item = typing.get_args(hint)[0] if is_tuple else hint
        if typing.get_origin(item) is typing.Literal:
            out.append((name, typing.get_args(item), is_tuple))
    return out


def _validate(config):
    return config.validate() if not isinstance(config, ModelConfig) else config.validate(8)


def test_study_configs_are_all_covered():
    assert len(STUDY_CONFIGS) == 15


@pytest.mark.parametrize("config_type", CONFIGS, ids=lambda c: c.__name__)
def test_every_field_is_documented(config_type):
    docs = field_docs(config_type)
    names = [f.name for f in dataclasses.fields(config_type)]
    assert not set(docs) - set(names), f"documented but not fields: {sorted(set(docs) - set(names))}"
    missing = [n for n in names if not docs.get(n, "").strip()]
    assert not missing, f"fields without an Attributes entry: {missing}"
    assert list(docs) == names, "Attributes entries are not in field order"
    for name, text in docs.items():
        assert "default" not in text.lower(), f"{name}: the CLI appends the default itself"


@pytest.mark.parametrize("config_type", CONFIGS, ids=lambda c: c.__name__)
def test_literal_fields_match_validate(config_type):
    """Every choice of a Literal field constructs and is accepted by validate() (an error naming
    another field is allowed: some choices need other fields changed); a value outside the
    choices is refused by validate() with an error naming the field."""
    default = config_type()
    for name, choices, is_tuple in _literal_fields(config_type):
        context = CONTEXT.get((config_type.__name__, name), {})
        for choice in choices:
            config = dataclasses.replace(default, **context, **{name: (choice,) if is_tuple else choice})
            try:
                _validate(config)
            except ConfigError as err:
                assert not str(err).startswith(f"{name}="), f"{name}={choice!r} is a Literal choice but: {err}"
        bad = "not_a_choice"
        config = dataclasses.replace(default, **context, **{name: (bad,) if is_tuple else bad})
        with pytest.raises(ConfigError, match=f"^{name}="):
            _validate(config)


def test_choice_fields_are_literals():
    """A str field (or tuple of str) whose validate() checks a fixed set is annotated Literal: a
    nonsense value of a plain str field is never refused by a check naming that field."""
    for config_type in CONFIGS:
        hints = typing.get_type_hints(config_type)
        default = config_type()
        for name, hint in hints.items():
            if hint is str or hint == tuple[str, ...]:
                value = ("not_a_choice",) if hint != str else "not_a_choice"
                for context in ({}, {"data": "hmm"} if "data" in hints else {}):
                    try:
                        _validate(dataclasses.replace(default, **context, **{name: value}))
                    except ConfigError as err:
                        assert not str(err).startswith(f"{name}="), f"{config_type.__name__}.{name} has choices: {err}"


def test_shared_aliases_are_the_validated_tuples():
    from diffsim import data
    from diffsim.data.conditional import CONDITIONAL_DATA
    from diffsim.solvers import SOLVERS
    from diffsim.process import GRID_KINDS
    from diffsim import specs
    from diffsim.studies import guidance

    assert typing.get_args(data.Nonlinearity) == data.NONLINEARITIES == ("linear", "tanh", "sign", "relu")
    assert typing.get_args(data.DataName) == data.DATA_MODELS
    assert set(CONDITIONAL_DATA) <= set(data.DATA_MODELS)
    hints = typing.get_type_hints(specs.Sampling)
    assert set(typing.get_args(hints["solver"])) == set(SOLVERS)
    assert typing.get_args(hints["grid"]) == GRID_KINDS
    assert typing.get_type_hints(specs.DataSpec)["model"] == data.DataName
    with pytest.raises(ConfigError, match="data.model"):  # the guidance study takes the conditional data only
        guidance.GuidanceConfig(data=specs.DataSpec(model="gaussian")).validate()
    from diffsim.studies import geometry

    assert set(typing.get_args(geometry.Method)) <= set(SOLVERS)
    from diffsim.studies import hmm_collapse

    assert hmm_collapse.MODELS == data.NONLINEARITIES + ("gaussian",)  # the models' order keys the seeds
