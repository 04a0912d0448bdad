"""The approximation separation: network size needed for the empirical vs the true score (THEORY.md 10).

Ye, Zhu, Tao, Chen (Thm. 5.1): a ReLU network implementing the empirical score of P points needs a
width growing like P, while the true score needs a size independent of P. Measured here for the
time-conditioned residual MLP of :mod:`diffsim.nets` (``eps`` parameterisation) at one (data, N, P)
point and a grid of widths:

* **fit** (approximation): every network regresses directly onto a target in noise units,
  ``min E_{t, mu, xi} |eps_theta(x, t) - eps*(x, t)|^2`` with ``x = m_t a_mu + sqrt(Delta_t) xi``
  (``a_mu`` the P training points: the training-noise distribution), ``t`` from the log-sigma law on
  ``[t_min, t_max]`` and ``eps* = -sqrt(Delta_t) s*`` for ``s*`` the exact empirical score ``s_e``
  (streamed) or the exact true score ``s_true`` of the data model. Same inputs, same budget
  (``steps`` of Adam with a cosine-decayed learning rate, minibatch ``batch_size``), two targets; the
  ``2 x n_seeds`` members of one width train as one ``vmap``. The score error is
  ``err = E |eps_theta - eps*|^2 / N`` on ``n_eval`` fresh draws of the same distribution; a network
  *fits* its target when the seed-mean ``err <= tolerance``. For scale, the distance between the
  two targets ``E |eps_e - eps_true|^2 / N`` (the loss gap in these units) is reported.
* **memorizes**: the networks fitted to ``s_e`` generate ``n_samples`` points (backward SDE on a log
  grid from ``t_max`` to ``t_min``, then one Tweedie step ``x0_hat(x, t_min)``); the 1/3 criterion
  (THEORY.md section 12) gives the memorized fraction; a width *memorizes* when the seed mean
  reaches ``mem_threshold``.

The smallest width for each criterion is read on the grid and interpolated linearly in
``log(width)`` between the last grid width that fails and the first that passes (None if none
passes); :func:`width_scaling` fits ``width* ~ P^b`` over several results with a 95% interval.

The computation is :func:`diffsim.measure.measure_size`; this module holds the config, the rows and the table.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from diffsim import _validate
from diffsim.measure.separation_size import SizeMeasurement, SizeOptions, measure_size
from diffsim.nets.models import ModelConfig
from diffsim.nets.train import TrainConfig
from diffsim.observe import fit_power_law
from diffsim.results import finite_or_none
from diffsim.score import TrainingSet
from diffsim.studies._common import check_passed_on
from diffsim.studies.separation import SEPARATION_DATA, loss_gap_model
from diffsim.specs import DataSpec, config_json, validate_parts
from diffsim.studies._registry import register_study

__all__ = [
    "SizeConfig", "SizeResult", "run_size", "width_scaling", "width_scaling_from_rows", "size_table",
    "SIZE_DEFINITIONS", "WIDTH_CRITERIA", "PASSED_ON",
]

SIZE_DEFINITIONS = {
    "score_error_true, score_error_empirical": "E|eps_theta - eps*|^2 / N in noise units on x = m_t a_mu + sqrt(Delta_t) xi (a_mu training "
    "points, t from the log-sigma law on [t_min, t_max]); eps* = -sqrt(Delta_t) s* with s* = s_e (empirical) or s_true",
    "fits": "seed-mean score_error_true (or _empirical) <= tolerance after a fixed budget of direct regression onto the target",
    "memorizes": "seed-mean memorized fraction (1/3 rule) of samples generated with the network fitted to s_e "
    "(backward SDE from t_max to t_min, then a Tweedie step) >= mem_threshold",
    "width_*": "smallest grid width meeting the criterion, interpolated linearly in log(width) from the last "
    "failing grid width; null if no grid width meets it",
    "target_gap": "E|eps_e - eps_true|^2 / N on the same distribution (how far apart the two targets are)",
}


PASSED_ON = {"net": ("depth",),
             "train": ("steps", "batch_size", "learning_rate", "steps_per_dispatch", "t_min", "t_max")}
"""The fields of the shared parts that :func:`run_size` passes to :func:`measure_size`; the others
keep the defaults below (an MLP in the ``eps`` parameterisation, Adam, the log-sigma law)."""


@dataclass(frozen=True)
class SizeConfig:
    """One point of the size study: data model, N, P, and the width grid searched at that point.

    Attributes:
        data: data model with an exact score: gaussian (isotropic), mixture (two clusters) or hmm
            (linear), N and P (data.n_train).
        widths: increasing MLP widths searched.
        net: the residual MLP (eps parameterisation): its depth (the widths are the grid).
        train: the fixed budget: Adam steps with a cosine-decayed learning rate (a multiple of
            steps_per_dispatch), minibatch, and the range [t_min, t_max] of the log-sigma law, also
            the sampler's last and first time.
        measure: the options of measure_size (seeds, tolerance, memorization threshold, draws,
            sampler steps, layout).
        seed: random seed.
    """

    data: DataSpec = DataSpec(model="gaussian", dim=4, n_train=16, mtilde=2.0)
    widths: tuple[int, ...] = (4, 8, 16, 32, 64, 128)
    net: ModelConfig = ModelConfig(architecture="mlp", depth=1, parameterisation="eps")
    train: TrainConfig = TrainConfig(steps=2000, batch_size=128, learning_rate=3e-3, time_law="log_sigma", t_min=1e-2,
                                     t_max=5.0, steps_per_dispatch=100, n_checkpoints=1)
    measure: SizeOptions = SizeOptions()
    seed: int = 0

    def validate(self) -> "SizeConfig":
        validate_parts(self)
        d, m = self.data, self.measure
        _validate.choice("data.model", d.model, SEPARATION_DATA)
        if d.model == "hmm":
            _validate.choice("data.nonlinearity", d.nonlinearity, ("linear",))
        _validate.integer("data.dim", d.dim, minimum=1, maximum=4096)
        _validate.integer("data.n_train", d.n_points, minimum=2, maximum=2**20)
        if not self.widths:
            raise _validate.ConfigError("widths=() is out of range: expected at least one width")
        for w in self.widths:
            _validate.integer("widths", w, minimum=1, maximum=8192)
        _validate.increasing("widths", self.widths)
        check_passed_on(self, PASSED_ON)
        _validate.integer("net.depth", self.net.depth, minimum=0, maximum=16)
        _validate.integer("seed", self.seed, minimum=0)
        if m.p_layout:
            _validate.integer("measure.p_layout", m.p_layout, minimum=d.n_points, maximum=2**20)
        members, batch = 2 * m.n_seeds, self.train.batch_size
        _validate.memory(
            f"size study (widths up to {max(self.widths)}, {members} members, P={d.n_points})",
            4.0 * members * (self.net.depth + 2) * max(self.widths) ** 2 * 4
            + 4.0 * members * batch * max(self.widths) * (self.net.depth + 2) * 8
            + 4.0 * batch * d.n_points * 4 + 8.0 * d.n_points * d.dim,
        )
        return self


@dataclass(frozen=True)
class SizeResult:
    """The config, what :func:`diffsim.measure.measure_size` measured and the wall time."""

    config: SizeConfig
    measurement: SizeMeasurement
    seconds: float

    @property
    def definitions(self) -> dict:
        return dict(SIZE_DEFINITIONS)

    def summary(self) -> list[dict]:
        """One wide row per width: ``P, N, width, score_error_empirical(_stderr), score_error_true(_stderr),
        memorized_fraction(_stderr)`` and the point's smallest widths, ``target_gap``,
        ``memorized_fraction_exact`` (the exact empirical score's)."""
        c, r = self.config, self.measurement
        rows = []
        for i, w in enumerate(c.widths):
            row: dict[str, Any] = {"data": c.data.model, "N": c.data.dim, "P": c.data.n_points, "width": w}
            for name, arr in (("score_error_empirical", r.err_empirical), ("score_error_true", r.err_true),
                              ("memorized_fraction", r.memorized)):
                row[name], row[f"{name}_stderr"] = _mean_err(arr[i])
            row.update(self.widths_found())
            row.update({"target_gap": r.target_gap, "memorized_fraction_exact": r.memorized_exact})
            rows.append(row)
        return rows

    def widths_found(self) -> dict:
        r = self.measurement
        return {"width_memorize": r.width_memorize, "width_fit_empirical": r.width_fit_empirical,
                "width_fit_true": r.width_fit_true}

    def rows(self) -> list[dict]:
        """Tidy table: ``N, P, quantity, width, value, stderr`` (``t`` is None: averaged over the law)."""
        base, r = {"N": self.config.data.dim, "P": self.config.data.n_points, "t": None}, self.measurement
        out = [{**base, "quantity": k, "width": None, "value": v, "stderr": None} for k, v in
               {**self.widths_found(), "target_gap": r.target_gap, "memorized_fraction_exact": r.memorized_exact}.items()]
        for row in self.summary():
            for q in ("score_error_empirical", "score_error_true", "memorized_fraction"):
                out.append({**base, "quantity": q, "width": row["width"], "value": row[q], "stderr": row[f"{q}_stderr"]})
        return out

    def to_json(self) -> dict:
        return {"config": config_json(self.config),
                "rows": self.summary(), "widths": self.widths_found(), "definitions": self.definitions,
                "seconds": self.seconds}


def _mean_err(values) -> tuple[float | None, float | None]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None, None
    return float(v.mean()), (float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else None)


@register_study("separation_size", SizeConfig,
                description="smallest MLP width that memorizes / fits s_e / fits s_true at one (data, N, P)",
                page="separation")
def run_size(config: SizeConfig, key=None, *, progress=None) -> SizeResult:
    """Draw the training points (``fold_in(key, 1)``) and :func:`diffsim.measure.measure_size` (``key``);
    ``key`` defaults to ``PRNGKey(config.seed)``."""
    config.validate()
    start = time.time()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    model = loss_gap_model(config.data)[0]
    p, tc = config.data.n_points, config.train
    real = jnp.asarray(model.sample(jax.random.fold_in(key, 1), p), jnp.float32)
    res = measure_size(key, TrainingSet.from_points(real), model, widths=config.widths, depth=config.net.depth,
                       **{name: getattr(tc, name) for name in PASSED_ON["train"]}, **config.measure.as_kwargs())
    if callable(progress):
        timings = ", ".join(f"{w}:{t:.0f}s" for w, t in zip(config.widths, res.train_seconds))
        progress(f"P={p} (training time per width {timings})")
    return SizeResult(config, res, time.time() - start)


# ----------------------------------------------------------------------------- analyses over P


WIDTH_CRITERIA = ("width_memorize", "width_fit_empirical", "width_fit_true")


def width_scaling(results: list[SizeResult]) -> dict:
    """Fit ``width* ~ P^b`` for each criterion over the results where it was found: ``b``, its
    standard error from the residuals, a 95% Student-t interval (NaN with fewer than three P),
    the P used, those where no grid width met the criterion (``not_found_at_P``) and those where the
    smallest grid width already met it (``at_grid_floor_P``: an upper bound only, not fitted)."""
    return width_scaling_from_rows([row for r in results for row in r.rows()])


def width_scaling_from_rows(rows: list[dict]) -> dict:
    """:func:`width_scaling` from tidy rows (``P``, ``quantity`` in :data:`WIDTH_CRITERIA`, ``value``
    None where not found), e.g. a results table; several rows per P (seeds) are averaged in log."""


    grid_floor: dict = {}  # smallest grid width per P (from the per-width rows)
    for r in rows:
        if r.get("width") is not None:
            grid_floor[int(r["P"])] = min(grid_floor.get(int(r["P"]), math.inf), float(r["width"]))
    out = {}
    for name in WIDTH_CRITERIA:
        per_p: dict = {}
        for r in rows:
            if r.get("quantity") == name:
                per_p.setdefault(int(r["P"]), []).append(r.get("value"))
        found = {p: float(np.exp(np.mean(np.log(v)))) for p, v in per_p.items() if all(x is not None for x in v)}
        missing = sorted(p for p in per_p if p not in found)
        # the smallest grid width already passes: only an upper bound, left out of the fit
        floor = sorted(p for p, w in found.items() if w <= grid_floor.get(p, 0.0))
        found = {p: w for p, w in found.items() if p not in floor}
        p = sorted(found)
        w = [found[x] for x in p]
        b, b_err, c = fit_power_law(p, w)  # NaN below three P: two give a slope, not a fit
        q = stats.t.ppf(0.975, len(p) - 2) if len(p) > 2 else math.nan
        lo, hi = (b - q * b_err, b + q * b_err) if math.isfinite(b_err) else (math.nan, math.nan)
        out[name] = {"exponent": finite_or_none(b), "exponent_stderr": finite_or_none(b_err),
                     "interval95": [finite_or_none(lo), finite_or_none(hi)], "prefactor": finite_or_none(c), "P": p,
                     "width": w, "not_found_at_P": missing, "at_grid_floor_P": floor}
    return out


def size_table(results: list[SizeResult]) -> str:
    """Human-readable summary: per P the error and memorization curves over the widths, the smallest
    widths, and the fitted exponents."""
    def f(v, spec=".3g"):
        return "-" if v is None else format(v, spec)

    c0 = results[0].config
    d, tc, m = c0.data, c0.train, c0.measure
    lines = [f"Network width vs P: {d.model} data, N = {d.dim}, residual MLP depth {c0.net.depth}, {tc.steps} Adam steps "
             f"(cosine lr from {tc.learning_rate:g}), batch {tc.batch_size}, {m.n_seeds} seeds; tolerance "
             f"{m.tolerance:g} (noise units / N), memorization threshold {m.mem_threshold:g}"]
    head = f"{'P':>6} {'width':>6} {'err_emp':>9} {'err_true':>9} {'memorized':>9}"
    for r in results:
        lines += ["", head, "-" * len(head)]
        for row in r.summary():
            lines.append(f"{row['P']:>6} {row['width']:>6} {f(row['score_error_empirical']):>9} {f(row['score_error_true']):>9} "
                         f"{f(row['memorized_fraction'], '.2f'):>9}")
        res = r.measurement
        lines.append(f"P = {r.config.data.n_points}: width to memorize {f(res.width_memorize)}, to fit s_e "
                     f"{f(res.width_fit_empirical)}, to fit s_true {f(res.width_fit_true)}; target gap "
                     f"{res.target_gap:.3g}; exact s_e memorizes {res.memorized_exact:.2f} ({r.seconds:.0f}s)")
    lines.append("")
    for name, fit in width_scaling(results).items():
        lines.append(f"{name} ~ P^{f(fit['exponent'], '.2f')} ± {f(fit['exponent_stderr'], '.2f')} "
                     f"(95%: [{f(fit['interval95'][0], '.2f')}, {f(fit['interval95'][1], '.2f')}]) over P = {fit['P']}"
                     + (f"; not found at P = {fit['not_found_at_P']}" if fit["not_found_at_P"] else "")
                     + (f"; at the grid floor at P = {fit['at_grid_floor_P']}" if fit["at_grid_floor_P"] else ""))
    lines.append("definitions:")
    lines += [f"  {k}: {v}" for k, v in SIZE_DEFINITIONS.items()]
    return "\n".join(lines)
