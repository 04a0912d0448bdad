"""Studies: each scientific question as a function from a frozen config to a result table.

A :class:`Study` names a frozen config dataclass (with ``validate()``) and a ``run(config, key)``
returning a result whose ``rows()`` is a tidy table (a list of flat dicts) and whose ``to_json()``
is one JSON object. The CLI and the sweep runner only call studies through this registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from diffsim.studies.collapse import CollapseConfig, run_collapse
from diffsim.studies.speciation import SpeciationConfig, run_speciation

__all__ = ["Study", "STUDIES", "register_study"]


@dataclass(frozen=True)
class Study:
    name: str
    config_type: type
    run: Callable[[Any, Any], Any]
    description: str


STUDIES: dict[str, Study] = {}


def register_study(study: Study) -> Study:
    STUDIES[study.name] = study
    return study


register_study(Study("collapse", CollapseConfig, run_collapse, "collapse time by four estimators vs theory"))
register_study(Study("speciation", SpeciationConfig, run_speciation, "speciation phi(t) by clones vs theory"))
