"""Plumbing shared by the figure scripts: arguments, result tables, saving (the drawing is in :mod:`diffsim.plot`).

A figure script reads result tables only (``results/<experiment>/<scale>/table.csv`` through
:func:`diffsim.results.load_results`); it never runs a simulation. Closed-form theory curves come from
:mod:`diffsim.theory` or from the tables' ``theory/*`` rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

from diffsim.config import check_table_schema
from diffsim.plot import provenance, save_figure
from diffsim.results import load_results

GALLERY_DPI = 150
FIGURE_DPI = 150


_LOADED: list = []  # the results a script read: their config hashes go into the files' metadata


def parse_args(doc: str) -> argparse.Namespace:
    """The figure scripts' arguments. A script draws into files only, so the backend is chosen here,
    when the script runs, not when a module is imported."""
    matplotlib.use("Agg")
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--results", default="results", help="results root: RESULTS/<experiment>/<scale> [results]")
    parser.add_argument("--scale", default="quick", help="scale of the experiments: quick or paper [quick]")
    parser.add_argument("--out", help="figure directory [figures/<scale>]")
    parser.add_argument("--gallery", help="also write a small PNG here (README gallery)")
    return parser.parse_args()


def load(args, experiment: str):
    """The complete results of ``experiment`` at ``args.scale``; results written with an older table
    schema are refused (:func:`diffsim.config.check_table_schema`)."""
    directory = Path(args.results) / experiment / args.scale
    results = load_results(directory)
    check_table_schema(results.metadata, directory)
    _LOADED.append(results)
    return results


def save(fig, name: str, args, caption: str | None = None) -> list[Path]:
    """Write ``<out>/<name>.png`` and ``.pdf`` (and a small gallery PNG), each atomically and with
    its provenance in the file's metadata (command, git commit, config hashes of the results read,
    and the ``caption``: by default the :func:`scale_note` of every result read); print the paths
    and the caption. Provenance goes into the metadata and the caption, never into a title."""
    out = Path(args.out) if args.out else Path("figures") / args.scale
    targets = [(out / f"{name}.png", FIGURE_DPI), (out / f"{name}.pdf", FIGURE_DPI)]
    if args.gallery:
        targets.append((Path(args.gallery) / f"{name}.png", GALLERY_DPI))
    hashes = ",".join(dict.fromkeys(f"{r.metadata['experiment']}:{r.metadata['config_hash']}" for r in _LOADED))
    if caption is None:
        caption = "; ".join(dict.fromkeys(scale_note(r) for r in _LOADED)) or None
    info = provenance(config_hash=hashes or None, caption=caption)
    written = []
    for path, dpi in targets:
        save_figure(fig, path, dpi=dpi, metadata=info)
        written.append(path)
        print(path)
    if caption:
        print(f"caption: {caption}")
    sys.stdout.flush()
    return written


def scale_note(results) -> str:
    """A short provenance line for a figure: experiment, scale, seeds, commit."""
    meta = results.metadata
    commit = (meta["environment"].get("git_commit") or "unknown")[:8]
    return f"{meta['experiment']} ({meta['scale']} scale, seeds {meta['config']['seeds']}, diffsim {commit})"


def denoiser_result(results, cell: int = 0, seed: int | None = None):
    """The :class:`~diffsim.studies.denoiser.DenoiserResult` of one (cell, seed) unit of a denoiser
    experiment, rebuilt from its table rows (seed: the experiment's first by default)."""
    from diffsim.studies.denoiser import DenoiserResult

    seed = results.metadata["config"]["seeds"][0] if seed is None else seed
    rows = results.table.where(cell=cell, seed=seed).rows
    return DenoiserResult.from_rows({**results.cell_config(cell), "seed": seed}, rows)
