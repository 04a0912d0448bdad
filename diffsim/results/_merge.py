"""Shards and merge: the parts of a sharded run joined into one complete results directory."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from diffsim._validate import ConfigError
from diffsim.results._atomic import remove_stale_temps
from diffsim.results._layout import _SHARD_DIR, METADATA
from diffsim.results._lock import lock_directory
from diffsim.results._parts import finalize, read_parts, write_part
from diffsim.results._provenance import read_metadata

def _expand_sources(sources: Iterable) -> list[Path]:
    found = []
    for src in sources:
        src = Path(src)
        if not src.is_dir():
            raise ConfigError(f"{src} is not a directory: expected a shard directory or a folder of shard-I-of-N directories")
        meta = read_metadata(src)
        if meta is not None and meta.get("shard"):
            found.append(src)
            continue
        if meta is None and (src / METADATA).is_file():
            raise ConfigError(f"{src / METADATA} cannot be read (not valid JSON): "
                              "a damaged results directory, nothing to merge from it")
        subs = sorted(p for p in src.iterdir() if p.is_dir() and _SHARD_DIR.match(p.name))
        if not subs:
            raise ConfigError(f"{src} holds no shard-I-of-N directories: nothing to merge")
        found.extend(subs)
    return list(dict.fromkeys(p.resolve() for p in found))


def merge_results(sources: Iterable, out, *, summarize=None) -> dict:
    """Join the shard parts found in ``sources`` (shard directories, or folders holding
    ``shard-I-of-N`` directories) into a complete results directory ``out``.

    Checks that every shard comes from the same config (hash), that shards ``1..N`` are all present
    and that every (cell, seed) of the sweep appears exactly once (identical duplicates allowed);
    otherwise raises ConfigError naming what is missing and writes nothing.
    """
    shard_dirs = _expand_sources(sources)
    metas = []
    for d in shard_dirs:
        meta = read_metadata(d)
        if meta is None or not meta.get("shard"):
            raise ConfigError(f"{d} has no shard metadata ({METADATA}): was it written by `diffsim run --shard`?")
        metas.append(meta)
    hashes = {m["config_hash"] for m in metas}
    if len(hashes) > 1:
        listing = ", ".join(f"{d.name}: {m['config_hash']}" for d, m in zip(shard_dirs, metas))
        raise ConfigError(f"shards come from different configs ({listing}): merge only parts of one experiment")
    config_hash = hashes.pop()
    counts = {int(m["shard"].split("/")[1]) for m in metas}
    if len(counts) > 1:
        raise ConfigError(f"shards split the sweep differently ({sorted(counts)} parts): merge parts of one split")
    count = counts.pop()
    resolved = metas[0]["config"]
    problems = []
    present = {int(m["shard"].split("/")[0]) for m in metas}
    for i in range(1, count + 1):
        if i not in present:
            problems.append(f"shard {i}/{count} not found")
    all_units = [(c["cell"], s) for c in resolved["cells"] for s in resolved["seeds"]]
    parts: dict[tuple[int, int], dict] = {}
    for d, meta in zip(shard_dirs, metas):
        found = read_parts(d, config_hash)
        if not meta.get("complete") or meta.get("units_done", 0) < meta.get("units_expected", 0) or len(found) < meta["units_expected"]:
            problems.append(
                f"{d.name} holds {len(found)} of {meta['units_expected']} cells: finish it with "
                f"`diffsim run CONFIG --shard {meta['shard']} --resume --out {d.parent}`"
            )
        for key, part in found.items():
            if key in parts and parts[key]["rows"] != part["rows"]:
                problems.append(f"cell {key[0]} seed {key[1]} appears in two shards with different rows")
            parts[key] = part
    missing = [u for u in all_units if u not in parts]
    if missing:
        shown = ", ".join(f"cell {c} seed {s}" for c, s in missing[:10])
        problems.append(f"{len(missing)} of {len(all_units)} cells missing ({shown}{', ...' if len(missing) > 10 else ''})")
    if problems:
        raise ConfigError("cannot merge, the shards are incomplete:\n  " + "\n  ".join(dict.fromkeys(problems)))

    out = Path(out)
    with lock_directory(out, what="diffsim merge"):
        existing = read_metadata(out)
        if existing is not None and existing.get("config_hash") != config_hash:
            raise ConfigError(f"{out} holds results of another config (hash {existing.get('config_hash')}): merge elsewhere")
        remove_stale_temps(out)
        for (cell, seed) in all_units:
            part = parts[(cell, seed)]
            write_part(out, config_hash, cell, seed, part["axes"], part["rows"], part["wall_s"])
        shard_envs = [{"shard": m["shard"], **m["environment"], "started": m["started"], "updated": m["updated"]} for m in metas]
        return finalize(
            out, resolved, config_hash, shard=None, units=all_units, env=metas[0]["environment"],
            started=min(m["started"] for m in metas), extra={"merged_from": shard_envs}, summarize=summarize,
        )
