"""The Poisson and binomial tails against exact rational sums, tiny tails included."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from minidt.dqm.special import binom_sf, poisson_sf


def _poisson_tail_exact(k: int, mu: int) -> float:
    """P(X >= k) = 1 - sum_{i<k} e^-mu mu^i / i!, the sum in exact rationals."""
    head = sum(Fraction(mu**i, math.factorial(i)) for i in range(k))
    return float(1 - head * Fraction(math.exp(-mu)))


def _binom_tail_exact(k: int, n: int, p: Fraction) -> float:
    return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)))


@pytest.mark.parametrize(("k", "mu"), [(1, 3), (5, 3), (12, 3), (30, 10), (60, 20), (3, 20)])
def test_poisson_tail(k: int, mu: int) -> None:
    assert poisson_sf(k, mu) == pytest.approx(_poisson_tail_exact(k, mu), rel=1e-9, abs=1e-15)


def test_poisson_tiny_tail_is_not_rounded_to_zero_or_one() -> None:
    # P(X >= 40 | 8): the sum of the pmf from 40 on, well below double-precision 1 - x.
    exact = sum(math.exp(-8 + i * math.log(8) - math.lgamma(i + 1)) for i in range(40, 200))
    assert exact < 1e-14
    assert poisson_sf(40, 8.0) == pytest.approx(exact, rel=1e-8)


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [
        (3, 10, Fraction(1, 10)),
        (50, 100, Fraction(3, 10)),
        (10, 10, Fraction(1, 2)),
        (1, 7, Fraction(1, 3)),
        (40, 60, Fraction(1, 5)),
    ],
)
def test_binomial_tail(k: int, n: int, p: Fraction) -> None:
    got = binom_sf(k, n, float(p))
    assert got == pytest.approx(_binom_tail_exact(k, n, p), rel=1e-9, abs=1e-300)


def test_edges_and_broadcasting() -> None:
    assert poisson_sf(0, 5.0) == 1.0 and poisson_sf(3, 0.0) == 0.0
    assert binom_sf(0, 5, 0.3) == 1.0 and binom_sf(6, 5, 0.3) == 0.0
    out = binom_sf(np.array([[1, 2], [3, 4]]), 10, 0.2)
    assert out.shape == (2, 2) and np.all(np.diff(out.reshape(-1)) < 0)
