"""What can be served: ranker recipes (RankerSpec), fitting one on any train set, and the LightFM grid."""

from __future__ import annotations

from dataclasses import dataclass

from recommend.data import TrainSet
from recommend.rankers import (
    ALSRanker,
    BlendRanker,
    ContentRanker,
    EASERanker,
    ItemKNNRanker,
    LightFMConfig,
    LightFMRanker,
    PopularityRanker,
    Ranker,
    TagPopularityRanker,
)


@dataclass(frozen=True)
class RankerSpec:
    """A recipe for a ranker: fit it on any TrainSet and get the same kind of model."""

    kind: str  # popularity | tag_popularity | content | ease | item_knn | als | lightfm | blend
    config: LightFMConfig | None = None
    blend_with: str = ""
    weight: float = 0.0
    # Hyper-parameters of a collaborative ranker (ease, item_knn, als), or of a blend's partner.
    params: tuple[tuple[str, float], ...] = ()

    @property
    def name(self) -> str:
        if self.kind == "lightfm":
            assert self.config is not None
            return "lightfm_hybrid" if self.config.features else "lightfm_pure"
        if self.kind == "blend":
            assert self.config is not None
            base = "lightfm_hybrid" if self.config.features else "lightfm_pure"
            return f"{base}+{self.weight:g}*{self.blend_with}"
        return self.kind

    @property
    def partner(self) -> RankerSpec:
        """A blend's baseline partner, with its own hyper-parameters."""
        return RankerSpec(self.blend_with, params=self.params)

    def describe(self) -> str:
        label = self.config.label() if self.config else ""
        if self.params:
            label = " ".join([label, *(f"{key}={value:g}" for key, value in self.params)]).strip()
        return f"{self.name} [{label}]" if label else self.name


# The collaborative rankers and their validation grids (`standard`; `tiny` is the first point).
COLLABORATIVE: tuple[str, ...] = ("ease", "item_knn", "als")
COLLABORATIVE_GRID: dict[str, tuple[dict[str, float], ...]] = {
    # EASE's l2 grows with the data; 200-500 is the usual optimum on MovieLens 100K.
    "ease": ({"l2": 300.0}, {"l2": 100.0}, {"l2": 500.0}, {"l2": 1000.0}),
    "item_knn": ({"neighbours": 100.0}, {"neighbours": 30.0}, {"neighbours": 300.0}),
    "als": (
        {"factors": 64.0, "regularization": 0.05, "alpha": 10.0},
        {"factors": 64.0, "regularization": 0.05, "alpha": 2.0},
        {"factors": 32.0, "regularization": 0.5, "alpha": 10.0},
    ),
}


def collaborative_grid(kind: str, *, size: str) -> list[RankerSpec]:
    points = COLLABORATIVE_GRID[kind][:1] if size == "tiny" else COLLABORATIVE_GRID[kind]
    return [RankerSpec(kind, params=tuple(point.items())) for point in points]


def _simple(kind: str) -> Ranker:
    return {"popularity": PopularityRanker, "tag_popularity": TagPopularityRanker, "content": ContentRanker}[
        kind
    ]()


def build_ranker(
    spec: RankerSpec,
    train: TrainSet,
    *,
    seed: int = 0,
    num_threads: int = 1,
    max_fit_seconds: float | None = None,
    fitted: dict[RankerSpec, Ranker] | None = None,
) -> Ranker:
    """Fit the ranker a spec describes (reusing `fitted` ones on the same train set). Serving calls this too."""
    if fitted is not None and spec in fitted:
        return fitted[spec]
    if spec.kind in COLLABORATIVE:
        params = dict(spec.params)
        if spec.kind == "ease":
            return EASERanker(**params).fit(train)
        if spec.kind == "item_knn":
            return ItemKNNRanker(**params, num_threads=num_threads).fit(train)
        return ALSRanker(**params, seed=seed, num_threads=num_threads).fit(train)
    if spec.kind == "lightfm":
        assert spec.config is not None
        return LightFMRanker(
            spec.config, seed=seed, num_threads=num_threads, max_fit_seconds=max_fit_seconds
        ).fit(train)
    if spec.kind == "blend":
        base_spec = RankerSpec("lightfm", spec.config)
        base = build_ranker(
            base_spec,
            train,
            seed=seed,
            num_threads=num_threads,
            max_fit_seconds=max_fit_seconds,
            fitted=fitted,
        )
        other = build_ranker(spec.partner, train, seed=seed, num_threads=num_threads, fitted=fitted)
        return BlendRanker(base, other, spec.weight, seed=seed).fit(train)
    return _simple(spec.kind).fit(train)


def lightfm_grid(regime: str, *, features: bool, size: str) -> tuple[list[LightFMConfig], tuple[int, ...]]:
    """A small bounded grid; epochs are checkpoints of one training run, not separate fits."""
    if size == "tiny":
        if features and regime == "cold_items":
            # The one hybrid for new products is the fans-per-item one (see below).
            tiny = LightFMConfig(features=True, no_components=16, item_identity=False, transpose=True)
            return [tiny], (10, 20)
        return [LightFMConfig(features=features, no_components=16)], (10, 20)
    # One size: on 2 shared cores a second size doubled the run for no validation gain on synthetic data.
    components = (32,)
    epochs = (5, 10, 20, 30)
    if not features:
        return [LightFMConfig(features=False, no_components=d) for d in components], epochs
    # Identity features help fans with history; held-out entities are represented by tags alone, and
    # tag embeddings learn more when identities do not soak up the signal: validation decides.
    if regime == "warm_users":
        identity = [dict(identity_share=0.5), dict(identity_share=0.8)]
    elif regime in ("cold_users", "chat_users"):
        identity = [dict(user_identity=False), dict(user_identity=True, identity_share=0.5)]
    else:
        # Ranking fans for a new product is the cold-items question: WARP on the transposed matrix asks
        # exactly that (and learns fan activity as a bias); the usual direction ranks products per fan.
        identity = [
            dict(item_identity=False),
            dict(item_identity=True, identity_share=0.5),
            dict(item_identity=False, transpose=True),
            dict(item_identity=False, user_identity=False, transpose=True),
        ]
    configs = [
        LightFMConfig(features=True, no_components=d, **extra) for d in components for extra in identity
    ]
    return configs, epochs
