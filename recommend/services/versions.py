"""Model versions: a training run (request, evaluate, fit, write artifacts), the serving switch, pruning."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import secrets
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict
from recommend.data import REGIMES, build_train_set
from recommend.evaluation import RankerSpec, build_ranker, evaluate_regime
from recommend.evaluation.regimes import evaluate_chat_regime
from recommend.models import ModelStatus, ModelVersion
from recommend.rankers import BlendRanker, Ranker
from recommend.selectors import catalog_from_db
from recommend.serving import SERVING_STAMP_KEY
from recommend.training import (
    Artifacts,
    artifacts_complete,
    artifacts_dir,
    artifacts_write,
    catalog_sample,
    factorize,
    pad_user_features,
)

log = logging.getLogger(__name__)

# Evaluation is bounded: at most this many fans (with their interactions) are evaluated; bigger shops are
# sampled. The served rankers are then fitted on all data.
EVAL_MAX_FANS = int(os.environ.get("FANSI_RECOMMEND_EVAL_MAX_FANS", "20000"))
# Above this many evaluated interactions the LightFM grid shrinks to one config ("tiny").
EVAL_STANDARD_GRID_MAX_NNZ = 60_000
# Evaluation scores every evaluated fan against every product, many times: cap fans x products.
EVAL_MAX_SCORED_PAIRS = 5_000_000
EVAL_MAX_FIT_SECONDS = 20.0
# Seconds for fitting every served LightFM model on all data, shared between distinct models.
FIT_BUDGET_SECONDS = float(os.environ.get("FANSI_RECOMMEND_FIT_BUDGET", "50"))
THREADS = int(os.environ.get("FANSI_RECOMMEND_THREADS", "2"))
# The chat_users regime is evaluated once at least this many fans with history have chat text.
CHAT_MIN_FANS = 50
# A run that started longer ago than this is presumed dead, so a new one may start.
STALE_TRAINING = dt.timedelta(hours=3)


def _new_version_name() -> str:
    return f"{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def model_train_request(*, user: AbstractBaseUser | None = None) -> ModelVersion:
    """Start a training run (admin "train now", the nightly beat). One run at a time."""
    with transaction.atomic():
        running = ModelVersion.objects.select_for_update().filter(
            status=ModelStatus.TRAINING, created_at__gte=timezone.now() - STALE_TRAINING
        )
        if running.exists():
            raise Conflict(_("A model is training already."), code="training_in_progress")
        version = ModelVersion.objects.create(
            version=_new_version_name(),
            requested_by=user if user is not None and user.is_authenticated else None,
        )
        from recommend import tasks

        tasks.model_train_task.delay_on_commit(version.pk)
    return version


def _progress(version_id: int, value: float, stage: str) -> None:
    ModelVersion.objects.filter(pk=version_id, status=ModelStatus.TRAINING).update(
        progress=round(min(max(value, 0.0), 1.0), 4), stage=stage[:100]
    )


@dataclass
class TrainOptions:
    seed: int = 0
    k: int = 10
    num_threads: int = THREADS
    eval_max_fans: int = EVAL_MAX_FANS
    fit_budget_seconds: float = FIT_BUDGET_SECONDS
    eval_max_fit_seconds: float = EVAL_MAX_FIT_SECONDS
    grid: str | None = None  # None: standard for small data, tiny for large


def model_train(*, version_id: int, options: TrainOptions | None = None) -> ModelVersion:
    """Run one training: evaluate, fit the winners on all data, write artifacts, switch serving.

    Safe to run twice: a version that was already started is left alone. A failure marks the version
    failed and never touches the serving version.
    """
    options = options or TrainOptions()
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
        if version is None or version.status != ModelStatus.TRAINING or version.started_at is not None:
            return version  # type: ignore[return-value]
        version.started_at = timezone.now()
        version.save(update_fields=["started_at"])
    started = time.perf_counter()
    try:
        _train(version, options, started)
    except Exception as exc:  # noqa: BLE001 - any failure must leave the serving model alone
        log.exception("recommend model %s failed", version.version)
        ModelVersion.objects.filter(pk=version.pk).update(
            status=ModelStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"[:4000],
            finished_at=timezone.now(),
            duration_seconds=round(time.perf_counter() - started, 3),
        )
    version.refresh_from_db()
    return version


def _train(version: ModelVersion, options: TrainOptions, started: float) -> None:
    _progress(version.pk, 0.02, "loading data")
    db = catalog_from_db()
    catalog = db.catalog
    n_inter = len(catalog.interactions)
    notes: list[str] = []
    metrics: dict[str, Any] = {}
    specs: dict[str, RankerSpec] = {}
    params: dict[str, Any] = {
        "seed": options.seed,
        "k": options.k,
        "threads": options.num_threads,
        "fit_budget_seconds": options.fit_budget_seconds,
        "scope": "all shops, one model",
    }
    ModelVersion.objects.filter(pk=version.pk).update(
        n_fans=catalog.n_users, n_products=catalog.n_items, n_interactions=n_inter
    )
    popularity_only = n_inter == 0
    # The recipe for fans known by tags and chat, when validation said text helps (else None: tags only).
    chat_spec: RankerSpec | None = None
    if popularity_only:
        notes.append("no interactions yet: this is a popularity-only model (every regime serves popularity)")
        specs = {regime: RankerSpec("popularity") for regime in REGIMES}
    else:
        max_fans = min(options.eval_max_fans, max(1000, EVAL_MAX_SCORED_PAIRS // max(catalog.n_items, 1)))
        sample = catalog_sample(catalog, max_fans, seed=options.seed)
        grid = options.grid or (
            "standard" if len(sample.interactions) <= EVAL_STANDARD_GRID_MAX_NNZ else "tiny"
        )
        params.update(
            eval_fans=int(len(sample.interactions.user_set())),
            eval_interactions=len(sample.interactions),
            grid=grid,
        )
        if sample is not catalog:
            notes.append(f"evaluated on a sample of {max_fans} fans with history")
        for n, regime in enumerate(REGIMES):
            _progress(version.pk, 0.05 + 0.6 * n / len(REGIMES), f"evaluating {regime}")
            result = evaluate_regime(
                sample.without_text(),
                regime,
                k=options.k,
                seed=options.seed,
                num_threads=options.num_threads,
                max_fit_seconds=options.eval_max_fit_seconds,
                grid=grid,
            )
            metrics[regime] = result.metrics
            notes.extend(result.notes)
            specs[regime] = result.served or RankerSpec("popularity")
        talkers = np.intersect1d(sample.text_users(), sample.interactions.user_set())
        if sample.user_docs is not None and len(talkers) >= CHAT_MIN_FANS:
            _progress(version.pk, 0.62, "evaluating chat_users")
            result = evaluate_chat_regime(
                sample,
                k=options.k,
                seed=options.seed,
                num_threads=options.num_threads,
                max_fit_seconds=options.eval_max_fit_seconds,
                grid=grid,
            )
            metrics["chat_users"] = result.metrics
            notes.extend(result.notes)
            params["chat_users"] = result.lift_from_text
            if result.lift_from_text and result.lift_from_text["text_served"] and result.served is not None:
                chat_spec = result.served
        elif sample.user_docs is not None:
            notes.append(
                f"chat_users: only {len(talkers)} fans with history wrote messages; text is not used"
            )

    _progress(version.pk, 0.67, "fitting served models on all data")
    fit_started = time.perf_counter()
    train = build_train_set(catalog.without_text(), catalog.interactions)
    # Text features only for the chat recipe, fitted on tags plus text (the tags-only recipes never see it);
    # built whenever fans wrote, so what each fan said is stored with the version (reasons use it).
    text_train = build_train_set(catalog, catalog.interactions) if catalog.user_docs is not None else None
    user_vocab = list(train.user_vocab)
    if text_train is not None:
        user_vocab = list(text_train.user_vocab)
        assert tuple(user_vocab[: len(train.user_vocab)]) == train.user_vocab
    distinct = list(dict.fromkeys([*specs.values(), RankerSpec("popularity"), RankerSpec("tag_popularity")]))
    entries = [(spec, False) for spec in distinct] + ([(chat_spec, True)] if chat_spec is not None else [])
    n_lightfm = sum(1 for spec, _ in entries if spec.kind in ("lightfm", "blend")) or 1
    fitted_by: dict[bool, dict[RankerSpec, Ranker]] = {False: {}, True: {}}
    for n, (spec, with_text) in enumerate(entries):
        fitted = fitted_by[with_text]
        on = text_train if with_text and text_train is not None else train
        ranker = build_ranker(
            spec,
            on,
            seed=options.seed,
            num_threads=options.num_threads,
            max_fit_seconds=options.fit_budget_seconds / n_lightfm,
            fitted=fitted,
        )
        fitted[spec] = ranker
        if isinstance(ranker, BlendRanker):
            fitted.setdefault(RankerSpec("lightfm", spec.config), ranker.base)
            fitted.setdefault(spec.partner, ranker.other)
        if ranker.note:
            notes.append(f"served {spec.name}: {ranker.note}")
        _progress(version.pk, 0.67 + 0.23 * (n + 1) / len(entries), f"fitted {spec.name}")
    fit_seconds = time.perf_counter() - fit_started
    keys = {spec: f"m{n}" for n, spec in enumerate(distinct)}
    models = {
        keys[spec]: pad_user_features(factorize(fitted_by[False][spec], train), len(user_vocab))
        for spec in distinct
    }
    regimes = {
        regime: {"model": keys[spec], "name": spec.name, "recipe": spec.describe()}
        for regime, spec in specs.items()
    }
    user_text = None
    extra: dict[str, Any] = {"popularity_only": popularity_only}
    if text_train is not None and text_train.text is not None and text_train.text.vocab:
        if chat_spec is not None:
            models["chat"] = factorize(fitted_by[True][chat_spec], text_train)
            regimes["chat_users"] = {
                "model": "chat",
                "name": chat_spec.name,
                "recipe": chat_spec.describe(),
                "text": True,
            }
            specs["chat_users"] = chat_spec
        n_tags = len(train.user_vocab)
        text_part = text_train.user_tags.tocsc()[:, n_tags:].tocsr()
        user_text = sp.hstack(
            [sp.csr_matrix((catalog.n_users, n_tags), dtype=np.float32), text_part], format="csr"
        )
        extra["text"] = text_train.text.to_json()
        # Serving reads messages sent after training with the same rules (recommend.serving.live_text).
        extra["text_rules"] = db.text_rules
        extra["text_as_of"] = db.text_as_of.isoformat() if db.text_as_of else None
    regimes["unknown"] = {
        "model": keys[RankerSpec("popularity")],
        "name": "popularity",
        "recipe": "popularity",
    }
    regimes["explain"] = {"model": keys[RankerSpec("tag_popularity")], "name": "tag_popularity", "recipe": ""}
    _progress(version.pk, 0.92, "writing artifacts")
    path = artifacts_write(
        Artifacts(
            version=version.version,
            user_pks=db.fan_pks,
            user_shops=db.fan_shops,
            known_users=np.asarray(train.known_users, dtype=bool),
            item_pks=db.product_pks,
            item_shops=db.product_shops,
            user_vocab=user_vocab,
            item_vocab=list(train.item_vocab),
            models=models,
            regimes=regimes,
            extra=extra,
            user_text=user_text,
        ),
        artifacts_dir(),
    )
    ModelVersion.objects.filter(pk=version.pk).update(
        params=params,
        metrics=metrics,
        served={regime: {"name": spec.name, "recipe": spec.describe()} for regime, spec in specs.items()},
        notes=notes,
        popularity_only=popularity_only,
        fit_seconds=round(fit_seconds, 3),
    )
    model_switch(version_id=version.pk, path_checked=str(path), duration=time.perf_counter() - started)
    # Nightly runs would otherwise fill the disk; the serving and newest versions stay.
    models_prune(keep=5)


def model_switch(*, version_id: int, path_checked: str | None = None, duration: float | None = None) -> None:
    """Make a version the serving one: one transaction flips is_serving, after its artifacts are complete."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version_id)
        if not artifacts_complete(artifacts_dir() / version.version):
            raise Conflict(
                _("The model's files are incomplete; it cannot serve."), code="artifacts_incomplete"
            )
        if version.status == ModelStatus.FAILED:
            raise Conflict(_("A failed model cannot serve."), code="model_failed")
        ModelVersion.objects.filter(is_serving=True).exclude(pk=version.pk).update(is_serving=False)
        update: dict[str, Any] = {
            "is_serving": True,
            "status": ModelStatus.READY,
            "progress": 1.0,
            "stage": "serving",
        }
        if version.finished_at is None:
            update["finished_at"] = timezone.now()
        if duration is not None:
            update["duration_seconds"] = round(duration, 3)
        ModelVersion.objects.filter(pk=version.pk).update(**update)
        transaction.on_commit(functools.partial(cache.set, SERVING_STAMP_KEY, version.version, None))


def models_prune(*, keep: int = 5) -> int:
    """Delete artifact folders of old versions (never the serving one). Returns folders removed."""
    import shutil

    keep_versions = set(
        ModelVersion.objects.filter(Q(is_serving=True) | Q(status=ModelStatus.TRAINING)).values_list(
            "version", flat=True
        )
    ) | set(ModelVersion.objects.order_by("-created_at").values_list("version", flat=True)[:keep])
    removed = 0
    root = artifacts_dir()
    if not root.exists():
        return 0
    for folder in root.iterdir():
        if folder.is_dir() and not folder.name.startswith(".") and folder.name not in keep_versions:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
