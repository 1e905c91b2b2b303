"""The selection rule's statistics: per-unit scores pooled over folds, a paired-bootstrap confirmation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A learned recipe replaces the best simple baseline only when it beats it on a second validation split
# (disjoint held-out part, never used for tuning) with this one-sided paired-bootstrap confidence.
CONFIRM_LEVEL = 0.95
BOOTSTRAP_SAMPLES = 2000


class PooledScores:
    """Per-unit selection scores over validation folds, by name (a ranker on some folds), averaged per unit.

    Held-out fans or items of different folds are disjoint (cold regimes), so pooling adds units; a warm
    fan appears in several folds with different held-out pairs and counts once, with the mean.
    """

    def __init__(self) -> None:
        self.sums: dict[str, dict[int, float]] = {}
        self.counts: dict[str, dict[int, int]] = {}

    def add(self, name: str, units: np.ndarray, values: np.ndarray) -> None:
        sums = self.sums.setdefault(name, {})
        counts = self.counts.setdefault(name, {})
        for unit, value in zip(units.tolist(), values.tolist(), strict=True):
            if value == value:  # not NaN: the metric is defined for this unit
                sums[unit] = sums.get(unit, 0.0) + value
                counts[unit] = counts.get(unit, 0) + 1

    def units(self, *names: str) -> list[int]:
        """Units measured under every name (names may be folds of one ranker or rankers to pair)."""
        sets = [set(self.sums.get(name, {})) for name in names]
        return sorted(set.intersection(*sets)) if sets else []

    def values(self, units: list[int], *names: str) -> np.ndarray:
        """Per unit, the mean over every (name, fold) that measured it."""
        out = np.empty(len(units), dtype=np.float64)
        for index, unit in enumerate(units):
            total = sum(self.sums.get(name, {}).get(unit, 0.0) for name in names)
            count = sum(self.counts.get(name, {}).get(unit, 0) for name in names)
            out[index] = total / count
        return out

    def mean(self, *names: str) -> float:
        """Mean over every unit measured under any of `names` (-1 if none)."""
        units = sorted(set().union(*(set(self.sums.get(name, {})) for name in names)))
        return float(self.values(units, *names).mean()) if units else -1.0


def paired_bootstrap_lower(delta: np.ndarray, *, level: float, samples: int, seed: int) -> float:
    """One-sided lower confidence bound of mean(delta), resampling entities (pairs stay together)."""
    delta = delta[~np.isnan(delta)]
    if delta.size < 2:
        return -np.inf
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // delta.size)
    means = [
        delta[rng.integers(0, delta.size, size=(min(chunk, samples - start), delta.size))].mean(axis=1)
        for start in range(0, samples, chunk)
    ]
    return float(np.quantile(np.concatenate(means), 1.0 - level))


@dataclass(frozen=True)
class Confirmation:
    """The challenger (best learned recipe on the tuning split) against the best baseline, on fresh data."""

    challenger: str
    baseline: str
    n: int  # entities on the confirmation split(s) with the metric defined
    delta: float  # mean per-entity difference, challenger - baseline
    lower: float  # its one-sided lower confidence bound
    level: float
    folds: int = 1  # validation folds pooled for the confirmation

    @property
    def accepted(self) -> bool:
        return self.lower > 0

    def describe(self, metric: str) -> str:
        verdict = "serving it" if self.accepted else f"keeping {self.baseline}"
        where = "a second validation split" if self.folds == 1 else f"{self.folds} further validation splits"
        return (
            f"{self.challenger} vs {self.baseline} on {where}: {metric} "
            f"{self.delta:+.4f} over {self.n}, {self.level:.0%} lower bound {self.lower:+.4f}: {verdict}"
        )


def confirm(
    challenger: np.ndarray, baseline: np.ndarray, *, names: tuple[str, str], seed: int, folds: int = 1
) -> Confirmation:
    """The selection rule: a challenger replaces the baseline only if it is better by more than noise."""
    both = ~(np.isnan(challenger) | np.isnan(baseline))
    delta = challenger[both] - baseline[both]
    return Confirmation(
        challenger=names[0],
        baseline=names[1],
        n=int(delta.size),
        delta=float(delta.mean()) if delta.size else 0.0,
        lower=paired_bootstrap_lower(delta, level=CONFIRM_LEVEL, samples=BOOTSTRAP_SAMPLES, seed=seed),
        level=CONFIRM_LEVEL,
        folds=folds,
    )
