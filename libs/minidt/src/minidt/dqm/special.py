"""Upper-tail probabilities of the Poisson and binomial distributions, vectorised in numpy.

minidt depends on numpy only, so the regularised incomplete gamma and beta functions are
evaluated here (series and Lentz continued fractions, Numerical Recipes 6.2 and 6.4). Only the
branch that is accurate for *small* tail probabilities matters for the flags (a p-value of
1e-12 must not come out as 1 - (1 - 1e-12)), and both functions use it for every argument
above the mean. Checked against exact rational sums in the tests.
"""

from __future__ import annotations

import math

import numpy as np

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITER = 10_000

_lgamma = np.vectorize(math.lgamma, otypes=[np.float64])


def _gamma_series(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """P(a, x) by its power series; converges quickly for x < a + 1."""
    term = 1.0 / a
    total = term.copy()
    ap = a.copy()
    for _ in range(_MAX_ITER):
        ap = ap + 1.0
        term = term * x / ap
        total = total + term
        if np.all(np.abs(term) < np.abs(total) * _EPS):
            break
    return total * np.exp(-x + a * np.log(x) - _lgamma(a))


def _gamma_cf(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Q(a, x) = 1 - P(a, x) by its continued fraction; converges for x > a + 1."""
    b = x + 1.0 - a
    c = np.full_like(x, 1.0 / _TINY)
    d = 1.0 / b
    h = d.copy()
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b = b + 2.0
        d = an * d + b
        d = np.where(np.abs(d) < _TINY, _TINY, d)
        c = b + an / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        d = 1.0 / d
        delta = d * c
        h = h * delta
        if np.all(np.abs(delta - 1.0) < _EPS):
            break
    return np.exp(-x + a * np.log(x) - _lgamma(a)) * h


def poisson_sf(k: object, mu: object) -> np.ndarray:
    """P(X >= k) for X ~ Poisson(mu): the regularised lower incomplete gamma P(k, mu)."""
    k_arr, mu_arr = np.broadcast_arrays(
        np.asarray(k, dtype=np.float64), np.asarray(mu, dtype=np.float64)
    )
    out = np.ones(k_arr.shape, dtype=np.float64)
    pos = k_arr > 0
    zero_mu = pos & (mu_arr <= 0)
    out[zero_mu] = 0.0
    work = pos & (mu_arr > 0)
    series = work & (mu_arr < k_arr + 1.0)
    cf = work & ~series
    if np.any(series):
        out[series] = _gamma_series(k_arr[series], mu_arr[series])
    if np.any(cf):
        out[cf] = 1.0 - _gamma_cf(k_arr[cf], mu_arr[cf])
    return np.clip(out, 0.0, 1.0)


def _beta_cf(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
    h = d.copy()
    for m in range(1, _MAX_ITER):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        h = h * d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        delta = d * c
        h = h * delta
        if np.all(np.abs(delta - 1.0) < _EPS):
            break
    return h


def _betainc(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Regularised incomplete beta I_x(a, b) for 0 < x < 1, a, b > 0."""
    front = np.exp(_lgamma(a + b) - _lgamma(a) - _lgamma(b) + a * np.log(x) + b * np.log1p(-x))
    direct = x < (a + 1.0) / (a + b + 2.0)
    out = np.empty_like(x)
    if np.any(direct):
        out[direct] = front[direct] * _beta_cf(a[direct], b[direct], x[direct]) / a[direct]
    flip = ~direct
    if np.any(flip):
        out[flip] = 1.0 - front[flip] * _beta_cf(b[flip], a[flip], 1.0 - x[flip]) / b[flip]
    return out


def binom_sf(k: object, n: object, p: object) -> np.ndarray:
    """P(X >= k) for X ~ Binomial(n, p): I_p(k, n - k + 1)."""
    k_arr, n_arr, p_arr = np.broadcast_arrays(
        np.asarray(k, dtype=np.float64),
        np.asarray(n, dtype=np.float64),
        np.asarray(p, dtype=np.float64),
    )
    out = np.zeros(k_arr.shape, dtype=np.float64)
    out[k_arr <= 0] = 1.0
    inside = (k_arr > 0) & (k_arr <= n_arr)
    out[inside & (p_arr >= 1.0)] = 1.0
    work = inside & (p_arr > 0.0) & (p_arr < 1.0)
    if np.any(work):
        kk = k_arr[work]
        out[work] = _betainc(kk, n_arr[work] - kk + 1.0, p_arr[work])
    return np.clip(out, 0.0, 1.0)
