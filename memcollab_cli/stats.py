"""Small-sample statistics for accuracy: one proportion, and two conditions on the same tasks.

Every condition of an evaluation sees the same tasks, so a bank is compared with no memory task
by task (paired), not as two independent samples: the pairing removes the task-difficulty noise
that dominates a few hundred problems.

- `wilson_interval(k, n)`: Wilson score interval for k successes in n (Wilson 1927). Unlike the
  textbook p ± z·se it stays inside [0, 1] and keeps its coverage near 0 and 1, where small models
  live (1/40 correct).
- `paired_difference(a, b, c, d)`: difference of two paired proportions with Newcombe's
  square-and-add interval for paired data ("method 10", Newcombe 1998, Stat Med 17:2635), which
  combines the two Wilson intervals with the estimated correlation between the conditions. It is
  the interval Altman's "Statistics with confidence" recommends; at n=100 the Wald interval on
  per-task differences undercovers and can leave [-1, 1].
- `mcnemar_exact(b, c)`: exact McNemar test, the two-sided binomial test of b against b + c
  discordant tasks at p = 1/2 (doubling the smaller tail, capped at 1).

- `paired_means(xs, ys)`: the mean of per-task differences of a count (turns), with a normal
  95% interval (mean ± 1.96·sd/√n; fine from a few dozen tasks, the sizes reported here) and the
  exact sign test of tasks where X is lower against tasks where it is higher (ties dropped).

- `detectable_effect(n, discordant)`: the smallest paired difference an exact-McNemar-sized
  comparison of n tasks detects with 80% power at two-sided alpha 0.05, given the observed
  share of discordant tasks (Connor 1987's normal approximation, solved for the difference).

Left out: multiple-comparison correction across banks (the table reports raw p-values; with four
banks read them against 0.05/4), continuity-corrected variants, and anything needing scipy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)  # 1.959964…


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials; (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise ValueError(f"successes {k} not in 0..{n}")
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At k = 0 (k = n) the exact bound is 0 (1); floating point leaves ±1e-17 there.
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class PairedDifference:
    """Condition X minus condition Y over the same n tasks.

    The 2×2 table of outcomes: `both` right in both, `wins` right only under X, `losses` right
    only under Y, `neither` wrong in both. `diff` = (wins - losses) / n.
    """

    n: int
    both: int
    wins: int
    losses: int
    neither: int
    diff: float
    low: float
    high: float
    p_value: float  # exact McNemar, two-sided

    @property
    def detectable(self) -> float | None:
        """Smallest difference these n tasks detect (80% power, alpha 0.05; see
        `detectable_effect`)."""
        return detectable_effect(self.n, self.wins + self.losses)

    def to_dict(self) -> dict:
        return asdict(self)


def paired_difference(both: int, wins: int, losses: int, neither: int,
                      z: float = Z95) -> PairedDifference:
    """Newcombe's paired square-and-add interval for p_X - p_Y, plus the exact McNemar p-value.

    p_X = (both + wins) / n, p_Y = (both + losses) / n. Reference: Newcombe (1998) method 10,
    as in R's contingencytables::Newcombe_square_and_add_CI_paired_2x2.
    """
    n = both + wins + losses + neither
    if n == 0:
        return PairedDifference(0, 0, 0, 0, 0, 0.0, -1.0, 1.0, 1.0)
    x_right, y_right = both + wins, both + losses
    p1, p2 = x_right / n, y_right / n
    l1, u1 = wilson_interval(x_right, n, z)
    l2, u2 = wilson_interval(y_right, n, z)
    phi = _phi(both, wins, losses, neither)
    diff = p1 - p2
    low = diff - math.sqrt(max(0.0, (p1 - l1) ** 2 + (u2 - p2) ** 2
                                - 2 * phi * (p1 - l1) * (u2 - p2)))
    high = diff + math.sqrt(max(0.0, (p2 - l2) ** 2 + (u1 - p1) ** 2
                                 - 2 * phi * (p2 - l2) * (u1 - p1)))
    return PairedDifference(n, both, wins, losses, neither, diff, max(-1.0, low), min(1.0, high),
                            mcnemar_exact(wins, losses))


def _phi(a: int, b: int, c: int, d: int) -> float:
    """Newcombe's estimate of the correlation between the two conditions' outcomes.

    subtle: a positive a·d - b·c is shrunk by n/2 (a continuity correction, floored at 0), which
    keeps the interval from becoming too narrow when the two conditions agree on most tasks.
    """
    n = a + b + c + d
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    if margins == 0:
        return 0.0
    cross = a * d - b * c
    if cross > n / 2:
        cross -= n / 2
    elif cross >= 0:
        cross = 0
    return cross / math.sqrt(margins)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: binomial test of b successes in b + c at p = 1/2."""
    m = b + c
    if m == 0:
        return 1.0
    k = min(b, c)
    # Exact integer arithmetic: sum of C(m, i) for i <= k, over 2^m.
    tail = sum(math.comb(m, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2 ** m)


Z_POWER80 = NormalDist().inv_cdf(0.80)  # 0.841621…


def detectable_effect(n: int, discordant: int, z_alpha: float = Z95,
                      z_power: float = Z_POWER80) -> float | None:
    """Smallest |p_X - p_Y| that n paired tasks detect (two-sided alpha 0.05, power 0.80).

    With psi = discordant / n, the paired sample size for a difference delta is (Connor 1987,
    Biometrics 43:207)
        n = (z_alpha * sqrt(psi) + z_power * sqrt(psi - delta^2))^2 / delta^2,
    solved here for delta by bisection on (0, sqrt(psi)]. None when nothing is discordant (the
    rate that sizes the test is unknown) or n is 0. Example: n = 100, psi = 0.2 gives 0.1238.
    """
    if n <= 0 or discordant <= 0:
        return None
    psi = discordant / n

    def needed(delta: float) -> float:
        return (z_alpha * math.sqrt(psi) + z_power * math.sqrt(max(0.0, psi - delta * delta))) ** 2 \
            / (delta * delta)

    low, high = 1e-9, min(1.0, math.sqrt(psi))  # needed() falls as delta grows
    if needed(high) > n:  # even the largest difference the rate allows needs more tasks
        return high
    for _ in range(100):
        mid = (low + high) / 2
        if needed(mid) > n:
            low = mid
        else:
            high = mid
    return high


@dataclass(frozen=True)
class PairedMeans:
    """Mean of X minus mean of Y over the same n tasks (say, turns), with the sign test.

    `lower`: tasks where X is below Y; `higher`: above; the rest tie."""

    n: int
    diff: float
    low: float
    high: float
    lower: int
    higher: int
    p_value: float  # exact two-sided sign test of lower against higher


def paired_means(xs: list[float], ys: list[float], z: float = Z95) -> PairedMeans:
    """Mean of xs[i] - ys[i], its normal interval, and the exact sign test (ties dropped)."""
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} values against {len(ys)}: pairs need the same tasks")
    diffs = [x - y for x, y in zip(xs, ys, strict=True)]
    n = len(diffs)
    if n == 0:
        return PairedMeans(0, 0.0, 0.0, 0.0, 0, 0, 1.0)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else 0.0
    half = z * sd / math.sqrt(n)
    lower, higher = sum(d < 0 for d in diffs), sum(d > 0 for d in diffs)
    return PairedMeans(n, mean, mean - half, mean + half, lower, higher,
                       mcnemar_exact(lower, higher))
