"""Studies: each scientific question as a declaration over the library, one config = one point.

A study module declares its config (built from the shared parts of :mod:`diffsim.specs`), the
measurement it calls and its rows, and registers its run function once with
:func:`register_study`; every module of this package is imported here, so :data:`STUDIES` lists
them all without a list to edit. The CLI and the sweep runner only call studies through it.
"""

from __future__ import annotations

import importlib
import pkgutil

from diffsim._protocols import StudyRun
from diffsim.studies._registry import STUDIES, Study, register_study

__all__ = ["Study", "StudyRun", "STUDIES", "register_study"]

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
