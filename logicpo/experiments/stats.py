"""Means, 95% intervals and paired differences over a few seeds.

With 2 to 10 seeds a normal interval (mean +- 1.96 standard errors) is too narrow and a
bootstrap has too few distinct resamples to mean anything, so every interval here is a
**Student-t interval**: ``mean +- t(0.975, n-1) * s / sqrt(n)``, with ``s`` the sample
standard deviation (``n - 1`` in the denominator). Comparisons are **paired**: run ``i`` of
two losses share seed ``i`` (the same data, initial weights and SFT warm-up), so the
interval is the t interval of the per-seed differences, which removes the seed-to-seed
variation both losses share.

>>> round(t_quantile(0.975, 4), 3)     # the textbook table's 2.776
2.776
>>> iv = mean_interval([1.0, 2.0, 3.0])   # mean 2, s = 1, t(0.975, 2) = 4.303
>>> round(iv.low, 4), round(iv.high, 4)
(-0.4841, 4.4841)
>>> paired_difference([0.6, 0.7, 0.8], [0.5, 0.5, 0.5]).verdict()   # 0.2 ± 0.248
'not distinguishable'
>>> paired_difference([0.6, 0.7, 0.8], [0.45, 0.55, 0.7]).verdict()  # 0.133 ± 0.072
'better'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

LEVEL = 0.95


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: int) -> float:
    """``P(T <= t)`` for Student's t with ``df`` degrees of freedom.

    >>> round(t_cdf(12.706, 1), 4)     # the table's 97.5% point for one degree of freedom
    0.975
    """
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t (bisection on :func:`t_cdf`, to 1e-12)."""
    if not 0.0 < p < 1.0 or df < 1:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df >= 1, not p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2.0
    while high - low > 1e-12 * max(1.0, high):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if t_cdf(mid, df) < p else (low, mid)
    return 0.5 * (low + high)


@dataclass(frozen=True)
class Interval:
    """The mean of ``n`` values and its t interval (``low``/``high`` are None for one value:
    one seed says nothing about noise)."""

    mean: float
    low: float | None
    high: float | None
    n: int
    sd: float | None

    @property
    def half_width(self) -> float | None:
        return None if self.low is None else (self.high - self.low) / 2

    def verdict(self, higher_is_better: bool = True) -> str:
        """``better`` / ``worse`` when the interval excludes 0 (for a difference), else
        ``not distinguishable``; ``one seed`` when there is no interval."""
        if self.low is None:
            return "one seed"
        if self.low > 0:
            return "better" if higher_is_better else "worse"
        if self.high < 0:
            return "worse" if higher_is_better else "better"
        return "not distinguishable"

    def to_json(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n,
                "sd": self.sd}

    def text(self, digits: int = 3) -> str:
        """``0.512 ± 0.031`` (or the mean alone, for one value)."""
        if self.low is None:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.half_width:.{digits}f}"


def mean_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """The mean of ``values`` and its two-sided Student-t interval at ``level``."""
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("an interval needs at least one value")
    n = len(xs)
    mean = math.fsum(xs) / n
    if n == 1:
        return Interval(mean, None, None, 1, None)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, sd)


def paired_difference(xs: Sequence[float], ys: Sequence[float],
                      level: float = LEVEL) -> Interval:
    """The t interval of ``x_i - y_i`` (pairs sharing a seed)."""
    if len(xs) != len(ys):
        raise ValueError(f"paired values need equal lengths, not {len(xs)} and {len(ys)}")
    return mean_interval([x - y for x, y in zip(xs, ys, strict=True)], level)
