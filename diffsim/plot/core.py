"""Figures of the collapse and speciation studies: :mod:`diffsim.plot.collapse` and
:mod:`diffsim.plot.speciation`, re-exported here (``plot_collapse``, ``plot_speciation``, the
``draw_*`` panels and the ``*_figure`` functions)."""

from diffsim.plot.collapse import (
    MIN_FIT_POINTS, collapse_figure, collapse_vs_n_figure, draw_collapse_vs_n, draw_condensed_fraction,
    draw_excess_entropy, excess_entropy_figure, plot_collapse,
)
from diffsim.plot.speciation import draw_phi, draw_speciation_time, plot_speciation, speciation_figure

__all__ = [
    "plot_collapse", "plot_speciation", "collapse_figure", "collapse_vs_n_figure", "excess_entropy_figure",
    "speciation_figure", "draw_excess_entropy", "draw_condensed_fraction", "draw_collapse_vs_n", "draw_phi",
    "draw_speciation_time", "MIN_FIT_POINTS",
]
