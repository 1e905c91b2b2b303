"""The forecast model (AQ 预判), pure: numbers in, numbers out, no database. docs/forecast.md explains it.

Per fan i: a join probability p_i (the fan's own past join record, Beta-shrunk towards the shop's join
rate, itself shrunk towards the platform's; times the recommender's relative lift for the product), and a
variant distribution pi_i (tag-conditioned shares with Dirichlet smoothing, naive Bayes over the fan's
tags). Expected units of variant v = sum_i p_i * pi_iv * mean quantity. The 80% interval is the 10th-90th
percentile of a seeded Monte Carlo: a campaign-level multiplier theta ~ Gamma(mean 1, var phi) (campaigns
of one shop differ more than coin flips say), then Bernoulli joins, categorical variants and quantities
drawn from the shop's past pledge sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

FAN_PRIOR_STRENGTH = 2.0  # a fan's own record counts as much as this many campaigns of the shop's rate
SHOP_PRIOR_FANS = 200.0  # the shop's rate is shrunk towards the platform's with this many fan-campaigns
TAG_PRIOR_STRENGTH = 5.0  # Dirichlet pseudo-counts per tag, spread by the overall variant share
RATIO_CLIP = (0.2, 5.0)  # one tag moves a variant's odds by at most 5x: no tag decides alone
SCORE_LIFT = 0.5  # exp(SCORE_LIFT * z) for a recommender score z standard deviations above the mean
P_MAX = 0.95
DRAWS = 2000
LOW_Q, HIGH_Q = 10.0, 90.0  # the 80% interval


@dataclass(frozen=True)
class FanInput:
    """One fan who may join: past joins out of past campaigns seen, the recommender's score, tag ids."""

    joins: int
    exposures: int
    score: float | None
    tags: tuple[int, ...] = ()


@dataclass
class History:
    """What the past says, already restricted to before the forecast's as-of time."""

    shop_joins: int = 0  # sum over the shop's past campaigns of fans who pledged
    shop_reach: int = 0  # sum over the shop's past campaigns of fans it could have reached
    shop_rates: list[float] = field(default_factory=list)  # per past campaign: joins / reach
    shop_reaches: list[int] = field(default_factory=list)
    platform_rate: float = 0.05
    platform_phi: float = 0.15
    quantities: list[int] = field(default_factory=list)  # past pledge sizes (shop, else platform)
    # (tag ids of the pledger, choice index, weight): past pledges on the choices offered now
    choice_pledges: list[tuple[tuple[int, ...], int, float]] = field(default_factory=list)


@dataclass(frozen=True)
class ChoiceForecast:
    expected: float
    low: int
    high: int


def shop_join_rate(history: History) -> float:
    """The shop's fans-who-pledge rate per campaign, shrunk towards the platform's (Beta prior)."""
    return (history.shop_joins + SHOP_PRIOR_FANS * history.platform_rate) / (
        history.shop_reach + SHOP_PRIOR_FANS
    )


def dispersion(rates: Sequence[float], reaches: Sequence[int], *, prior: float) -> float:
    """phi, the campaign-to-campaign variance of the join rate relative to its mean (squared CV), beyond
    what binomial noise explains; method of moments, shrunk towards `prior` with 3 campaigns' weight."""
    n = len(rates)
    if n >= 2:
        mean = float(np.mean(rates))
        if mean > 0:
            cv2 = float(np.var(rates, ddof=1)) / mean**2
            binom = float(np.mean([(1 - mean) / (mean * max(r, 1)) for r in reaches]))
            own = max(cv2 - binom, 0.0)
            return (n * own + 3 * prior) / (n + 3)
    return prior


def fan_probabilities(fans: Sequence[FanInput], history: History) -> np.ndarray:
    rate = shop_join_rate(history)
    own = np.array(
        [(f.joins + FAN_PRIOR_STRENGTH * rate) / (f.exposures + FAN_PRIOR_STRENGTH) for f in fans],
        dtype=float,
    )
    scored = np.array([f.score for f in fans if f.score is not None], dtype=float)
    lift = np.ones(len(fans))
    if len(scored) >= 2 and float(scored.std()) > 0:
        mean, std = float(scored.mean()), float(scored.std())
        z = np.array([((f.score - mean) / std) if f.score is not None else 0.0 for f in fans])
        lift = np.exp(SCORE_LIFT * np.clip(z, -3, 3))
        lift /= lift.mean()  # the scores say who, the join record says how many
    return np.clip(own * lift, 0.0, P_MAX)


def choice_shares(fans: Sequence[FanInput], history: History, n_choices: int) -> np.ndarray:
    """pi[i, v]: fan i's chance of choosing v if they join. Naive Bayes over tags, Dirichlet-smoothed."""
    counts = np.zeros(n_choices)
    by_tag: dict[int, np.ndarray] = {}
    for tags, choice, weight in history.choice_pledges:
        counts[choice] += weight
        for t in tags:
            by_tag.setdefault(t, np.zeros(n_choices))[choice] += weight
    base = (counts + 1.0) / (counts.sum() + n_choices)
    lo, hi = RATIO_CLIP
    ratios: dict[int, np.ndarray] = {
        t: np.clip(((c + TAG_PRIOR_STRENGTH * base) / (c.sum() + TAG_PRIOR_STRENGTH)) / base, lo, hi)
        for t, c in by_tag.items()
    }
    out = np.empty((len(fans), n_choices))
    for i, f in enumerate(fans):
        row = base.copy()
        for t in f.tags:
            if t in ratios:
                row = row * ratios[t]
        out[i] = row / row.sum()
    return out


def _interval(draws: np.ndarray, expected: float) -> ChoiceForecast:
    low = int(math.floor(np.percentile(draws, LOW_Q)))
    high = int(math.ceil(np.percentile(draws, HIGH_Q)))
    # The interval always holds the expectation, even when a skewed draw puts it past a quantile.
    return ChoiceForecast(round(expected, 1), min(low, math.floor(expected)), max(high, math.ceil(expected)))


def forecast(
    fans: Sequence[FanInput], history: History, n_choices: int, *, seed: int = 0, draws: int = DRAWS
) -> tuple[list[ChoiceForecast], ChoiceForecast]:
    """Expected units and the 80% interval per choice (variant or design combination), and for them all."""
    if n_choices <= 0 or not fans:
        zero = ChoiceForecast(0.0, 0, 0)
        return [zero for _ in range(max(n_choices, 0))], zero
    p = fan_probabilities(fans, history)
    pi = choice_shares(fans, history, n_choices)
    qty = np.array(history.quantities or [1], dtype=float)
    expected = (p[:, None] * pi).sum(axis=0) * float(qty.mean())
    phi = dispersion(history.shop_rates, history.shop_reaches, prior=history.platform_phi)
    rng = np.random.default_rng(seed)
    units = np.zeros((draws, n_choices))
    chunk = max(1, 2_000_000 // max(len(fans), 1))  # bounded memory for shops with many fans
    cum = np.cumsum(pi, axis=1)
    for start in range(0, draws, chunk):
        n = min(chunk, draws - start)
        theta = rng.gamma(1.0 / phi, phi, size=(n, 1)) if phi > 1e-9 else np.ones((n, 1))
        joined = rng.random((n, len(fans))) < np.clip(theta * p[None, :], 0, 1)
        u = rng.random((n, len(fans)))
        pick = (u[:, :, None] > cum[None, :, :]).sum(axis=2).clip(max=n_choices - 1)
        q = rng.choice(qty, size=(n, len(fans)))
        contrib = np.where(joined, q, 0.0)
        for v in range(n_choices):
            units[start : start + n, v] = (contrib * (pick == v)).sum(axis=1)
    per_choice = [_interval(units[:, v], float(expected[v])) for v in range(n_choices)]
    return per_choice, _interval(units.sum(axis=1), float(expected.sum()))


# --- the bench's metrics ------------------------------------------------------------------------------------


def mape(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Mean absolute percentage error over (forecast, actual) pairs with actual > 0 (a zero actual has no
    percentage; those count in coverage only)."""
    errors = [abs(f - a) / a for f, a in pairs if a > 0]
    return round(float(np.mean(errors)), 4) if errors else None


def coverage(triples: Sequence[tuple[float, float, float]]) -> float | None:
    """The share of (low, high, actual) with low <= actual <= high."""
    if not triples:
        return None
    return round(sum(1 for lo, hi, a in triples if lo <= a <= hi) / len(triples), 4)


def poisson_interval(mean: float) -> tuple[int, int]:
    """The naive baseline's 80% interval: the Poisson's 10th and 90th percentiles."""
    from scipy.stats import poisson

    if mean <= 0:
        return 0, 0
    return int(poisson.ppf(LOW_Q / 100, mean)), int(poisson.ppf(HIGH_Q / 100, mean))
