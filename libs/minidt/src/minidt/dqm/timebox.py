"""The drift-time box fit: t0, t_max and the drift velocity 21 mm / (t_max - t0).

Model of the expected counts in a bin centred at t (width w):

    w * ( b + a * (1 + k * (t - t0) / (t_max - t0)) * Phi((t - t0) / s0) * Phi((t_max - t) / s1) )

a flat background b, a box of height a with a linear slope k, and two edges smeared by the
Gaussian resolution (Phi the normal CDF): t0 and t_max are the 50 % points of the edges, so
a resolution that is symmetric in time does not bias them. The background is not fitted but
measured: the mean rate in the side bands (t < -50 ns and t > t_max + 100 ns), because it is
often zero (only noise in triggered orbits lands there) and a parameter at its physical
bound has no defined uncertainty. The other six parameters maximise the
binned Poisson likelihood (Levenberg-Marquardt on the Fisher scoring step, widths fitted as
logarithms so they stay positive); their uncertainties are the square roots of the diagonal
of the inverse Fisher information at the optimum.

A fit that cannot be trusted says why instead of returning numbers: too few entries in the
box, no edge found to start from, no convergence within the iteration budget, or an
optimum outside the physical range (edges in the wrong order, widths above 50 ns).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from minidt.detector import MAX_DRIFT_MM

MIN_ENTRIES = 400
"""Hits inside the box below which no fit is attempted (each edge then holds ~10 hits per
5 ns bin, the least that pins a 4 ns edge to about a nanosecond)."""
MAX_ITERATIONS = 200
AT_FLOOR = -8.0
"""A log-width parameter below this has reached the width floor (exp(-8) = 0.3 ps)."""
MAX_EDGE_WIDTH_NS = 50.0
MIN_EDGE_WIDTH_NS = 0.5
"""Edge widths are fitted as 0.5 ns + exp(parameter): sharper edges than that are not
resolved by 5 ns bins anyway, and the floor keeps the optimum finite."""
_SQRT2 = math.sqrt(2.0)
PARAMETERS = ("height", "t0", "log_width0", "t_max", "log_width_max", "slope")


@dataclass(frozen=True)
class TimeBoxFit:
    """One fit's outcome; numbers are None unless ``converged``."""

    converged: bool
    message: str
    entries: int
    t0_ns: float | None = None
    t0_err_ns: float | None = None
    t_max_ns: float | None = None
    t_max_err_ns: float | None = None
    drift_velocity_um_per_ns: float | None = None
    drift_velocity_err_um_per_ns: float | None = None
    rise_ns: float | None = None
    """Width (sigma) of the rising edge."""
    fall_ns: float | None = None
    chi2_per_bin: float | None = None
    """Poisson deviance per bin: about 1 for a good fit."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _phi(z: np.ndarray) -> np.ndarray:
    """Normal CDF; erf is evaluated only within 8 sigma (elsewhere it is 0 or 1 to 1e-15),
    which is a few bins around each edge instead of the whole histogram."""
    out = (z > 0).astype(np.float64)
    near = np.abs(z) < 8.0
    inner = z[near] / _SQRT2
    out[near] = 0.5 * (1.0 + np.fromiter(map(math.erf, inner.tolist()), np.float64, len(inner)))
    return out


def _edge_mean(lo: np.ndarray, hi: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Mean of Phi((t - centre) / width) over each bin [lo, hi]: exact, from the primitive
    z Phi(z) + phi(z). Averaging (not sampling the centre) keeps the likelihood smooth in the
    edge position even when the edge is sharper than a bin."""

    def primitive(z: np.ndarray) -> np.ndarray:
        return z * _phi(z) + np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    zl, zh = (lo - centre) / width, (hi - centre) / width
    return width * (primitive(zh) - primitive(zl)) / (hi - lo)


def _widths(theta: np.ndarray) -> tuple[float, float]:
    """The edge widths; the exponent is clipped so a wild trial step cannot overflow."""
    return (
        MIN_EDGE_WIDTH_NS + math.exp(min(max(theta[2], -20.0), 6.0)),
        MIN_EDGE_WIDTH_NS + math.exp(min(max(theta[4], -20.0), 6.0)),
    )


def _model(theta: np.ndarray, lo: np.ndarray, hi: np.ndarray, b: float) -> np.ndarray:
    """Expected counts per bin; the two edges are 390 ns apart, so the bin mean of their
    product is the product of their bin means."""
    a, t0, _ls0, tm, _ls1, k = theta
    s0, s1 = _widths(theta)
    t = 0.5 * (lo + hi)
    span = max(tm - t0, 1.0)
    rise = _edge_mean(lo, hi, t0, s0)
    fall = 1.0 - _edge_mean(lo, hi, tm, s1)
    return np.maximum((hi - lo) * (b + a * (1.0 + k * (t - t0) / span) * rise * fall), 1e-9)


def _jacobian(theta: np.ndarray, lo: np.ndarray, hi: np.ndarray, b: float) -> np.ndarray:
    """Central differences: the model is cheap and six parameters make 12 evaluations."""
    steps = np.array([1e-3, 1e-3, 1e-4, 1e-3, 1e-4, 1e-5]) * np.maximum(1.0, np.abs(theta))
    cols = []
    for i, h in enumerate(steps):
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        cols.append((_model(up, lo, hi, b) - _model(down, lo, hi, b)) / (2 * h))
    return np.stack(cols, axis=1)


def _nll(theta: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: np.ndarray, b: float) -> float:
    mu = _model(theta, lo, hi, b)
    return float(np.sum(mu - n * np.log(mu)))


def _deviance(mu: np.ndarray, n: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n > 0, n * np.log(n / mu), 0.0)
    return float(2 * np.sum(mu - n + term))


def _start(t: np.ndarray, w: np.ndarray, n: np.ndarray, nominal_max_ns: float) -> np.ndarray | None:
    """Starting values from the histogram: outer background, inner plateau, half-height edges."""
    rate = n / w
    outside = (t < -50.0) | (t > nominal_max_ns + 100.0)
    b = float(np.mean(rate[outside])) if np.any(outside) else 0.0
    inner = (t > 0.15 * nominal_max_ns) & (t < 0.85 * nominal_max_ns)
    plateau = float(np.median(rate[inner])) if np.any(inner) else float(rate.max())
    a = plateau - b
    if a <= 0:
        return None
    above = np.flatnonzero(rate > b + a / 2)
    if len(above) < 2:
        return None
    t0, tm = float(t[above[0]]), float(t[above[-1]])
    if tm - t0 < 0.25 * nominal_max_ns:
        return None
    return np.array([a, t0, math.log(3.5), tm, math.log(3.5), 0.0]), b


def fit_time_box(
    edges: Any, counts: Any, nominal_max_ns: float = MAX_DRIFT_MM / 0.0538
) -> TimeBoxFit:
    """Fit one drift-time histogram (bin edges in ns and counts, as in dtmon.batch.v1)."""
    e = np.asarray(edges, dtype=np.float64)
    n = np.asarray(counts, dtype=np.float64)
    lo, hi = e[:-1], e[1:]
    t, w = 0.5 * (lo + hi), hi - lo
    in_box = int(n[(t > 0) & (t < nominal_max_ns)].sum())
    if in_box < MIN_ENTRIES:
        return TimeBoxFit(
            False, f"too few entries: {in_box} in the box, {MIN_ENTRIES} needed", in_box
        )
    start = _start(t, w, n, nominal_max_ns)
    if start is None:
        return TimeBoxFit(False, "no time box found: no plateau with two edges", in_box)
    theta, b = start
    lam = 1e-3
    nll = _nll(theta, lo, hi, n, b)
    converged = False
    for _ in range(MAX_ITERATIONS):
        mu = _model(theta, lo, hi, b)
        jac = _jacobian(theta, lo, hi, b)
        info = jac.T @ (jac / mu[:, None])
        grad = jac.T @ ((n - mu) / mu)
        improved = False
        while lam < 1e12:
            step_matrix = info + lam * np.diag(np.diag(info) + 1e-12)
            try:
                step = np.linalg.solve(step_matrix, grad)
            except np.linalg.LinAlgError:
                lam *= 10
                continue
            trial = theta + step
            trial_nll = _nll(trial, lo, hi, n, b)
            if np.isfinite(trial_nll) and trial_nll <= nll:
                improved = True
                break
            lam *= 10
        if not improved:
            # No step lowers the likelihood any more: a minimum if the Newton decrement
            # (the decrease a full step would promise) is negligible.
            try:
                converged = bool(grad @ np.linalg.solve(info, grad) < 1e-4)
            except np.linalg.LinAlgError:
                converged = False
            break
        change = nll - trial_nll
        theta, nll = trial, trial_nll
        lam = max(lam / 10, 1e-9)
        if change < 1e-7 * max(1.0, abs(nll)) and np.all(np.abs(step) < 1e-4 * (1 + np.abs(theta))):
            converged = True
            break
    if not converged:
        return TimeBoxFit(False, f"no convergence within {MAX_ITERATIONS} iterations", in_box)
    return _result(theta, lo, hi, n, b, in_box)


def _result(
    theta: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: np.ndarray, b: float, in_box: int
) -> TimeBoxFit:
    mu = _model(theta, lo, hi, b)
    jac = _jacobian(theta, lo, hi, b)
    info = jac.T @ (jac / mu[:, None])
    # A width at its floor is a parameter at a bound: held fixed for the covariance.
    free = np.array([True, True, theta[2] > AT_FLOOR, True, theta[4] > AT_FLOOR, True])
    cov = np.zeros_like(info)
    try:
        cov[np.ix_(free, free)] = np.linalg.inv(info[np.ix_(free, free)])
    except np.linalg.LinAlgError:
        return TimeBoxFit(False, "singular Fisher information: parameters not determined", in_box)
    var = np.diag(cov)[free]
    if not np.all(np.isfinite(var)) or np.any(var <= 0):
        return TimeBoxFit(False, "covariance not positive: parameters not determined", in_box)
    a, t0, _ls0, tm, _ls1, _k = theta
    s0, s1 = _widths(theta)
    if a <= 0 or tm <= t0 or max(s0, s1) > MAX_EDGE_WIDTH_NS:
        return TimeBoxFit(
            False,
            f"unphysical optimum (t0 {t0:.1f} ns, t_max {tm:.1f} ns, edges {s0:.1f}/{s1:.1f} ns)",
            in_box,
        )
    span = tm - t0
    var = np.diag(cov)
    span_err = math.sqrt(max(var[1] + var[3] - 2 * cov[1, 3], 0.0))
    v = MAX_DRIFT_MM * 1000.0 / span
    return TimeBoxFit(
        converged=True,
        message="ok",
        entries=in_box,
        t0_ns=float(t0),
        t0_err_ns=float(math.sqrt(var[1])),
        t_max_ns=float(tm),
        t_max_err_ns=float(math.sqrt(var[3])),
        drift_velocity_um_per_ns=float(v),
        drift_velocity_err_um_per_ns=float(v * span_err / span),
        rise_ns=float(s0),
        fall_ns=float(s1),
        chi2_per_bin=_deviance(mu, n) / len(n),
    )
