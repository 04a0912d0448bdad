"""The study registry: a study registers itself once, where its run function is defined.

    @register_study("collapse", CollapseConfig, description="collapse time by four estimators vs theory",
                    summarize=summarize)
    def run_collapse(config: CollapseConfig, key=None, *, progress=None) -> CollapseResult: ...

Everything that lists studies reads :data:`STUDIES`: ``diffsim run`` (the ``study`` of an experiment
file), the command line (a study without a command of its own gets a generated one), the docs nav
(``docs/hooks.py`` lists each study's page) and the tests that check every study has its command,
page, API entries and figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from diffsim._protocols import StudyConfig, StudyResult, StudyRun

__all__ = ["Study", "STUDIES", "register_study"]

C = TypeVar("C", bound=StudyConfig)
R = TypeVar("R", bound=StudyResult)


@dataclass(frozen=True)
class Study(Generic[C, R]):
    """A registered study: its name, its frozen config type ``C``, its entry point ``run(config: C,
    key=None, *, progress=None) -> R`` and a one-line description; ``summarize(rows, by)``, if any,
    is an analysis over the rows of a sweep's points grouped by the columns ``by``; ``page`` is its
    documentation page ``docs/studies/<page>.md`` (by default its module's name)."""

    name: str
    config_type: type[C]
    run: StudyRun[C, R]
    description: str
    summarize: Callable[[list[dict], tuple[str, ...]], list[dict]] | None = None
    page: str = ""

    @property
    def module(self) -> str:
        """The module that defines the study (``diffsim.studies.collapse``)."""
        return self.run.__module__


STUDIES: dict[str, Study[Any, Any]] = {}


def register_study(name: str, config_type: type[C], *, description: str,
                   summarize: Callable[[list[dict], tuple[str, ...]], list[dict]] | None = None,
                   page: str | None = None) -> Callable[[StudyRun[C, R]], StudyRun[C, R]]:
    """Decorator of a study's run function: registers the study ``name`` (a name used once)."""

    def decorate(run: StudyRun[C, R]) -> StudyRun[C, R]:
        if name in STUDIES and STUDIES[name].run is not run:
            raise ValueError(f"study {name!r} is registered twice ({STUDIES[name].module} and {run.__module__})")
        module = run.__module__.rpartition(".")[2]
        STUDIES[name] = Study(name, config_type, run, description, summarize, page or module)
        return run

    return decorate
