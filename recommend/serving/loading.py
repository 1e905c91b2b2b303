"""What serving keeps per process: the serving version's model, and the tag vocabulary."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from django.core.cache import cache

from core import metrics
from recommend.models import ModelVersion
from recommend.selectors import tag_vocabulary
from recommend.serving import live_text
from recommend.serving.model import ServingModel
from recommend.training import artifacts_dir, artifacts_read

SERVING_STAMP_KEY = "recommend:serving_version"
NO_MODEL = "-"

# (serving version, its model), swapped as one tuple so readers never pair a stamp with another model.
_loaded: tuple[str, ServingModel | None] | None = None
_load_lock = threading.Lock()


def _serving_stamp() -> str:
    stamp = cache.get(SERVING_STAMP_KEY)
    if stamp is None:
        stamp = (
            ModelVersion.objects.filter(is_serving=True).values_list("version", flat=True).first() or NO_MODEL
        )
        cache.set(SERVING_STAMP_KEY, stamp, 60)
    return stamp


def _serving_load(stamp: str) -> tuple[str, ServingModel | None]:
    """(stamp, model) for this serving version, loading its artifacts unless already loaded."""
    global _loaded
    current = _loaded
    if current is not None and current[0] == stamp:
        return current
    with _load_lock:
        if _loaded is None or _loaded[0] != stamp:
            path = Path(artifacts_dir()) / stamp
            _loaded = (
                stamp,
                ServingModel(artifacts_read(path)) if stamp != NO_MODEL and path.exists() else None,
            )
            metrics.model_version_served(stamp if _loaded[1] is not None else NO_MODEL)
            if _loaded[1] is not None:
                live_text.prewarm(_loaded[1])
        return _loaded


def serving_model() -> ServingModel | None:
    """The serving model, loaded once per process and reloaded when the serving version changes."""
    return _serving_load(_serving_stamp())[1]


def serving_reset() -> None:
    """Forget the loaded model (tests; after deleting artifacts)."""
    global _loaded
    with _load_lock:
        _loaded = None
    cache.delete(SERVING_STAMP_KEY)
    tags_reset()


# Tag vocabulary (id -> feature string and display names), cached per process: Fan.tag_ids holds ids, and
# tags are renamed rarely, so a rename reaches picks within TAG_CACHE_SECONDS.
TAG_CACHE_SECONDS = 300.0
_tags: dict[int, tuple[str, str, str] | None] = {}
_tags_loaded_at = 0.0
_tags_lock = threading.Lock()


def tags_by_id(tag_ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """{tag id: (feature, name_zh, name_en)}; asks the database only for ids not seen in TAG_CACHE_SECONDS."""
    global _tags_loaded_at
    now = time.monotonic()
    if now - _tags_loaded_at > TAG_CACHE_SECONDS:
        with _tags_lock:
            _tags.clear()
            _tags_loaded_at = now
    missing = [t for t in tag_ids if t not in _tags]
    if missing:
        found = tag_vocabulary(missing)
        with _tags_lock:
            for tag_id in missing:
                _tags[tag_id] = found.get(tag_id)
    return {t: _tags[t] for t in tag_ids if _tags.get(t)}  # type: ignore[misc]


def tags_reset() -> None:
    global _tags_loaded_at
    with _tags_lock:
        _tags.clear()
        _tags_loaded_at = 0.0
