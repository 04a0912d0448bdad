"""Sweep commands: ``run`` (an experiment config), ``merge`` (shard parts), ``figures`` (paper figures).

    diffsim run CONFIG [KEY=VALUE ...] [--out DIR] [--scale quick|paper] [--shard I/N|slurm]
                       [--resume] [--dry-run]
    diffsim merge PATH [PATH ...] [--out DIR]
    diffsim figures [NAME ...] [--scale quick|paper] [--gallery DIR]

Compiled XLA programs are cached on disk (``$DIFFSIM_COMPILE_CACHE``, default
``~/.cache/diffsim/jax``; ``off`` disables it, and an explicit ``JAX_COMPILATION_CACHE_DIR`` wins), so
resumed runs, shards and repeated figure builds do not pay the compile time again.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from diffsim._validate import ConfigError
from diffsim.cli_util import add_output_flags, check_output_path, emit
from diffsim.progress import Progress


def register(sub) -> None:
    p = sub.add_parser("run", help="run an experiment config (a sweep of cells x seeds) into a results table")
    p.add_argument("config", help="experiment TOML file (experiments/*.toml)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="override a study parameter, an axis (dim=[8,12]) or seeds=[0,1], checked like the TOML "
                        "file's values (VALUE is read as TOML; a bare word is a string)")
    p.add_argument("--out", help="results directory [results/<name>/<scale>]")
    p.add_argument("--scale", default="quick", help="named scale of the config: quick or paper [quick]")
    p.add_argument("--shard", help="run only part I of N of the cells (1 <= I <= N), into OUT/shard-I-of-N/; "
                                   "'slurm' takes I and N from a job array's SLURM_ARRAY_TASK_ID (0-based) and "
                                   "SLURM_ARRAY_TASK_COUNT (or _MAX)")
    p.add_argument("--resume", action="store_true", help="complete a killed or partial run (finished cells are kept)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the cells, units and memory estimate; run and write nothing")
    add_output_flags(p)
    p.set_defaults(handler=_run)

    p = sub.add_parser("merge", help="join the shard parts of a sharded run and check completeness")
    p.add_argument("paths", nargs="+", help="shard directories, or folders holding shard-I-of-N directories")
    p.add_argument("--out", help="merged results directory [the folder holding the shards]")
    add_output_flags(p)
    p.set_defaults(handler=_merge)

    p = sub.add_parser("figures", help="draw the paper figures, running missing experiments first")
    p.add_argument("names", nargs="*", help="figure names (paper_figures/NAME.py) [all]")
    p.add_argument("--scale", default="quick", help="scale of the experiments behind the figures: quick or paper [quick]")
    p.add_argument("--results", default="results", help="results root: RESULTS/<experiment>/<scale> [results]")
    p.add_argument("--out", help="figure directory [figures/<scale>]")
    p.add_argument("--gallery", help="also write small PNGs here (the README gallery, e.g. docs/gallery)")
    p.add_argument("--experiments", help="folder of experiment configs [experiments]")
    p.add_argument("--scripts", help="folder of figure scripts [paper_figures]")
    p.add_argument("--rerun-stale", action="store_true",
                   help="rerun experiments whose results come from another version of their config "
                        "(the old results are moved to DIR.stale-HASH) instead of stopping")
    add_output_flags(p)
    p.set_defaults(handler=_figures)


# --------------------------------------------------------------------------------------------


def enable_compile_cache() -> str | None:
    """Turn on JAX's persistent compilation cache (see the module docstring); return its folder."""
    import jax

    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return os.environ["JAX_COMPILATION_CACHE_DIR"]
    target = os.environ.get("DIFFSIM_COMPILE_CACHE")
    if target is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        target = os.path.join(base, "diffsim", "jax")
    if target.strip().lower() in ("", "0", "off", "none", "false"):
        return None
    # jax.config's options are attributes made at run time, unknown to its type stubs
    if jax.config.jax_compilation_cache_dir is None:  # type: ignore[attr-defined]
        jax.config.update("jax_compilation_cache_dir", target)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]


def _run(args) -> int:
    from diffsim.config import load_experiment, parse_overrides
    from diffsim.sweep import Shard, plan, run_experiment

    overrides = parse_overrides(args.overrides)
    shard = Shard.from_option(args.shard)
    if args.out is not None:
        check_output_path(args.out, "--out", kind="dir")
    experiment = load_experiment(args.config, args.scale, overrides=overrides)
    out = Path(args.out) if args.out else Path("results") / experiment.name / experiment.scale
    check_output_path(out, "--out", kind="dir")
    if args.dry_run:
        return _dry_run(plan(experiment, out, shard=shard), args.json)
    enable_compile_cache()
    start = time.perf_counter()
    meta = run_experiment(experiment, out, shard=shard, resume=args.resume, quiet=args.quiet)
    directory = out / f"shard-{shard.index}-of-{shard.count}" if shard else out
    payload = {
        "experiment": experiment.name,
        "scale": experiment.scale,
        "directory": str(directory),
        "table": str(directory / meta["table"]),
        "rows": meta["rows"],
        "cells_done": meta["units_done"],
        "cells_expected": meta["units_expected"],
        "cells_run_now": meta["units_run_last"],
        "complete": meta["complete"],
        "config_hash": meta["config_hash"],
        "wall_s": round(time.perf_counter() - start, 3),
    }
    lines = [
        f"{experiment.name} ({experiment.study}, {experiment.scale}): {meta['units_done']}/{meta['units_expected']} "
        f"cells, {meta['units_run_last']} run now in {payload['wall_s']:.1f}s",
        f"table: {payload['table']} ({meta['rows']} rows)",
    ]
    if shard:
        lines.append(f"merge the shards with: diffsim merge {out}")
    emit(payload, "\n".join(lines), args.json)
    return 0


def _gib(n) -> str:
    return "no estimate" if n is None else f"{n / 2**30:.3g} GiB"


def _duration(seconds) -> str:
    if seconds is None:
        return "no estimate yet"
    return f"{seconds:.0f} s" if seconds < 120 else (f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h")


def _dry_run(info: dict, as_json: bool) -> int:
    lines = [
        f"{info['experiment']} ({info['study']}, {info['scale']}), config hash {info['config_hash']}: dry run, "
        "nothing run or written",
        f"directory: {info['directory']}" + (f" (shard {info['shard']})" if info["shard"] else ""),
        f"cells: {info['cells']} x seeds {info['seeds']} -> {info['units']} units"
        + (f" in this shard" if info["shard"] else "") + f", {info['units_done']} already done",
        f"memory: largest cell needs {_gib(info['memory_bytes_max'])} "
        f"(this machine: {_gib(info['memory_available_bytes'])})",
    ]
    unknown = info["cells_without_estimate"]
    if len(unknown) == info["cells"] and info["units"] > info["units_done"]:
        lines.append("time: no estimate yet: no unit has finished in this directory (run one seed or one shard "
                     "into it and ask again; seeds of one cell take the same time)")
    else:
        lines.append(f"time: about {_duration(info['seconds_left_known'])} left"
                     + (f", plus {len(unknown)} cell(s) with no finished unit yet" if unknown else ""))
    if info["other_config_in_directory"]:
        lines.append("warning: the directory holds results of another config: the run would be refused")
    if info["locked_by"]:
        lines.append(f"warning: the directory is locked by pid {info['locked_by'].get('pid')} on "
                     f"{info['locked_by'].get('host')}")
    for c in info["per_cell"]:
        axes = ", ".join(f"{k}={v}" for k, v in c["axes"].items()) or "the only cell"
        timing = (f", {c['units_left']} unit(s) left, {_duration(c['seconds_left'])}" if c["units_left"] or
                  c["seconds_per_unit"] is not None else ", done")
        lines.append(f"  cell {c['cell']:>4}: {axes}: {_gib(c['memory_bytes'])}{timing}")
    emit(info, "\n".join(lines), as_json)
    return 0


def _merge(args) -> int:
    from diffsim.results import merge_results

    paths = [Path(p) for p in args.paths]
    if args.out:
        out = check_output_path(args.out, "--out", kind="dir")
    elif len(paths) == 1:
        from diffsim.results import read_metadata

        meta = read_metadata(paths[0])
        out = paths[0].parent if meta is not None and meta.get("shard") else paths[0]
    else:
        raise ConfigError("--out is missing: give it when merging shards from several folders")
    check_output_path(out, "--out", kind="dir")
    meta = merge_results(paths, out, summarize=_summarizer(paths))
    payload = {"directory": str(out), "table": str(out / meta["table"]), "rows": meta["rows"],
               "cells": meta["units_done"], "config_hash": meta["config_hash"], "complete": meta["complete"]}
    emit(payload, f"merged {len(meta['merged_from'])} shards: {payload['table']} ({meta['rows']} rows, {meta['units_done']} cells)", args.json)
    return 0


def _summarizer(paths):
    """The study's analysis over points, read from the first shard's metadata (None if unknown)."""
    from diffsim.results import read_metadata
    from diffsim.results._merge import _expand_sources
    from diffsim.studies import STUDIES

    for d in _expand_sources(paths):
        meta = read_metadata(d)
        if meta is not None and meta.get("config", {}).get("study") in STUDIES:
            return STUDIES[meta["config"]["study"]].summarize
    return None


# --------------------------------------------------------------------------------------------
# figures


def _default_dir(name: str) -> Path:
    """``./name`` if it exists, else the folder beside the diffsim package (a source checkout)."""
    here = Path(name)
    if here.is_dir():
        return here
    import diffsim

    return Path(diffsim.__file__).resolve().parents[1] / name


def figure_scripts(folder: Path) -> dict[str, Path]:
    """``{name: path}`` of the figure scripts in ``folder`` (``*.py`` not starting with ``_``)."""
    if not folder.is_dir():
        raise ConfigError(f"scripts={str(folder)!r} is not a folder: expected the paper_figures directory")
    return {p.stem: p for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")}


def figure_experiments(script: Path) -> tuple[str, ...]:
    """The ``EXPERIMENTS = (...)`` tuple a figure script declares (read without running it)."""
    tree = ast.parse(script.read_text(), filename=str(script))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "EXPERIMENTS" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise ConfigError(f"{script} declares no EXPERIMENTS = (...): a figure script names the experiments it reads")


def ensure_experiments(names, scale: str, exp_dir: Path, root: Path, *, rerun_stale: bool = False,
                       quiet: bool = False) -> list[str]:
    """Make ``root/<name>/<scale>`` complete for every experiment ``name`` (config
    ``exp_dir/<name>.toml``): all configs are validated first, then missing or partial results are
    run (resumed); complete results of the same config are left alone. Results of another config
    hash stop the command, or with ``rerun_stale`` are moved to ``<dir>.stale-<hash>`` and rerun.
    Returns the names run."""
    from diffsim import results
    from diffsim.config import check_table_schema, load_experiment
    from diffsim.sweep import run_experiment

    experiments, errors = {}, []
    for name in names:
        try:
            experiments[name] = load_experiment(exp_dir / f"{name}.toml", scale)
        except ConfigError as err:
            errors.append(str(err))
    if errors:
        raise ConfigError("\n".join(errors))
    ran = []
    for name, experiment in experiments.items():
        directory = root / name / scale
        meta = results.read_metadata(directory)
        if meta is not None and meta.get("config_hash") == experiment.hash and meta.get("complete"):
            continue
        if meta is not None and meta.get("config_hash") != experiment.hash:
            if not rerun_stale:
                check_table_schema(meta, directory)
                raise ConfigError(
                    f"{directory} holds results of another version of {exp_dir / (name + '.toml')} or of "
                    f"its study (hash {meta.get('config_hash')}, now {experiment.hash}): pass --rerun-stale, "
                    "or delete it"
                )
            stale = directory.with_name(f"{directory.name}.stale-{meta.get('config_hash')}")
            if stale.exists():
                shutil.rmtree(stale)
            directory.rename(stale)
            if not quiet:
                print(f"moved stale results {directory} -> {stale}", file=sys.stderr, flush=True)
        enable_compile_cache()
        if not quiet:
            print(f"running {name} ({scale}) into {directory}", file=sys.stderr, flush=True)
        run_experiment(experiment, directory, resume=True, quiet=quiet)
        ran.append(name)
    return ran


def _script_env() -> dict:
    """Environment of a figure script: the diffsim this command runs (not another install found
    from the script's folder) and the file-only Agg backend."""
    import diffsim

    root = str(Path(diffsim.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else ""), "MPLBACKEND": "Agg"}


def _figures(args) -> int:
    from diffsim.config import SCALES

    if args.scale not in SCALES:  # else one error per experiment
        raise ConfigError(f"--scale={args.scale!r} is not known: expected one of {', '.join(SCALES)}")
    check_output_path(args.out, "--out", kind="dir")
    check_output_path(args.gallery, "--gallery", kind="dir")
    check_output_path(args.results, "--results", kind="dir")
    if args.experiments and not Path(args.experiments).is_dir():  # else one error per experiment
        raise ConfigError(f"--experiments={args.experiments!r} is not a folder: expected a folder of experiment configs")
    scripts = figure_scripts(Path(args.scripts) if args.scripts else _default_dir("paper_figures"))
    unknown = [n for n in args.names if n not in scripts]
    if unknown:
        raise ConfigError(f"figure {', '.join(map(repr, unknown))} is not known: expected one of {', '.join(scripts)}")
    chosen = {n: scripts[n] for n in (args.names or scripts)}
    exp_dir = Path(args.experiments) if args.experiments else _default_dir("experiments")
    needed = list(dict.fromkeys(e for path in chosen.values() for e in figure_experiments(path)))
    root = Path(args.results)
    ran = ensure_experiments(needed, args.scale, exp_dir, root, rerun_stale=args.rerun_stale, quiet=args.quiet)

    out = Path(args.out) if args.out else Path("figures") / args.scale
    written: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    display = Progress("figures", len(chosen), unit="figures", quiet=args.quiet)
    for name, script in chosen.items():
        cmd = [sys.executable, str(script), "--results", str(root), "--scale", args.scale, "--out", str(out)]
        if args.gallery:
            cmd += ["--gallery", args.gallery]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_script_env())
        if proc.returncode != 0:
            failed.append(name)
            print(f"figure {name} failed (exit {proc.returncode}):\n{proc.stderr.strip()}", file=sys.stderr)
            display.update(f"{name} FAILED")
            continue
        lines = proc.stdout.splitlines()
        captions = [line.partition(":")[2].strip() for line in lines if line.startswith("caption:")]
        # the script prints the files it wrote (one path a line), a caption, and perhaps its own findings
        written[name] = {"files": [line for line in lines if line.strip() and Path(line.strip()).is_file()],
                         "caption": captions[0] if captions else None,
                         "wall_s": round(time.perf_counter() - start, 2)}
        display.update(f"{name} ({written[name]['wall_s']:.1f}s)")
    payload = {"scale": args.scale, "experiments_run": ran, "figures": written, "failed": failed}
    lines = [f"ran experiments: {', '.join(ran) or 'none (all results present)'}"]
    lines += [f"{n}: {' '.join(w['files'])}" for n, w in written.items()]
    lines += [f"{n}: FAILED" for n in failed]
    emit(payload, "\n".join(lines), args.json)
    return 1 if failed else 0
