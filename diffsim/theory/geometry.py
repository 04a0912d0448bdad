"""Exact finite-N Gaussian-shell coverage and the collapse point in the sigma clock (THEORY.md section 8).

For a held-out query ``y = x + sigma z`` (independent of the training set ``a_1..a_P``) the events
``{a_i in S_sigma(y)}`` are iid given ``y``, so the expected coverage is exactly

    C_sigma = E_y[1 - (1 - p_sigma(y))^P],     p_sigma(y) = P_a(sigma^2 r_in^2 <= |y - a|^2 <= sigma^2 r_out^2)

with ``r_in^2 = N - 2 sqrt(c N)``, ``r_out^2 = N + 2 sqrt(c N) + 2 c``. For Gaussian data
``a ~ N(0, C)`` (eigenvalues ``lambda_i``, ``y_i`` the coordinates of y in the eigenbasis)
``Q = |y - a|^2 = sum_i lambda_i (Z_i - y_i / sqrt(lambda_i))^2`` is a generalized noncentral
chi-square with cumulant generating function

    K_y(s) = sum_i [ -1/2 log(1 - 2 lambda_i s) + y_i^2 s / (1 - 2 lambda_i s) ]      (Re s < 1 / (2 lambda_max))

(zero eigenvalues contribute the constant ``y_i^2``). Two numerical routes:

* **isotropic** (:func:`coverage_isotropic`): ``Q / lambda`` is a noncentral chi-square with N degrees
  of freedom and non-centrality ``|y|^2 / lambda``, and ``|y|^2 / (lambda + sigma^2)`` is chi-square
  with N degrees of freedom: ``C`` is a one-dimensional integral, done by Gauss-Legendre quadrature
  in the normal score of ``|y|^2`` with SciPy's ``ncx2`` for ``p``. Deterministic, exact to quadrature error.
* **any spectrum** (:func:`coverage_spectrum`): Monte Carlo over ``y ~ N(0, C + sigma^2 I)`` with the
  *exact* inner probability ``p_sigma(y)`` from the CDF of ``Q`` by saddle-point contour inversion
  of the Laplace transform (:func:`generalized_chi2_cdf`): the Bromwich integral
  ``F(x) = (1 / 2 pi i) int M(s) e^{-s x} / (-s) ds`` along ``Re s = c``, with ``c`` the saddle point
  ``K'(c) = x`` (``c < 0`` for the lower tail, ``c > 0`` and ``1 - F`` for the upper). Moving the
  contour through the saddle point factors out ``exp(K(c) - c x)``, so tails of size ``1e-100`` come
  out with full *relative* precision, which ``1 - (1 - p)^P`` at ``P = e^{alpha N}`` needs and which
  Gil-Pelaez / Imhof inversion on the imaginary axis (absolute error ~1e-12) does not give. The
  outer expectation is a plain average over ``y`` draws (common random numbers across sigma, so the
  curve is smooth in sigma and its C = 1/2 crossing is found by bisection); it carries a reported
  Monte-Carlo standard error. Linear HMM: its spectrum (``D`` non-zero eigenvalues, the ``N - D``
  zeros grouped into one chi-square term), e.g. :func:`marchenko_pastur_eigenvalues`.

Leading order [derived]: coverage switches on where ``alpha = (1 / 2N) sum_i log(1 + lambda_i / sigma^2)``,
the collapse equation in the sigma clock, so both edges tend to ``sigma_C = sigma(t_C)``
(:func:`collapse_sigma`, from :func:`diffsim.theory.collapse_time` and ``sigma^2 = e^{2t} - 1``).

Large-noise linearity [derived]: with ``c_i = a_i - abar`` and ``S = (1/P) sum_i c_i c_i^T`` (the
training set's own covariance), the empirical denoiser ``D_e(y) = sum_i w_i a_i`` is the mean of
``c`` under the tilt ``exp(theta.c - beta |c|^2 / 2)``, ``theta = (y - abar) / sigma^2``,
``beta = 1 / sigma^2``; its cumulant expansion gives, with ``zhat = (y - abar) / sigma``,

    D_e(y) = abar + S theta + (1 / 2 sigma^2) E_i[c_i ((c_i.zhat)^2 - |c_i|^2)] + O(sigma^-3),

while the Wiener denoiser (:func:`wiener_denoiser`) ``abar + S (S + sigma^2 I)^{-1} (y - abar)``
is ``abar + S theta + O(sigma^-3)``: ``sigma^2 (D_e - D_lin)`` tends to the third-moment term
:func:`linearity_gap_leading`, so ``|D_e - D_lin| ~ 1/sigma^2`` while ``|D_e - abar| ~ 1/sigma``:
the relative distance falls like ``1/sigma``.

Everything here is float64 NumPy / SciPy.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from diffsim._validate import ConfigError
from diffsim.theory.collapse import collapse_time
from diffsim.theory._numerics import _check_range
from diffsim.theory.spectrum import Spectrum

__all__ = [
    "shell_radii_squared",
    "collapse_sigma",
    "coverage_isotropic",
    "coverage_spectrum",
    "coverage_edge_isotropic",
    "coverage_edge_spectrum",
    "generalized_chi2_cdf",
    "wiener_denoiser",
    "gaussian_moments",
    "linearity_gap_leading",
    "marchenko_pastur_eigenvalues",
]


def shell_radii_squared(dim: int, c: float = 5.0) -> tuple[float, float]:
    """``(r_in^2, r_out^2) = (max(0, N - 2 sqrt(cN)), N + 2 sqrt(cN) + 2c)``."""
    if int(dim) != dim or dim < 1:
        raise ConfigError(f"dim={dim!r} is out of range: expected an integer >= 1")
    if not c > 0:
        raise ConfigError(f"c={c!r} is out of range: expected c > 0")
    return max(0.0, dim - 2.0 * math.sqrt(c * dim)), dim + 2.0 * math.sqrt(c * dim) + 2.0 * c


def collapse_sigma(alpha: ArrayLike, spectrum: Spectrum) -> np.ndarray:
    """Collapse point in the sigma clock: ``sigma_C = sqrt(exp(2 t_C) - 1)`` with ``t_C`` from
    :func:`diffsim.theory.collapse_time` (the clock of :func:`diffsim.process.sigma_from_t`, in float64)."""
    return np.sqrt(np.expm1(2.0 * collapse_time(alpha, spectrum)))


def _covered_probability(log_one_minus_p: np.ndarray, n_points: float) -> np.ndarray:
    """``1 - (1 - p)^P = -expm1(P log(1 - p))``."""
    return -np.expm1(n_points * log_one_minus_p)


# ------------------------------------------------------------------------------------- isotropic

_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)


def _normal_score_nodes(n_panels: int = 16, half_width: float = 9.0) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes ``s`` on ``[-half_width, half_width]`` with weights ``phi(s) ds``."""
    edges = np.linspace(-half_width, half_width, n_panels + 1)
    left, width = edges[:-1, None], np.diff(edges)[:, None]
    s = (left + 0.5 * width * (_GL_X + 1.0)).ravel()
    w = (0.5 * width * _GL_W).ravel() * stats.norm.pdf(s)
    return s, w / w.sum()


def coverage_isotropic(sigma: ArrayLike, n_points: int, dim: int, *, variance: float = 1.0, c: float = 5.0) -> np.ndarray:
    """Exact expected coverage ``E_y[1 - (1 - p_sigma(y))^P]`` for ``N(0, variance I_N)`` data.

    ``|y|^2 = (variance + sigma^2) u``, ``u ~ chi2_N``; given ``|y|^2``, ``|y - a|^2 / variance ~
    ncx2(N, |y|^2 / variance)``. The integral over ``u`` runs over its normal score
    ``u = F_{chi2_N}^{-1}(Phi(s))``, ``s in [-9, 9]``, with 768 Gauss-Legendre nodes. ``sigma`` any
    shape; returns the same shape.
    """
    sig = _check_range("sigma", sigma, low=0.0)
    if int(n_points) != n_points or n_points < 1:
        raise ConfigError(f"n_points={n_points!r} is out of range: expected an integer >= 1")
    lam = float(_check_range("variance", variance, low=0.0))
    r_in2, r_out2 = shell_radii_squared(dim, c)
    s, w = _normal_score_nodes()
    u = stats.chi2.isf(stats.norm.sf(s), dim)  # chi2_N quantiles, accurate in both tails
    flat = sig.reshape(-1, 1)
    y2 = (lam + flat**2) * u[None, :]
    nc = y2 / lam
    lo, hi = flat**2 * r_in2 / lam, flat**2 * r_out2 / lam
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # Boost's series warnings far in the tails
        cdf_lo, cdf_hi = stats.ncx2.cdf(lo, dim, nc), stats.ncx2.cdf(hi, dim, nc)
        sf_lo, sf_hi = stats.ncx2.sf(lo, dim, nc), stats.ncx2.sf(hi, dim, nc)
        # p = F(hi) - F(lo), from the side that keeps relative precision; 1 - p = F(lo) + S(hi).
        p = np.clip(np.where(cdf_hi < 0.5, cdf_hi - cdf_lo, sf_lo - sf_hi), 0.0, 1.0)
        log_q = np.where(p < 0.5, np.log1p(-np.minimum(p, 0.5)), np.log(np.maximum(cdf_lo + sf_hi, 1e-300)))
    cover = _covered_probability(log_q, float(n_points))
    return (cover @ w).reshape(sig.shape)


def coverage_edge_isotropic(n_points: int, dim: int, *, variance: float = 1.0, c: float = 5.0, level: float = 0.5) -> float:
    """``sigma_cov``: the sigma at which :func:`coverage_isotropic` equals ``level`` (bisection in
    log sigma; the curve rises from 0 to 1)."""
    return _bisect_log_sigma(lambda s: coverage_isotropic(s, n_points, dim, variance=variance, c=c) - level)


def _bisect_log_sigma(residual: Callable[[float], float | np.ndarray], lo: float = -8.0, hi: float = 8.0, iters: int = 60) -> float:
    """Root of a rising ``residual(sigma)`` by bisection on ``log sigma in [lo, hi]``."""
    if residual(math.exp(lo)) > 0 or residual(math.exp(hi)) < 0:
        return float("nan")
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if residual(math.exp(mid)) < 0:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


# ------------------------------------------------------------------------------------- any spectrum

_CONTOUR_X, _CONTOUR_W = np.polynomial.legendre.leggauss(16)
_CONTOUR_EDGES = np.concatenate([[0.0], 0.25 * 2.0 ** np.arange(12)])  # v in [0, 512], panels doubling


def _contour_nodes() -> tuple[np.ndarray, np.ndarray]:
    left, width = _CONTOUR_EDGES[:-1, None], np.diff(_CONTOUR_EDGES)[:, None]
    v = (left + 0.5 * width * (_CONTOUR_X + 1.0)).ravel()
    return v, (0.5 * width * _CONTOUR_W).ravel()


_V_NODES, _V_WEIGHTS = _contour_nodes()


def _cgf(s: np.ndarray, lam: np.ndarray, y2: np.ndarray, q0: np.ndarray) -> np.ndarray:
    """``K(s)`` for complex or real ``s`` ``[..., k]``; ``lam`` ``[n]``, ``y2`` ``[..., n]``, ``q0`` ``[...]``."""
    one = 1.0 - 2.0 * lam * s[..., None]
    return np.sum(-0.5 * np.log(one) + y2[..., None, :] * s[..., None] / one, axis=-1) + q0[..., None] * s


def _cgf_derivatives(s: np.ndarray, lam: np.ndarray, y2: np.ndarray, q0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(K'(s), K''(s))`` for real ``s`` ``[...]``."""
    inv = 1.0 / (1.0 - 2.0 * lam * s[..., None])
    k1 = np.sum(lam * inv + y2 * inv**2, -1) + q0
    k2 = np.sum(2.0 * lam**2 * inv**2 + 4.0 * lam * y2 * inv**3, -1)
    return k1, k2


def _saddle(x: np.ndarray, lam: np.ndarray, y2: np.ndarray, q0: np.ndarray, upper: bool) -> np.ndarray:
    """Saddle point ``K'(c) = x`` on ``(-inf, 0)`` (``upper=False``) or ``(0, 1 / (2 lam_max))``
    (``upper=True``), by bisection (``K'`` increases); vectorised over ``x`` ``[...]``."""
    lam_max = float(np.max(lam))
    if upper:
        lo, hi = np.zeros_like(x), np.full_like(x, 0.5 / lam_max)
    else:
        lo, hi = np.full_like(x, -1.0), np.zeros_like(x)
        for _ in range(200):  # push lo left until K'(lo) < x
            k1, _ = _cgf_derivatives(lo, lam, y2, q0)
            bad = k1 > x
            if not np.any(bad):
                break
            lo = np.where(bad, 4.0 * lo, lo)
    for _ in range(110):
        mid = 0.5 * (lo + hi)
        k1, _ = _cgf_derivatives(mid, lam, y2, q0)
        lo, hi = np.where(k1 < x, mid, lo), np.where(k1 < x, hi, mid)
    return 0.5 * (lo + hi)


def _tail_log(x: np.ndarray, lam: np.ndarray, y2: np.ndarray, q0: np.ndarray, upper: bool) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # x <= q0 (F = 0) is masked by the callers
        return _tail_log_unchecked(x, lam, y2, q0, upper)


def _tail_log_unchecked(x: np.ndarray, lam: np.ndarray, y2: np.ndarray, q0: np.ndarray, upper: bool) -> np.ndarray:
    """``log F(x)`` (``upper=False``) or ``log(1 - F(x))`` (``upper=True``) by the contour through
    the saddle point; ``x``, ``q0`` ``[...]``, ``y2`` ``[..., n]``. Assumes ``x < E Q`` for the lower
    and ``x > E Q`` for the upper tail (where the saddle lies on the right side of 0)."""
    k1_0, k2_0 = _cgf_derivatives(np.zeros_like(x), lam, y2, q0)
    c = _saddle(x, lam, y2, q0, upper)
    # Keep the contour away from the pole at s = 0 (exact for any c of the right sign).
    min_gap = 0.5 / np.sqrt(k2_0)
    if upper:
        c = np.maximum(c, np.minimum(min_gap, 0.25 / float(np.max(lam))))
    else:
        c = np.minimum(c, -min_gap)
    _, k2 = _cgf_derivatives(c, lam, y2, q0)
    scale = 1.0 / np.sqrt(k2)
    u = _V_NODES[None, :] * scale[..., None]  # [..., k]
    s = c[..., None] + 1j * u
    log_tilt = _cgf(c[..., None], lam, y2, q0)[..., 0] - c * x
    ratio = np.exp(_cgf(s, lam, y2, q0) - log_tilt[..., None] - s * x[..., None])
    sign = 1.0 if upper else -1.0
    integrand = np.real(ratio / (sign * s))
    integral = (integrand @ _V_WEIGHTS) * scale / math.pi
    return log_tilt + np.log(np.maximum(integral, 1e-300))


def generalized_chi2_cdf(x: ArrayLike, eigenvalues: ArrayLike, y: ArrayLike, *, log: bool = False) -> np.ndarray:
    """CDF of ``Q = |y - a|^2``, ``a ~ N(0, diag(eigenvalues))``, at ``x`` (one ``y`` ``[n]`` or many ``[..., n]``).

    Saddle-point contour inversion (module docstring); relative precision in both tails. Returns
    ``F(x)`` (or ``log F(x)`` with ``log=True``), shape ``[...]``.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    pos = lam > 0
    y2 = np.square(y)[..., pos]
    q0 = np.sum(np.square(y)[..., ~pos], -1)
    lam = lam[pos]
    x = np.broadcast_to(np.asarray(x, dtype=np.float64), q0.shape).copy()
    mean = np.sum(lam) + np.sum(y2, -1) + q0
    lower = x <= mean
    out = np.empty_like(x)
    if np.any(lower):
        out[lower] = _tail_log(x[lower], lam, y2[lower], q0[lower], upper=False)
    if np.any(~lower):
        out[~lower] = np.log(-np.expm1(_tail_log(x[~lower], lam, y2[~lower], q0[~lower], upper=True)))
    out = np.where(x <= q0, -np.inf, out)
    return out if log else np.exp(out)


def _log_one_minus_p(lo: float | np.ndarray, hi: float | np.ndarray, lam: np.ndarray, y2: np.ndarray, q0: np.ndarray) -> np.ndarray:
    """``log(1 - p)``, ``p = P(lo <= Q <= hi)``, for many ``y`` (``y2`` ``[M, n]``, ``q0`` ``[M]``), with
    ``p`` from whichever tails keep relative precision."""
    mean = np.sum(lam) + np.sum(y2, -1) + q0
    out = np.empty_like(q0)

    def tail(x: float | np.ndarray, idx: np.ndarray, upper: bool) -> np.ndarray:
        return _tail_log(np.full(idx.sum(), x) if np.ndim(x) == 0 else np.asarray(x)[idx], lam, y2[idx], q0[idx], upper)

    below = hi <= mean  # both ends in the lower tail: p = F(hi) - F(lo)
    above = lo >= mean  # both in the upper tail: p = S(lo) - S(hi)
    middle = ~(below | above)  # 1 - p = F(lo) + S(hi)
    if np.any(below):
        f_hi, f_lo = tail(hi, below, False), tail(lo, below, False)
        f_lo = np.where(lo <= q0[below], -np.inf, f_lo)
        f_hi = np.where(hi <= q0[below], -np.inf, f_hi)
        p = np.exp(f_hi) * -np.expm1(np.minimum(f_lo - f_hi, 0.0))
        out[below] = np.log1p(-p)
    if np.any(above):
        s_lo, s_hi = tail(lo, above, True), tail(hi, above, True)
        p = np.exp(s_lo) * -np.expm1(np.minimum(s_hi - s_lo, 0.0))
        out[above] = np.log1p(-p)
    if np.any(middle):
        f_lo = np.where(lo <= q0[middle], -np.inf, tail(lo, middle, False))
        s_hi = tail(hi, middle, True)
        out[middle] = np.logaddexp(f_lo, s_hi)
    return out


def _draw_coverage_queries(
    eigenvalues: ArrayLike, n_y: int, seed: int
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Standard normal draws for ``y``: ``g`` ``[n_y, D]`` on the non-zero eigenvalues and ``chi2_{N-D}`` ``[n_y]``."""
    rng = np.random.default_rng(seed)
    lam = np.asarray(eigenvalues, dtype=np.float64)
    n_zero = int(np.sum(lam <= 0))
    g = rng.standard_normal((n_y, int(np.sum(lam > 0))))
    q = rng.chisquare(n_zero, n_y) if n_zero else np.zeros(n_y)
    return lam[lam > 0], n_zero, g, q


def _coverage_samples(
    sigma: float, n_points: int, lam: np.ndarray, n_zero: int, g: np.ndarray, q: np.ndarray, c: float
) -> np.ndarray:
    dim = lam.size + n_zero
    r_in2, r_out2 = shell_radii_squared(dim, c)
    out = np.empty(g.shape[0])
    block = max(1, 2**21 // (_V_NODES.size * max(1, lam.size)))  # ~32 MiB of complex temporaries
    for start in range(0, g.shape[0], block):
        sl = slice(start, start + block)
        y2 = (lam + sigma**2) * g[sl] ** 2  # y_i^2 with y ~ N(0, lambda_i + sigma^2)
        q0 = sigma**2 * q[sl]  # zero eigenvalues: y_i = sigma z_i
        out[sl] = _covered_probability(_log_one_minus_p(sigma**2 * r_in2, sigma**2 * r_out2, lam, y2, q0), float(n_points))
    return out


def coverage_spectrum(
    sigma: ArrayLike, n_points: int, eigenvalues: ArrayLike, *, c: float = 5.0, n_y: int = 1024, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Expected coverage for ``N(0, C)`` data with eigenvalues ``eigenvalues`` ``[N]`` (zeros allowed:
    low-rank / linear HMM), by Monte Carlo over ``n_y`` queries ``y`` with the exact inner probability.

    Returns ``(value, stderr)`` arrays of the shape of ``sigma``; the same ``y`` draws (``seed``) are
    used at every sigma.
    """
    sig = _check_range("sigma", sigma, low=0.0)
    if int(n_points) != n_points or n_points < 1:
        raise ConfigError(f"n_points={n_points!r} is out of range: expected an integer >= 1")
    lam = _check_range("eigenvalues", eigenvalues, low=0.0, low_closed=True)
    if lam.ndim != 1 or not np.any(lam > 0):
        raise ConfigError("eigenvalues must be a 1-D array with at least one positive entry")
    lam_pos, n_zero, g, q = _draw_coverage_queries(lam, n_y, seed)
    vals, errs = [], []
    for s in sig.ravel():
        cov = _coverage_samples(float(s), n_points, lam_pos, n_zero, g, q, c)
        vals.append(cov.mean())
        errs.append(cov.std(ddof=1) / math.sqrt(cov.size))
    return np.array(vals).reshape(sig.shape), np.array(errs).reshape(sig.shape)


def coverage_edge_spectrum(n_points: int, eigenvalues: ArrayLike, *, c: float = 5.0, level: float = 0.5, n_y: int = 512, seed: int = 0) -> float:
    """``sigma_cov`` for ``N(0, C)`` data: the C = ``level`` crossing of :func:`coverage_spectrum`
    (common random numbers across sigma, so the bisection sees a smooth, monotone curve)."""
    lam = _check_range("eigenvalues", eigenvalues, low=0.0, low_closed=True)
    lam_pos, n_zero, g, q = _draw_coverage_queries(lam, n_y, seed)
    return _bisect_log_sigma(
        lambda s: _coverage_samples(s, n_points, lam_pos, n_zero, g, q, c).mean() - level, lo=-4.0, hi=4.0, iters=24
    )


def marchenko_pastur_eigenvalues(dim: int, alpha_d: float) -> np.ndarray:
    """A deterministic linear-HMM spectrum of size ``N``: the ``D = round(alpha_d N)`` non-zero
    eigenvalues ``mu / alpha_d`` at the midpoint quantiles ``(k - 1/2) / D`` of Marchenko-Pastur
    (ratio ``alpha_d``, mean 1), and ``N - D`` zeros (THEORY.md section 2). Used for trends in N
    and ``alpha_d`` without the noise of one random feature matrix."""
    if int(dim) != dim or dim < 1:
        raise ConfigError(f"dim={dim!r} is out of range: expected an integer >= 1")
    ad = float(_check_range("alpha_d", alpha_d, low=0.0, high=1.0, high_closed=True))
    d = max(1, round(ad * dim))
    a, b = (1.0 - math.sqrt(ad)) ** 2, (1.0 + math.sqrt(ad)) ** 2
    grid = np.linspace(a, b, 20001)
    dens = np.sqrt(np.maximum((b - grid) * (grid - a), 0.0)) / (2.0 * math.pi * ad * grid)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    cdf /= cdf[-1]
    mu = np.interp((np.arange(d) + 0.5) / d, cdf, grid)
    mu *= 1.0 / mu.mean()  # mean 1 exactly (tr C / N = alpha_d <mu / alpha_d> = 1)
    return np.sort(np.concatenate([mu / ad, np.zeros(dim - d)]))[::-1]


# ----------------------------------------------------------------------------- large-noise linearity


def gaussian_moments(points: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``abar`` ``[N]`` and covariance ``S = (1/P) sum_i (a_i - abar)(a_i - abar)^T`` ``[N, N]``
    of a point set ``[P, N]`` (the empirical distribution's own moments, float64)."""
    a = np.asarray(points, dtype=np.float64)
    mean = a.mean(0)
    c = a - mean
    return mean, c.T @ c / a.shape[0]


def wiener_denoiser(y: ArrayLike, mean: ArrayLike, cov: ArrayLike, sigma: ArrayLike) -> np.ndarray:
    """Linear (Wiener) denoiser ``mean + S (S + sigma^2 I)^{-1} (y - mean)`` in the VE clock
    ``y = x + sigma z``; exact posterior mean for Gaussian data ``N(mean, S)``.

    ``y`` ``[..., N]``, ``sigma`` scalar or broadcastable to ``y.shape[:-1]``; ``cov`` symmetric PSD
    ``[N, N]`` (zero eigenvalues allowed). Uses the eigendecomposition of ``cov``.
    """
    y = np.asarray(y, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    lam, u = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    lam = np.clip(lam, 0.0, None)
    s2 = np.square(np.asarray(sigma, dtype=np.float64))[..., None]
    coef = (y - mean) @ u  # [..., N] in the eigenbasis
    return mean + (coef * lam / (lam + s2)) @ u.T


def linearity_gap_leading(y: ArrayLike, points: ArrayLike, sigma: ArrayLike) -> np.ndarray:
    """Leading large-sigma term of ``D_e(y) - D_lin(y)`` (module docstring):
    ``(1 / 2 sigma^2) E_i[c_i ((c_i.zhat)^2 - |c_i|^2)]``, ``zhat = (y - abar) / sigma``,
    ``c_i = a_i - abar``; ``y`` ``[..., N]``, ``points`` ``[P, N]``. Vanishes for a centrally
    symmetric point set; its size sets the sigma above which the linear denoiser is accurate."""
    a = np.asarray(points, dtype=np.float64)
    mean = a.mean(0)
    c = a - mean
    sig = np.asarray(sigma, dtype=np.float64)[..., None]
    z = (np.asarray(y, dtype=np.float64) - mean) / sig
    proj = z @ c.T  # [..., P]
    weight = np.square(proj) - np.sum(c * c, axis=1)
    return (weight @ c) / a.shape[0] / (2.0 * np.square(sig))
