"""Synthetic fans, products and interactions for demos and tests (never for tuning).

Fans carry tags from the platform's vocabulary; products carry category, brand, price band and product tags
from the same vocabulary ("suits oily skin" is `skin_type:oily`). A fan's appetite for a product is

    popularity (long tail) + tag_strength * tag match + (1 - tag_strength) * hidden personal taste

so tag_strength=0 makes tags irrelevant and tag_strength=1 makes them decide (next to popularity).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# tag group -> values; the product category each group describes.
VOCABULARY: dict[str, tuple[str, ...]] = {
    "skin_type": ("dry", "combination", "oily", "normal", "sensitive"),
    "preference": ("value", "looks"),
    "household": ("baby", "pet", "elderly", "single", "family"),
    "fruit_taste": ("sweet", "sour", "crisp"),
    "clothing_size": ("S", "M", "L", "XL"),
}
CATEGORY_GROUP: dict[str, str] = {
    "beauty": "skin_type",
    "home": "preference",
    "baby": "household",
    "fruit": "fruit_taste",
    "clothing": "clothing_size",
}
PRICE_BANDS: tuple[str, ...] = ("low", "mid", "high")
TAG_COVERAGE = 0.85  # share of fans whose owner filled in each tag group
LATENT_DIM = 8
MATCH_SCALE = 3.0
TASTE_SCALE = 3.0


@dataclass(frozen=True)
class SyntheticData:
    interactions: list[tuple[str, str, int]]
    user_features: list[tuple[str, str]]
    item_features: list[tuple[str, str]]


def generate(
    *, users: int, items: int, tag_strength: float = 0.6, seed: int = 0, mean_interactions: float = 12.0
) -> SyntheticData:
    if not 0.0 <= tag_strength <= 1.0:
        raise ValueError("tag_strength must be between 0 and 1")
    rng = np.random.default_rng(seed)
    groups = list(VOCABULARY)
    categories = list(CATEGORY_GROUP)

    # Fans: one value per tag group, or unknown (-1) when the owner never tagged it.
    user_values = np.stack([rng.integers(0, len(VOCABULARY[g]), size=users) for g in groups], axis=1)
    user_values[rng.random((users, len(groups))) > TAG_COVERAGE] = -1

    # Products: a category; product tags for the category's group (1-2 values) and a price-band tag.
    item_category = rng.integers(0, len(categories), size=items)
    item_match = np.zeros((items, len(groups), max(len(v) for v in VOCABULARY.values())), dtype=np.float32)
    item_features: list[tuple[str, str]] = []
    price = rng.integers(0, len(PRICE_BANDS), size=items)
    for i in range(items):
        category = categories[item_category[i]]
        group = CATEGORY_GROUP[category]
        g = groups.index(group)
        item_id = f"i{i}"
        item_features.append((item_id, f"category:{category}"))
        item_features.append((item_id, f"brand:{category}_{rng.integers(0, 6)}"))
        item_features.append((item_id, f"price_band:{PRICE_BANDS[price[i]]}"))
        for value in rng.choice(len(VOCABULARY[group]), size=rng.integers(1, 3), replace=False):
            item_match[i, g, value] = 1.0
            item_features.append((item_id, f"{group}:{VOCABULARY[group][value]}"))
        # Cheap things suit value-seekers and pricey ones the looks-minded, across every category.
        pref = groups.index("preference")
        if group != "preference" and price[i] != 1:
            item_match[i, pref, 0 if price[i] == 0 else 1] = 0.5

    def tag_match(block: slice) -> np.ndarray:
        """+1 per matching value, -0.5 when the fan's known value in a targeted group is not served."""
        values = user_values[block]
        match = np.zeros((values.shape[0], items), dtype=np.float32)
        for g in range(len(groups)):
            known = values[:, g] >= 0
            targeted = item_match[:, g, :].sum(axis=1) > 0
            fits = item_match[:, g, :][:, np.clip(values[:, g], 0, None)].T  # users x items
            match += np.where(known[:, None], fits - 0.5 * (targeted[None, :] & (fits == 0)), 0.0)
        return match

    user_taste = rng.normal(size=(users, LATENT_DIM)) / np.sqrt(LATENT_DIM)
    item_taste = rng.normal(size=(items, LATENT_DIM))
    popularity = -1.1 * np.log(rng.permutation(items) + 1.0)  # Zipf-like long tail
    activity = np.clip(rng.lognormal(np.log(mean_interactions), 0.6, size=users).round(), 1, items // 2)

    interactions: list[tuple[str, str, int]] = []
    for start in range(0, users, 2048):
        stop = min(users, start + 2048)
        utility = (
            popularity[None, :]
            + tag_strength * MATCH_SCALE * tag_match(slice(start, stop))
            + (1.0 - tag_strength) * TASTE_SCALE * (user_taste[start:stop] @ item_taste.T)
        )
        # Gumbel top-n: n draws without replacement, proportional to exp(utility).
        noisy = utility + rng.gumbel(size=utility.shape)
        for row, u in enumerate(range(start, stop)):
            n = int(activity[u])
            chosen = np.argpartition(-noisy[row], n - 1)[:n]
            repeats = 1 + rng.poisson(0.3, size=n)
            interactions.extend((f"u{u}", f"i{i}", int(w)) for i, w in zip(chosen, repeats, strict=True))

    user_features = [
        (f"u{u}", f"{groups[g]}:{VOCABULARY[groups[g]][user_values[u, g]]}")
        for u in range(users)
        for g in range(len(groups))
        if user_values[u, g] >= 0
    ]
    return SyntheticData(interactions=interactions, user_features=user_features, item_features=item_features)


def write_csvs(data: SyntheticData, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "interactions": out / "interactions.csv",
        "user_features": out / "user_features.csv",
        "item_features": out / "item_features.csv",
    }
    for key, header, rows in (
        ("interactions", ("user_id", "item_id", "weight"), data.interactions),
        ("user_features", ("user_id", "feature"), data.user_features),
        ("item_features", ("item_id", "feature"), data.item_features),
    ):
        with open(paths[key], "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    return paths
