"""Figures drawn from study results and result tables (PNG, PDF or SVG by the path's suffix).

Every figure is built the same way: ``draw_<panel>(ax, rows, *, options)`` functions draw one panel
on a matplotlib ``Axes`` from a result table (:class:`diffsim.results.Table`) or a list of row dicts
(a study result's ``rows()``), and a ``<name>_figure(...)`` function composes them and returns the
:class:`matplotlib.figure.Figure`, in the one diffsim :data:`STYLE`. The ``plot_*(results, path)``
functions of the commands' ``--figure`` save such a figure. The scripts in ``paper_figures/`` only
load tables, call a ``*_figure`` function and save.

Figures are made without pyplot: importing this package selects no backend and keeps no global
figure state, so it is safe in notebooks and GUI sessions. Saved files carry their provenance
(command line, diffsim version, git commit, config hash, caption) in the file's own metadata (PNG
text chunks, PDF info dictionary, SVG description), never in a title. Power laws are fitted and drawn
only through at least three points (``MIN_FIT_POINTS``); a line through two is labelled as such.

Modules, one per family of studies: :mod:`diffsim.plot.collapse` (collapse time, excess entropy),
:mod:`diffsim.plot.speciation`, :mod:`diffsim.plot.hmm` (hidden manifold, REM, traps,
generalization), :mod:`diffsim.plot.nets` (trained denoisers), :mod:`diffsim.plot.guidance`,
:mod:`diffsim.plot.geometry` (danger zone, window swaps, mitigation), :mod:`diffsim.plot.separation`
(loss gap, width vs P, pruning).
"""

from diffsim.plot._base import MIN_FIT_POINTS, STYLE, colormap, provenance, save_figure, style, subplots
from diffsim.plot._seeds import seed_mean
from diffsim.plot.collapse import collapse_figure, collapse_vs_n_figure, excess_entropy_figure, plot_collapse
from diffsim.plot.geometry import geometry_figure, geometry_mitigation_figure, geometry_swap_figure
from diffsim.plot.guidance import guidance_figure
from diffsim.plot.hmm import (
    basin_radius_figure,
    generalization_time_figure,
    hmm_phase_diagram_figure,
    rem_y2_figure,
    trap_fraction_figure,
)
from diffsim.plot.nets import (
    memorization_dynamics_figure,
    memorization_vs_capacity_figure,
    score_errors_figure,
    tau_mem_scaling_figure,
)
from diffsim.plot.separation import separation_loss_gap_figure, separation_pruning_figure, separation_size_figure
from diffsim.plot.speciation import plot_speciation, speciation_figure

__all__ = [
    # plumbing
    "STYLE", "style", "subplots", "MIN_FIT_POINTS", "colormap", "provenance", "save_figure", "seed_mean",
    # figures
    "collapse_figure", "collapse_vs_n_figure", "excess_entropy_figure", "speciation_figure",
    "rem_y2_figure", "trap_fraction_figure", "basin_radius_figure", "hmm_phase_diagram_figure",
    "generalization_time_figure",
    "memorization_dynamics_figure", "score_errors_figure", "memorization_vs_capacity_figure", "tau_mem_scaling_figure",
    "guidance_figure", "geometry_figure", "geometry_swap_figure", "geometry_mitigation_figure",
    "separation_loss_gap_figure", "separation_pruning_figure", "separation_size_figure",
    # the commands' --figure
    "plot_collapse", "plot_speciation",
]
