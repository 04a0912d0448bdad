"""Input validation shared by every public entry point.

Every check raises :class:`ConfigError` (a ``ValueError``) whose message names the parameter, the
value received and the allowed range, so that bad input fails before any heavy work.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class ConfigError(ValueError):
    """A parameter is outside its allowed range; the message names parameter, value and range."""


# Default bounds of :func:`integer` and :func:`positive` when a check gives none: integers fit the
# int32 of JAX's PRNG seeds and counts; positive scales stay far from float32 overflow when squared
# and summed over dimensions (``--sigma 1e308`` or ``--mtilde 1e200`` overflowed before).
INT_MAX = 2**31 - 1
LARGEST = 1e6
# Steps of one sampler or clone run: 10^6 steps take hours of wall time already (a bound on time,
# where a memory estimate bounds space).
MAX_STEPS = 10**6


def _is_real(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


def positive(name: str, value: Any, *, upper: float | None = LARGEST) -> float:
    """Check ``0 < value (<= upper)`` and finite; return it as a float. ``upper`` defaults to
    :data:`LARGEST`; ``upper=None`` leaves it unbounded."""
    allowed = f"a finite number in (0, {upper:g}]" if upper is not None else "a finite number > 0"
    if not _is_real(value) or not math.isfinite(float(value)) or float(value) <= 0:
        raise ConfigError(f"{name}={value!r} is out of range: expected {allowed}")
    if upper is not None and float(value) > upper:
        raise ConfigError(f"{name}={value!r} is out of range: expected {allowed}")
    return float(value)


def in_range(name: str, value: Any, low: float, high: float, *, closed: bool = True) -> float:
    """Check ``low <= value <= high`` (or the open interval) and finite."""
    bounds = f"[{low}, {high}]" if closed else f"({low}, {high})"
    ok = _is_real(value) and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (low <= v <= high) if closed else (low < v < high)
    if not ok:
        raise ConfigError(f"{name}={value!r} is out of range: expected a finite number in {bounds}")
    return float(value)


def integer(name: str, value: Any, *, minimum: int = 1, maximum: int | None = INT_MAX) -> int:
    """Check that ``value`` is an integer in ``[minimum, maximum]``; ``maximum`` defaults to
    :data:`INT_MAX` (int32: seeds and counts JAX can take), ``maximum=None`` leaves it unbounded."""
    allowed = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
        _is_real(value) and float(value).is_integer()
    ):
        raise ConfigError(f"{name}={value!r} is out of range: expected {allowed}")
    v = int(value)
    if v < minimum or (maximum is not None and v > maximum):
        raise ConfigError(f"{name}={value!r} is out of range: expected {allowed}")
    return v


def choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Check that ``value`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not known: expected one of {', '.join(allowed)}")
    return value


def increasing(name: str, values: Iterable[float]) -> tuple[float, ...]:
    """Check a non-empty, strictly increasing sequence of finite numbers."""
    vals = tuple(values)
    if not vals or any(not _is_real(v) or not math.isfinite(float(v)) for v in vals):
        raise ConfigError(f"{name}={values!r} is out of range: expected a non-empty list of finite numbers")
    if any(b <= a for a, b in zip(vals, vals[1:])):
        raise ConfigError(f"{name}={values!r} is out of range: expected strictly increasing values")
    return tuple(float(v) for v in vals)


def available_memory_bytes() -> int:
    """Physical memory of this machine (or ``DIFFSIM_MEMORY_BYTES`` if set)."""
    override = os.environ.get("DIFFSIM_MEMORY_BYTES")
    if override:
        return int(float(override))
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 16 * 2**30


_MEMORY_LOG: list | None = None


@contextlib.contextmanager
def recorded_memory():
    """Collect the ``(what, bytes)`` estimates that :func:`memory` checks inside the block (a
    config's ``validate()``): ``diffsim run --dry-run`` reports them without running anything."""
    global _MEMORY_LOG
    saved, _MEMORY_LOG = _MEMORY_LOG, []
    try:
        yield _MEMORY_LOG
    finally:
        _MEMORY_LOG = saved


def memory(what: str, needed_bytes: float, *, fraction: float = 0.8, knobs: dict | None = None) -> None:
    """Refuse a run whose memory estimate exceeds ``fraction`` of the machine's memory.

    ``knobs`` (``{parameter: value}``, the one most likely at fault first) names the parameters the
    estimate grows with: the message starts with them (``n_pairs=100000000, dim=16: ...``), so that
    it names the parameter and a config file's error points at the key it came from."""
    if _MEMORY_LOG is not None:
        _MEMORY_LOG.append((what, float(needed_bytes)))
    budget = fraction * available_memory_bytes()
    if needed_bytes > budget:
        head = ", ".join(f"{k}={v!r}" for k, v in knobs.items()) + ": " if knobs else ""
        reduce = " or ".join(knobs) if knobs else "N, P or the batch size"
        raise ConfigError(
            f"{head}{what} needs about {needed_bytes / 2**30:.3g} GiB, more than the "
            f"{budget / 2**30:.2f} GiB available ({fraction:.0%} of this machine's memory): reduce {reduce}"
        )


def dims_at_load(dims: Sequence[int], alpha: float, *, bytes_besides: Callable[[int], float] = lambda n: 0.0,
                 name: str = "dims", knobs: dict | None = None) -> tuple[int, ...]:
    """Check a sweep over dimensions at load ``alpha``: a non-empty increasing list of integers
    >= 2, each giving ``P = round(exp(alpha N)) >= 2`` training points whose fp32 storage (points
    and their chunked copy, ``8 P N`` bytes) plus ``bytes_besides(N)`` fits in memory. Works in log
    space, so an absurd ``alpha N`` is refused with its size instead of overflowing. ``knobs``
    (``{parameter: value}``) name what ``bytes_besides`` grows with; a refusal names them first
    unless the training set alone is too large (then ``name`` and ``alpha``)."""
    if not dims:
        raise ConfigError(f"{name}=() is out of range: expected at least one dimension")
    for n in dims:
        integer(name, n, minimum=2, maximum=100_000)
    increasing(name, dims)
    for n in dims:
        p = math.exp(min(alpha * n, 700.0))
        training = 8.0 * n * p
        besides = bytes_besides(n)
        at_fault = {name: n, "alpha": alpha}
        if knobs and besides > training:
            at_fault = {**knobs, name: n}
        what = f"the training set for N={n} (P = exp(alpha N) = {p:.3g})" + (" and the run's arrays" if besides else "")
        memory(what, training + besides, knobs=at_fault)
        if round(p) < 2:
            raise ConfigError(f"{name}={n} with alpha={alpha} gives P={round(p)}: expected P = round(exp(alpha N)) >= 2")
    return tuple(int(n) for n in dims)
