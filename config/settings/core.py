"""Settings shared by every environment, and what the servers (config.asgi, config.wsgi, config.celery)
run when DJANGO_SETTINGS_MODULE is not set: DEBUG off, so no visitor ever sees a debug page.

Embedded by default (SQLite, in-memory channel layer, eager Celery); DATABASE_URL and
REDIS_URL switch to PostgreSQL and Redis.
"""

import os
import secrets
from decimal import Decimal
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def local_secret_key(path: Path) -> str:
    """This checkout's own key: made on first run, kept out of git, shared by every process that reads it."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(50))
    try:
        # link() never replaces: of two processes starting together, both end up with the first one's key.
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()


# Files a running checkout writes for itself (secret key, beat schedule, models): git-ignored.
VAR_DIR = Path(os.environ.get("FANSI_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("SECRET_KEY") or local_secret_key(VAR_DIR / "secret_key")
# Off unless asked for: config.settings.local turns it on; servers default to these settings.
DEBUG = env_bool("DJANGO_DEBUG", False)
# Loopback only; pytest-django adds "testserver" itself.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "core",
    "payments",
    "shops",
    "fans",
    "fans.chat",
    "fans.crm",
    "fans.bot",
    "recommend",
    "preorders",
    "c2m",
    "reach",
    # Lifecycle journeys (issue 16 part 5): between preorders and c2m in the layers.
    "journeys",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Redis or the broker down: a 503 page, not a 500 (the API answers coded JSON itself).
    "core.middleware.ServiceUnavailableMiddleware",
    # A logged-in person without a shop opening a shop tool: to "create your shop", not a 404.
    "shops.middleware.NoShopRedirectMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # local_time: shop-time dates that cannot fail a page (core/templatetags/fansi_time.py).
            "builtins": ["core.templatetags.fansi_time"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
            # Daphne runs ORM calls in worker threads; wait for the writer lock instead of failing.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
            # A file, not :memory:, so server processes started by tests see the test database.
            "TEST": {"NAME": os.environ.get("FANSI_SQLITE_TEST_NAME", str(BASE_DIR / "test-db.sqlite3"))},
        }
    }
    if os.environ.get("FANSI_SQLITE_PATH"):
        # A child server started by a test uses the test run's database file.
        DATABASES["default"]["NAME"] = os.environ["FANSI_SQLITE_PATH"]
# Services own their transactions (STYLE.md).
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, Celery broker, cache -----------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: one PUBLISH per group send. Measured 3.9x the throughput of the sorted-set
            # layer (channels_redis.core) through a channel-layer echo on this 2-core machine. Both are
            # at-most-once; clients catch up from the database by seq.
            "BACKEND": os.environ.get(
                "FANSI_CHANNEL_BACKEND", "channels_redis.pubsub.RedisPubSubChannelLayer"
            ),
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": os.environ.get("FANSI_CHANNEL_PREFIX", "fansi"),
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "core.cache.SharedRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("FANSI_CACHE_PREFIX", "fansi"),
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = None
    CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
# Embedded (eager) mode: a failing background task is logged, never breaks the request that queued it.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TIMEZONE = "Asia/Shanghai"
# The file scheduler's schedule lives in var/, not in the directory the worker was started from.
CELERY_BEAT_SCHEDULER = "config.celery:BeatScheduler"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    "shops-rating-scores": {"task": "shops.tasks.rating_scores_refresh_task", "schedule": 900.0},
    "preorders-close-due": {"task": "preorders.tasks.campaigns_close_due_task", "schedule": 60.0},
    # AQ 预判: freeze each newly live campaign's launch forecast, for forecast against actual after the close.
    "c2m-forecast-snapshots": {"task": "c2m.forecast.tasks.forecasts_snapshot_due_task", "schedule": 60.0},
    # 共创: decide design rounds at their deadline (winners become campaigns, the rest are refunded), and
    # lapse and refund the winners' pre-pledges not confirmed within 48 h.
    "c2m-design-decide": {"task": "c2m.design.tasks.design_rounds_decide_due_task", "schedule": 60.0},
    "c2m-design-pre-pledges-lapse": {
        "task": "c2m.design.tasks.design_pre_pledges_lapse_due_task",
        "schedule": 60.0,
    },
    # 工厂优选: every factory's scorecard, recomputed set-based from orders, shipments and after-sales.
    "preorders-factory-scorecards": {
        "task": "preorders.tasks.factory_scorecards_recompute_task",
        "schedule": 3600.0,
    },
    "preorders-subscription-cutoffs": {
        "task": "preorders.tasks.subscription_cutoffs_run_task",
        "schedule": 60.0,
    },
    "preorders-pending-sweep": {"task": "preorders.tasks.pledges_pending_sweep_task", "schedule": 300.0},
    "preorders-price-protection": {"task": "preorders.tasks.price_protection_due_task", "schedule": 60.0},
    "preorders-topups": {"task": "preorders.tasks.topups_due_task", "schedule": 60.0},
    "preorders-dunning": {"task": "preorders.tasks.dunning_run_task", "schedule": 60.0},
    "preorders-balance-lapses": {"task": "preorders.tasks.balance_lapses_due_task", "schedule": 60.0},
    "preorders-balance-reminders": {"task": "preorders.tasks.balance_reminders_run_task", "schedule": 60.0},
    # Sent factory orders whose release (the settlement posting) a crash left unposted.
    "preorders-release-sweep": {
        "task": "preorders.tasks.factory_order_releases_sweep_task",
        "schedule": 300.0,
    },
    # 慢就赔 at ship_by (and after-sales refunds a crash left unpaid); receipt confirmed 7 days after delivery.
    "preorders-late-compensation": {"task": "preorders.tasks.late_compensation_due_task", "schedule": 60.0},
    "preorders-shipments-autoconfirm": {
        "task": "preorders.tasks.shipments_autoconfirm_run_task",
        "schedule": 60.0,
    },
    # 消费 recomputed from the ledger for every fan (posting-time refreshes are after-commit tasks).
    "preorders-fans-spend-sweep": {"task": "preorders.tasks.fans_spend_sweep_task", "schedule": 3600.0},
    # Charges whose answer and notification never came: ask the provider.
    "payments-pending-sweep": {"task": "payments.tasks.payments_pending_sweep_task", "schedule": 60.0},
    # The simulated provider retries notifications nobody acknowledged (no-op with a real provider).
    "payments-sim-redeliver": {"task": "payments.tasks.sim_redeliver_task", "schedule": 60.0},
    # Jobs whose worker was lost (stale heartbeat) or whose dispatch was lost (broker down): core/jobs.py.
    "fans-jobs-sweep": {"task": "fans.tasks.jobs_sweep_task", "schedule": 30.0},
    "fans-broadcasts-sweep": {"task": "fans.tasks.broadcasts_sweep_task", "schedule": 30.0},
    # Scheduled broadcasts (and "send later") whose time has come: every 10 s, so one starts within seconds
    # of its time (an indexed query on the few scheduled rows).
    "fans-broadcasts-due": {"task": "fans.tasks.broadcasts_due_task", "schedule": 10.0},
    # Broadcast deliveries deferred by quiet hours, once the quiet hours are over.
    "fans-broadcasts-deferred": {"task": "fans.tasks.broadcast_deferred_send_task", "schedule": 30.0},
    # Reach: staff digests of conversations awaiting a reply, and follow-up reminders that are due.
    "reach-digests": {"task": "reach.tasks.digests_run_task", "schedule": 60.0},
    "reach-reminders-due": {"task": "reach.tasks.reminders_fire_due_task", "schedule": 60.0},
    # Staff messages scheduled for one fan, when due (deferred to the end of quiet hours inside them).
    "reach-scheduled-messages": {"task": "reach.tasks.scheduled_messages_send_due_task", "schedule": 10.0},
    # Transactional pushes to fans that fell in quiet hours, sent when they end (reach.services.deferred_push).
    "reach-deferred-pushes": {"task": "reach.tasks.deferred_pushes_send_due_task", "schedule": 30.0},
    # Lifecycle tags (new/active/at risk/lapsed/VIP), set-based per shop; a re-run changes nothing (fans.crm.lifecycle).
    "crm-lifecycle-nightly": {
        "task": "fans.crm.tasks.lifecycle_nightly_task",
        "schedule": crontab(hour=2, minute=40),
    },
    # Journeys: enroll fans from each trigger's new events, then run the due steps (docs/journeys.md).
    "journeys-enroll": {"task": "journeys.tasks.journeys_enroll_task", "schedule": 60.0},
    "journeys-advance": {"task": "journeys.tasks.journeys_advance_task", "schedule": 60.0},
    "recommend-nightly-train": {
        "task": "recommend.tasks.model_train_task",
        "schedule": crontab(hour=3, minute=30),
    },
}
FANSI_PROGRESS_COALESCE_S = 0.25
FANSI_PAYMENT_PROVIDER = os.environ.get("FANSI_PAYMENT_PROVIDER", "payments.simulated.SimulatedProvider")
# Phone sign-in codes: the SMS provider (the simulated one logs each code), and whether answers also carry the
# code (development and tests; production.py turns it off).
FANSI_SMS_PROVIDER = os.environ.get("FANSI_SMS_PROVIDER", "shops.sms.SimulatedSmsProvider")
FANSI_SMS_DEBUG_CODES = env_bool("FANSI_SMS_DEBUG_CODES", True)
# The request header a trusted proxy puts the client's address in (e.g. HTTP_X_REAL_IP); unset: REMOTE_ADDR.
FANSI_CLIENT_IP_HEADER = os.environ.get("FANSI_CLIENT_IP_HEADER", "")
FANSI_PHONE_CODE = {
    "TTL_S": 600,
    "MAX_ATTEMPTS": 5,
    "PER_PHONE_MINUTE": 1,
    "PER_PHONE_DAY": 10,
    "PER_IP_HOUR": 20,
}
# The simulated provider delivers its signed notifications in-process unless this names our webhook URL.
FANSI_PAYMENT_NOTIFY_URL = os.environ.get("FANSI_PAYMENT_NOTIFY_URL", "")
# The platform's fee on released sales, in percent of what fans paid.
FANSI_PLATFORM_FEE_PERCENT = Decimal(os.environ.get("FANSI_PLATFORM_FEE_PERCENT", "2"))

# --- Auth ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- I18n: zh-hans by default, English available -------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Files --------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Nothing in front of Daphne (make demo, tests): the ASGI app serves static files and public product
# pictures itself, whatever DEBUG is. Production turns this off and lets its proxy serve them.
FANSI_SERVE_FILES = env_bool("FANSI_SERVE_FILES", True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("FANSI_MEDIA_ROOT", BASE_DIR / "media"))
# Versioned recommendation model artifacts (one folder per version).
FANSI_RECOMMEND_DIR = Path(os.environ.get("FANSI_RECOMMEND_DIR", VAR_DIR / "models"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# --- API ----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "shops.authentication.PlainTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    # --- Strict input (issue 17, attack findings): JSON with a depth limit and no lone surrogates ---
    "DEFAULT_PARSER_CLASSES": [
        "core.inputs.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fansi API",
    "DESCRIPTION": "Shop-owner and fan messaging, fan CRM, recommendations and C2M campaigns. "
    "The websocket protocol is described in docs/chat-protocol.md.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ShopRoleEnum": "shops.models.ShopRole",
        "StaffRoleEnum": [("manager", "manager"), ("assistant", "assistant")],
        # Factory orders come in two answers (with and without their sources).
        "FactoryOrderStatusEnum": "preorders.models.FactoryOrderStatus",
        # Campaigns come in two answers too (the list, and one campaign with who joined).
        "CampaignKindEnum": "preorders.models.CampaignKind",
        "CampaignStatusEnum": "preorders.models.CampaignStatus",
    },
}

# --- Chat ---------------------------------------------------------------------------------------
FANSI_CHAT = {
    "MAX_TEXT_LENGTH": 4000,
    # Per-user sends allowed per window; a person cannot type faster, a runaway script can.
    "RATE_LIMIT_MESSAGES": int(os.environ.get("FANSI_CHAT_RATE_LIMIT", "60")),
    "RATE_LIMIT_WINDOW_S": int(os.environ.get("FANSI_CHAT_RATE_WINDOW", "10")),
    "SYNC_PAGE_SIZE": 500,
    # Threads (and so database connections) per ASGI process for chat database work.
    "DB_THREADS": int(os.environ.get("FANSI_CHAT_DB_THREADS", "16")),
    "IMAGE_MAX_BYTES": 10 * 1024 * 1024,
    "IMAGE_MAX_PIXELS": 40_000_000,
    "THUMBNAIL_SIZE": 320,
}

# --- The factory's signed demand board and its insight report (c2m.insight) ---------------------------
# Board links are timestamped signatures; older ones answer 403 token_expired.
FANSI_BOARD_TOKEN_MAX_AGE_DAYS = int(os.environ.get("FANSI_BOARD_TOKEN_MAX_AGE_DAYS", "30"))
# The privacy floor: an insight cell backed by fewer distinct fans than this is suppressed.
FANSI_INSIGHT_K = 10

# --- 红黑榜 (shops.ratings) ----------------------------------------------------------------------
# Tag suggestions below this calibrated confidence are not shown: the bot is not sure (docs/tag-suggest-eval.md).
FANSI_TAG_SUGGEST_THRESHOLD = float(os.environ.get("FANSI_TAG_SUGGEST_THRESHOLD", "0.6"))
FANSI_RATINGS = {
    # An entity is black (red) when the Wilson lower bound on its weighted black (red) share reaches the
    # threshold with at least MIN_RATINGS shops rating it. Black products leave the recommender's lists.
    "BLACK_THRESHOLD": 0.4,
    "RED_THRESHOLD": 0.3,
    "MIN_RATINGS": 2,
    # A red product's score grows by this share of the catalogue's score range, at most.
    "RED_BOOST": 0.1,
    "BOARD_SIZE": 20,
}

# Reach (docs/reach.md). Web push signs with these VAPID keys (`manage.py webpush_keys` makes a pair): the
# private key is the raw P-256 scalar, the public key the uncompressed point, both base64url. The pair below
# is for development and tests only; production.py refuses to start without its own.
FANSI_VAPID_PUBLIC_KEY = os.environ.get(
    "FANSI_VAPID_PUBLIC_KEY",
    "BAJvU8jrbYG-P5olpADoev9apKOIDhqUYZexMdDWgWwdcOIRIKfuCFBQqObLDwPFvvFg5SrheiPxMb5sU0EASCQ",
)
FANSI_VAPID_PRIVATE_KEY = os.environ.get(
    "FANSI_VAPID_PRIVATE_KEY", "Jl61CaI5d9-_TC67O9uf_T7NIMIc-AFqGoohck4RX1w"
)
FANSI_VAPID_SUBJECT = os.environ.get("FANSI_VAPID_SUBJECT", "mailto:ops@fansi.example")
# Production: push endpoints must be https:// on public addresses (no SSRF through a subscription).
FANSI_PUSH_PUBLIC_ENDPOINTS_ONLY = env_bool("FANSI_PUSH_PUBLIC_ENDPOINTS_ONLY", False)
FANSI_PUSH = {
    "TTL_S": 24 * 3600,  # how long the push service keeps a push for a phone that is off
    "TIMEOUT_S": 10,
    "THREADS": 8,  # pushes in flight at once per task
    "PREVIEW_CHARS": 80,
}
# Absolute links in emails and pushes (digests link straight to the conversation).
FANSI_SITE_URL = os.environ.get("FANSI_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Fansi <noreply@fansi.example>")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")


# A bare echo websocket at /ws/echo/ for bench/chat.py's throughput ceiling; off unless benchmarking.
FANSI_BENCH_ECHO = env_bool("FANSI_BENCH_ECHO", False)
