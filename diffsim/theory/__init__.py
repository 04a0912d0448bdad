"""Closed-form theory in float64 NumPy (THEORY.md sections 2-7). Every closed form of the package is here.

* :mod:`~diffsim.theory.spectrum`: :class:`Spectrum`, the spectral measure every formula depends on
  (empirical, isotropic, Marchenko-Pastur for the linear hidden-manifold model).
* :mod:`~diffsim.theory.collapse`: ``rho_i(t)``, excess entropy, collapse time ``t_C`` and trap onset ``t_o``.
* :mod:`~diffsim.theory.separation`: the DSM loss gap of the true score (a Fisher divergence) in the
  condensed and dilute regimes, the collapse time of a training-set size (THEORY.md section 10).
* :mod:`~diffsim.theory.speciation`: speciation time and the two-cluster clone agreement ``phi(t)``.
* :mod:`~diffsim.theory.rem`: random-energy-model statistics of the posterior weights.
* :mod:`~diffsim.theory.traps`: basin radius of the training points.
* :mod:`~diffsim.theory.generalization`: the KDE generalization error ``G(t)`` on the latent subspace
  and its minimiser ``t_g`` (THEORY.md section 7).
* :mod:`~diffsim.theory.geometry`: exact finite-N expected shell coverage (isotropic and any spectrum),
  the generalized chi-square CDF, the collapse point in the sigma clock (THEORY.md section 8).
* :mod:`~diffsim.theory.guidance`: classifier-free guidance: the large-t overestimation limit and the
  one-point DDIM weights against the schedule (THEORY.md section 9).
* :mod:`~diffsim.theory.hmm`: hidden-manifold activation moments, Gaussian-equivalent and asymptotic spectra,
  collapse times of the linear / Gaussian-equivalent / isotropic models.

Conventions: ``m_t = exp(-t)``, ``Delta_t = 1 - exp(-2t)``, load ``alpha = log(P) / N``.
"""

from diffsim.theory.collapse import (
    collapse_time,
    collapse_time_hmm_linear,
    collapse_time_isotropic,
    excess_entropy,
    mutual_information,
    rho,
    signal_fraction,
    trap_onset_time,
)
from diffsim.theory.geometry import (
    collapse_sigma,
    coverage_edge_isotropic,
    coverage_edge_spectrum,
    coverage_isotropic,
    coverage_spectrum,
    gaussian_moments,
    generalized_chi2_cdf,
    linearity_gap_leading,
    shell_radii_squared,
    wiener_denoiser,
)
from diffsim.theory.generalization import gaussian_entropy, generalization_error, generalization_time, latent_spectrum
from diffsim.theory.guidance import (
    one_point_ddim_weights,
    one_point_deviations,
    overestimation_limit,
    schedule_deviations,
)
from diffsim.theory.hmm import (
    NONLINEARITIES,
    Nonlinearity,
    ActivationMoments,
    activation_moments,
    asymptotic_spectrum,
    gaussian_equivalent_spectrum,
    hmm_collapse_theory,
)
from diffsim.theory.rem import (
    condensation_point,
    free_energy,
    mean_y2,
    rem_entropy,
    rem_theory,
    rem_phi,
    rem_phi_derivative,
    weight_entropy,
    weight_entropy_condensed,
)
from diffsim.theory.separation import (
    collapse_time_of_size,
    condensed_gap_limit,
    condensed_gap_ratio,
    dilute_time,
    loss_gap_condensed,
    loss_gap_dilute,
)
from diffsim.theory.speciation import (
    clone_agreement_at_speciation,
    speciation_time,
    two_cluster_clone_agreement,
    two_cluster_largest_eigenvalue,
)
from diffsim.theory.spectrum import Spectrum
from diffsim.theory.traps import basin_radius, basin_radius_annealed, traps_theory

__all__ = [
    "Spectrum",
    "rho",
    "mutual_information",
    "signal_fraction",
    "excess_entropy",
    "collapse_time",
    "collapse_time_isotropic",
    "collapse_time_hmm_linear",
    "trap_onset_time",
    "speciation_time",
    "two_cluster_largest_eigenvalue",
    "two_cluster_clone_agreement",
    "clone_agreement_at_speciation",
    "rem_phi",
    "rem_phi_derivative",
    "rem_entropy",
    "condensation_point",
    "mean_y2",
    "free_energy",
    "weight_entropy",
    "weight_entropy_condensed",
    "basin_radius_annealed",
    "basin_radius",
    "NONLINEARITIES",
    "Nonlinearity",
    "ActivationMoments",
    "activation_moments",
    "gaussian_equivalent_spectrum",
    "asymptotic_spectrum",
    "hmm_collapse_theory",
    "rem_theory",
    "traps_theory",
    "latent_spectrum",
    "gaussian_entropy",
    "generalization_error",
    "generalization_time",
    "collapse_sigma",
    "coverage_isotropic",
    "coverage_spectrum",
    "coverage_edge_isotropic",
    "coverage_edge_spectrum",
    "generalized_chi2_cdf",
    "shell_radii_squared",
    "wiener_denoiser",
    "gaussian_moments",
    "linearity_gap_leading",
    "overestimation_limit",
    "one_point_ddim_weights",
    "one_point_deviations",
    "schedule_deviations",
    "condensed_gap_ratio",
    "condensed_gap_limit",
    "loss_gap_condensed",
    "loss_gap_dilute",
    "collapse_time_of_size",
    "dilute_time",
]
