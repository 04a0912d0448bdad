"""Studies: each scientific question as a function from a frozen config to a result table.

A :class:`Study` names a frozen config dataclass (with ``validate()``) and a ``run(config, key)``
returning a result whose ``rows()`` is a tidy table (a list of flat dicts) and whose ``to_json()``
is one JSON object. The CLI and the sweep runner only call studies through this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from diffsim._protocols import StudyConfig, StudyResult, StudyRun

from diffsim.studies.collapse import CollapseConfig, run_collapse, summarize as summarize_collapse
from diffsim.studies.denoiser import DenoiserConfig, run_denoiser
from diffsim.studies.geometry import GeometryConfig, SwapConfig, run_geometry, run_swap
from diffsim.studies.geometry_nets import MitigationConfig, NetSwapConfig, run_mitigation, run_net_swap
from diffsim.studies.guidance import GuidanceConfig, run_guidance
from diffsim.studies.separation import LossGapConfig, run_loss_gap
from diffsim.studies.separation_pruning import PruneConfig, run_prune
from diffsim.studies.separation_size import SizeConfig, run_size
from diffsim.studies.generalization import GeneralizationConfig, run_generalization
from diffsim.studies.hmm_collapse import HmmCollapseConfig, extrapolated_rows, run_hmm_collapse
from diffsim.studies.rem import RemConfig, run_rem
from diffsim.studies.speciation import SpeciationConfig, run_speciation
from diffsim.studies.traps import TrapsConfig, run_traps

__all__ = ["Study", "StudyRun", "STUDIES", "register_study"]

C = TypeVar("C", bound=StudyConfig)
R = TypeVar("R", bound=StudyResult)


@dataclass(frozen=True)
class Study(Generic[C, R]):
    """A registered study: its name, its frozen config type ``C``, its entry point ``run(config: C,
    key=None, *, progress=None) -> R`` and a one-line description; ``summarize(rows, by)``, if any,
    is an analysis over the rows of a sweep's points grouped by the columns ``by``."""

    name: str
    config_type: type[C]
    run: StudyRun[C, R]
    description: str
    summarize: Callable[[list[dict], tuple[str, ...]], list[dict]] | None = None


STUDIES: dict[str, Study[Any, Any]] = {}


def register_study(study: Study[C, R]) -> Study[C, R]:
    STUDIES[study.name] = study
    return study


register_study(Study("collapse", CollapseConfig, run_collapse, "collapse time by four estimators vs theory",
                     summarize_collapse))
register_study(Study("speciation", SpeciationConfig, run_speciation, "speciation phi(t) by clones vs theory"))
register_study(Study("hmm_collapse", HmmCollapseConfig, run_hmm_collapse,
                     "collapse time on the hidden manifold (linear, nonlinear, Gaussian) vs Marchenko-Pastur theory",
                     lambda rows, by: extrapolated_rows(rows)))
register_study(Study("rem", RemConfig, run_rem, "REM statistics of the posterior weights (Y2, log Z) vs theory"))
register_study(Study("traps", TrapsConfig, run_traps, "trap fraction vs t_o, basin radius vs r_b(t), spurious states"))
register_study(Study("generalization", GeneralizationConfig, run_generalization,
                     "generalization time t_g (KL on the manifold) vs t_C over alpha_d"))
register_study(Study("denoiser", DenoiserConfig, run_denoiser,
                     "trained denoisers vs empirical and true scores; tau_gen, tau_mem over P"))
register_study(Study("geometry", GeometryConfig, run_geometry,
                     "posterior concentration W and shell coverage C vs sigma; sigma_cov, sigma_w, danger zone vs exact "
                     "coverage theory and sigma_C"))
register_study(Study("geometry_swap", SwapConfig, run_swap,
                     "exact true/empirical scores swapped inside sigma windows placed from the measured boundaries: "
                     "memorized fraction"))
register_study(Study("geometry_net_swap", NetSwapConfig, run_net_swap,
                     "memorizing (few-point) and generalizing (many-point) trained nets, and exact scores, swapped "
                     "inside sigma windows from the measured boundaries: memorized fraction per window"))
register_study(Study("geometry_mitigation", MitigationConfig, run_mitigation,
                     "DSM training that undertrains one sigma window vs the standard schedule at equal steps: "
                     "memorized fraction, score error, sliced Wasserstein"))
register_study(Study("guidance", GuidanceConfig, run_guidance,
                     "classifier-free guidance on class-conditional data: overestimation, D1/D2 vs schedule, "
                     "guidance-magnitude AUC, memorization and collapse time vs g"))
register_study(Study("separation_loss_gap", LossGapConfig, run_loss_gap,
                     "loss gap l_t(s_true) - l_t(s_e) vs Fisher divergence per t at one (data, N, P)"))
register_study(Study("separation_size", SizeConfig, run_size,
                     "smallest MLP width that memorizes / fits s_e / fits s_true at one (data, N, P)"))
register_study(Study("separation_pruning", PruneConfig, run_prune,
                     "importance vs random vs no head pruning of a trained transformer: memorized fraction, quality"))
