"""Figures drawn from study results (PNG, PDF or SVG by the path's suffix).

Figures are :class:`matplotlib.figure.Figure` objects made without pyplot: importing this package
selects no backend and keeps no global figure state, so it is safe in notebooks and GUI sessions.
Saved files carry their provenance (command line, diffsim version, git commit, config hash) in the
file's own metadata (PNG text chunks, PDF info dictionary, SVG description), not in a title.

Modules, one per family of studies: :mod:`diffsim.plot.core` (collapse, speciation),
:mod:`diffsim.plot.hmm` (hidden manifold, REM, traps, generalization), :mod:`diffsim.plot.nets`
(trained denoisers), :mod:`diffsim.plot.guidance`.
"""

from diffsim.plot._base import STYLE, colormap, provenance, save_figure, style, subplots
from diffsim.plot.core import plot_collapse, plot_speciation

__all__ = ["plot_collapse", "plot_speciation", "save_figure", "subplots", "colormap", "provenance", "style", "STYLE"]
