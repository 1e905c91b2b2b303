"""Writes for recommendations: interactions, product tags, training runs and the serving switch."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import re
import secrets
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid, NotFound
from fans.chat.access import access_conversation
from fans.chat.models import Fan, Message, MessageKind, Side
from fans.chat.services import message_send
from fans.crm.models import Segment, Tag
from fans.crm.services.fans import segment_create
from recommend.data import REGIMES, build_train_set
from recommend.evaluation import RankerSpec, build_ranker, evaluate_regime
from recommend.models import (
    KIND_WEIGHTS,
    Interaction,
    InteractionKind,
    ModelStatus,
    ModelVersion,
    ProductTag,
    ProductTagSource,
)
from recommend.rankers import BlendRanker, Ranker
from recommend.selectors import catalog_from_db
from recommend.serving import SERVING_STAMP_KEY, fans_for_product
from recommend.training import (
    Artifacts,
    artifacts_complete,
    artifacts_dir,
    artifacts_write,
    catalog_sample,
    factorize,
)
from shops.models import Product, ShopMember

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
# A run that started longer ago than this is presumed dead, so a new one may start.
STALE_TRAINING = dt.timedelta(hours=3)


# --- interactions --------------------------------------------------------------------------------------


def interaction_record(
    *, fan: Fan, product: Product, kind: str, key: str = "", weight: float | None = None
) -> tuple[Interaction, bool]:
    """Record that a fan did something with a product. With a `key`, recording twice stores one row.

    Joins the caller's transaction (preorders calls it inside pledge placement).
    """
    if kind not in InteractionKind.values:
        raise Invalid(_("Unknown interaction kind."))
    if product.shop_id != fan.shop_id:
        raise Invalid(_("That product is not in this fan's shop."), code="not_found")
    weight = KIND_WEIGHTS[kind] if weight is None else float(weight)
    if not weight > 0:
        raise Invalid(_("An interaction weight must be positive."))
    key = (key or "")[:64]
    if key:
        # One plain INSERT ... ON CONFLICT DO NOTHING: pledge placement calls this on its hot path.
        interaction = Interaction(
            shop_id=fan.shop_id,
            fan=fan,
            product=product,
            kind=kind,
            weight=weight,
            key=key,
            created_at=timezone.now(),
        )
        connection = transaction.get_connection()
        fields = [
            Interaction._meta.get_field(n)
            for n in ("shop", "fan", "product", "kind", "weight", "key", "created_at")
        ]
        values = [f.get_db_prep_save(getattr(interaction, f.attname), connection) for f in fields]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Interaction._meta.db_table} ({', '.join(f.column for f in fields)}) "
                f"VALUES ({', '.join(['%s'] * len(fields))}) "
                f"ON CONFLICT (fan_id, kind, key) WHERE NOT (key = '') DO NOTHING RETURNING id",
                values,
            )
            row = cursor.fetchone()
        if row is None:
            return Interaction.objects.get(fan=fan, kind=kind, key=key), False
        interaction.pk = row[0]
        return interaction, True
    return Interaction.objects.create(
        shop_id=fan.shop_id, fan=fan, product=product, kind=kind, weight=weight
    ), True


def card_click_record(*, user: AbstractBaseUser, message_id: Any) -> tuple[Interaction, bool]:
    """A fan tapped a product card in their conversation. Only that fan may record it; once per card."""
    try:
        message_pk = int(message_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    message = Message.objects.filter(pk=message_pk).only("pk", "conversation_id", "kind", "payload").first()
    if message is None:
        raise NotFound()
    conversation, side = access_conversation(user, message.conversation_id)
    if side != Side.FAN:
        raise NotFound()
    if message.kind != MessageKind.PRODUCT_CARD:
        raise Invalid(_("Only product cards can be clicked."), code="not_a_product_card")
    product = Product.objects.filter(
        pk=(message.payload or {}).get("product"), shop_id=conversation.shop_id
    ).first()
    if product is None:
        raise NotFound(_("That product is gone."))
    with transaction.atomic():
        return interaction_record(
            fan=conversation.fan,
            product=product,
            kind=InteractionKind.CARD_CLICK,
            key=f"message:{message.pk}",
        )


# --- outreach: acting on recommendations ------------------------------------------------------------


def recommendation_send(
    *, user: AbstractBaseUser, fan: Fan, product_id: int, reason: str = "", client_id: uuid.UUID | None = None
) -> tuple[Message, bool]:
    """Send a recommended product to the fan as a product card in their conversation (staff only, as
    message_send checks). Resending a client_id returns the first message."""
    conversation = getattr(fan, "conversation", None)
    if conversation is None:
        raise Conflict(_("This fan has no conversation yet."), code="no_conversation")
    return message_send(
        user=user,
        conversation_id=conversation.pk,
        client_id=client_id or uuid.uuid4(),
        kind=MessageKind.PRODUCT_CARD,
        payload={"product": product_id, "reason": reason},
    )


def likely_fans_segment_save(
    *, member: ShopMember, product: Product, name: str, k: int
) -> tuple[Segment, int]:
    """Save the product's `k` likeliest fans as a segment of explicit fans. Returns (segment, fan count)."""
    fan_ids = [p.fan.pk for p in fans_for_product(product, k)]
    with transaction.atomic():
        segment = segment_create(member=member, name=name, filter={"fan_ids": fan_ids})
        if segment.filter.get("fan_ids") != sorted(fan_ids):
            # Without the fan_ids filter key a segment would silently mean "every fan": refuse, storing nothing.
            raise Conflict(_("Segments of explicit fans are not supported here."), code="fan_ids_unsupported")
    return segment, len(fan_ids)


# --- product tags --------------------------------------------------------------------------------------

# Description phrases -> platform tags ("group:code"). Checked in order; every match adds its tag.
DESCRIPTION_RULES: tuple[tuple[str, str], ...] = (
    (r"油皮|油性(肌|皮)|控油|oily skin", "skin_type:oily"),
    (r"干皮|干性(肌|皮)|dry skin", "skin_type:dry"),
    (r"混合(肌|皮)|混油|混干|混皮|combination skin", "skin_type:combination"),
    (r"敏感肌|敏感(皮|肤)|sensitive skin", "skin_type:sensitive"),
    (r"中性(肌|皮)|normal skin", "skin_type:normal"),
    (r"痘|acne", "skin_concern:acne"),
    (r"毛孔|pores", "skin_concern:pores"),
    (r"暗沉|提亮|dull", "skin_concern:dullness"),
    (r"细纹|抗皱|fine lines|wrinkle", "skin_concern:fine_lines"),
    (r"色斑|淡斑|dark spots", "skin_concern:spots"),
    (r"泛红|redness", "skin_concern:redness"),
    (r"补水|保湿|缺水|hydrat", "skin_concern:dehydration"),
    (r"性价比|实惠|平价|value for money", "preference:value"),
    (r"颜值|高颜|好看|good looks", "preference:looks"),
    (r"宠物|猫|狗|pet", "household:pets"),
    (r"宝宝|婴儿|母婴|baby", "household:baby_0_1"),
    (r"老人|长辈|elderly", "household:elderly"),
    (r"孕妇|孕期|备孕|expecting", "household:expecting"),
    (r"一人食|单身|single", "household:single"),
    (r"甜|sweet", "fruit_taste:sweet"),
    (r"酸|sour", "fruit_taste:sour"),
    (r"脆|crisp", "fruit_taste:crisp"),
    (r"软糯|绵软|soft", "fruit_taste:soft"),
    (r"多汁|爆汁|juicy", "fruit_taste:juicy"),
    (r"低糖|控糖|low sugar", "fruit_taste:low_sugar"),
)
_RULES = [(re.compile(pattern, re.IGNORECASE), tag) for pattern, tag in DESCRIPTION_RULES]


def tags_from_text(text: str) -> list[str]:
    return sorted({tag for pattern, tag in _RULES if pattern.search(text or "")})


def product_tags_derive(*, product_ids: list[int] | None = None) -> int:
    """Add description-derived ProductTags (platform vocabulary). Staff tags are kept. Returns rows added."""
    tags = {
        f"{group}:{code}": pk
        for pk, group, code in Tag.objects.filter(group__shop__isnull=True).values_list(
            "pk", "group__code", "code"
        )
    }
    products = Product.objects.all()
    if product_ids is not None:
        products = products.filter(pk__in=product_ids)
    rows = []
    for pk, name, description in products.values_list("pk", "name", "description").iterator(chunk_size=2000):
        for tag in tags_from_text(f"{name}\n{description}"):
            if tag in tags:
                rows.append(ProductTag(product_id=pk, tag_id=tags[tag], source=ProductTagSource.DESCRIPTION))
    before = ProductTag.objects.count()
    ProductTag.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return ProductTag.objects.count() - before


# --- training ------------------------------------------------------------------------------------------


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
                sample,
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

    _progress(version.pk, 0.67, "fitting served models on all data")
    fit_started = time.perf_counter()
    train = build_train_set(catalog, catalog.interactions)
    distinct = list(dict.fromkeys([*specs.values(), RankerSpec("popularity"), RankerSpec("tag_popularity")]))
    n_lightfm = sum(1 for spec in distinct if spec.kind in ("lightfm", "blend")) or 1
    fitted: dict[RankerSpec, Ranker] = {}
    for n, spec in enumerate(distinct):
        ranker = build_ranker(
            spec,
            train,
            seed=options.seed,
            num_threads=options.num_threads,
            max_fit_seconds=options.fit_budget_seconds / n_lightfm,
            fitted=fitted,
        )
        fitted[spec] = ranker
        if isinstance(ranker, BlendRanker):
            fitted.setdefault(RankerSpec("lightfm", spec.config), ranker.base)
            fitted.setdefault(RankerSpec(spec.blend_with), ranker.other)
        if ranker.note:
            notes.append(f"served {spec.name}: {ranker.note}")
        _progress(version.pk, 0.67 + 0.23 * (n + 1) / len(distinct), f"fitted {spec.name}")
    fit_seconds = time.perf_counter() - fit_started

    keys = {spec: f"m{n}" for n, spec in enumerate(distinct)}
    models = {keys[spec]: factorize(fitted[spec], train) for spec in distinct}
    regimes = {
        regime: {"model": keys[spec], "name": spec.name, "recipe": spec.describe()}
        for regime, spec in specs.items()
    }
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
            user_vocab=list(train.user_vocab),
            item_vocab=list(train.item_vocab),
            models=models,
            regimes=regimes,
            extra={"popularity_only": popularity_only},
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
