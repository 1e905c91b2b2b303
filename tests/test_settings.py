import os
import re
import secrets
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import git
from tests.servers import daphne_server

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'], settings.CHANNEL_LAYERS['default']['BACKEND'], settings.CELERY_TASK_ALWAYS_EAGER)"
# The development key this repository used to commit (issue 11).
OLD_COMMITTED_KEY = "fansi-dev-only-insecure-key-change-me"
STRONG_KEY = secrets.token_urlsafe(50)


def child_environment(settings_module: str | None, **env: str) -> dict[str, str]:
    """This process's environment without what a test decides; no settings module means the entry points'
    own default."""
    child_env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "REDIS_URL",
            "DJANGO_DEBUG",
            "DJANGO_SETTINGS_MODULE",
        }
    }
    child_env.update(env)
    if settings_module:
        child_env["DJANGO_SETTINGS_MODULE"] = settings_module
    return child_env


def run_check(settings_module: str | None, code: str = BACKENDS, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=child_environment(settings_module, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_defaults_without_environment():
    result = run_check("config.settings.local")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "True",
    ]


def test_database_and_redis_urls_switch_to_real_services():
    result = run_check(
        "config.settings.local",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/fansi",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "channels_redis.pubsub.RedisPubSubChannelLayer",
        "False",
    ]


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 50}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "fansi.example"}, "SECRET_KEY"),
    ],
)
def test_production_refuses_to_start_without_secret_key_and_allowed_hosts(env, missing):
    result = run_check("config.settings.production", **env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_starts_when_configured():
    result = run_check("config.settings.production", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="fansi.example")
    assert result.returncode == 0, result.stderr


def test_production_passes_the_deployment_security_checks():
    child_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    child_env.update(
        SECRET_KEY="k3y-" + "s9" * 30,
        ALLOWED_HOSTS="fansi.example",
        DJANGO_SETTINGS_MODULE="config.settings.production",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--tag", "security", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "key",
    [
        OLD_COMMITTED_KEY,
        "short-but-random-" + secrets.token_urlsafe(16),
        "django-insecure-" + secrets.token_urlsafe(50),
        "ab" * 40,
    ],
    ids=["old-committed", "short", "django-insecure", "low-entropy"],
)
def test_production_refuses_a_short_or_known_secret_key(key):
    result = run_check("config.settings.production", SECRET_KEY=key, ALLOWED_HOSTS="fansi.example")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is too weak" in result.stderr
    assert key not in result.stderr


DEBUG_AND_MODULE = "import {module}; import django; django.setup(); from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"


@pytest.mark.parametrize("entry_point", ["config.asgi", "config.wsgi", "config.celery"])
def test_servers_run_with_debug_off_by_default(entry_point, tmp_path):
    result = run_check(None, DEBUG_AND_MODULE.format(module=entry_point), FANSI_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    module, debug = result.stdout.split()
    assert debug == "False", module


def test_local_settings_turn_debug_on_for_development_unless_told_not_to():
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    assert run_check("config.settings.local", code).stdout.split() == ["True"]
    assert run_check("config.settings.local", code, DJANGO_DEBUG="0").stdout.split() == ["False"]


def test_embedded_defaults_answer_to_loopback_host_names_only():
    code = "import django; django.setup(); from django.conf import settings; print(*settings.ALLOWED_HOSTS)"
    result = run_check("config.settings.base", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["127.0.0.1", "localhost", "[::1]"]


SHOW_KEY = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"


def test_local_secret_key_is_generated_once_then_reused(tmp_path):
    var = tmp_path / "var"
    first = run_check("config.settings.local", SHOW_KEY, FANSI_VAR_DIR=str(var))
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    key_file = var / "secret_key"
    assert key_file.read_text() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key) >= 50 and len(set(key)) >= 5 and key != OLD_COMMITTED_KEY
    assert sorted(p.name for p in var.iterdir()) == ["secret_key"]

    for settings_module in ("config.settings.local", "config.settings.test", "config.settings.base"):
        again = run_check(settings_module, SHOW_KEY, FANSI_VAR_DIR=str(var))
        assert again.stdout.strip() == key, settings_module
    other = run_check("config.settings.local", SHOW_KEY, FANSI_VAR_DIR=str(tmp_path / "elsewhere"))
    assert other.stdout.strip() not in {key, ""}
    # An explicit key wins and is not written anywhere.
    explicit = run_check(
        "config.settings.local", SHOW_KEY, FANSI_VAR_DIR=str(tmp_path / "unused"), SECRET_KEY=STRONG_KEY
    )
    assert explicit.stdout.strip() == STRONG_KEY
    assert not (tmp_path / "unused").exists()


def test_generated_files_default_to_the_git_ignored_var_folder():
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CELERY_BEAT_SCHEDULE_FILENAME, settings.FANSI_RECOMMEND_DIR)"
    )
    result = run_check("config.settings.local", code)
    assert result.returncode == 0, result.stderr
    schedule, models = (Path(p) for p in result.stdout.split())
    assert schedule.parent == models.parent == ROOT / "var"
    for path in ("var/secret_key", schedule.relative_to(ROOT), models.relative_to(ROOT) / "v1"):
        assert git("check-ignore", "-q", str(path)).returncode == 0, path
    assert git("ls-files", "var").stdout == ""


def fetch(url: str, data: bytes | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def test_default_server_shows_anonymous_visitors_no_debug_page_and_still_serves_files(tmp_path):
    """`daphne config.asgi:application` with nothing configured: errors say nothing about the setup, the
    pages stay styled and public product pictures load (issue 11)."""
    media = tmp_path / "media"
    (media / "products").mkdir(parents=True)
    (media / "products" / "p.png").write_bytes(b"\x89PNG picture")
    (media / "chat").mkdir()
    (media / "chat" / "private.png").write_bytes(b"\x89PNG private")
    env = child_environment(
        None,
        DATABASE_URL="postgres://fansi:db-secret-4821@127.0.0.1:9/fansi",
        REDIS_URL="redis://:redis-secret-4821@127.0.0.1:9/0",
        FANSI_VAR_DIR=str(tmp_path / "var"),
        FANSI_MEDIA_ROOT=str(media),
    )
    leaks = ["db-secret-4821", "redis-secret-4821", "Traceback", "URLconf", "DEBUG = True", "SECRET_KEY"]
    with daphne_server(env) as base:
        status, _, missing = fetch(f"{base}/no-such-page/")
        assert status == 404
        # The deep JSON document of the issue: whatever it is answered with, it is not a debug page.
        status, _, deep = fetch(f"{base}/api/auth/token/", data=b"[" * 100_000)
        assert status >= 400
        for body in (missing.decode(), deep.decode(errors="replace")):
            assert not [leak for leak in leaks if leak in body], body[:2000]

        stylesheet = re.search(r'href="(/static/[^"]+\.css)"', missing.decode()).group(1)
        status, content_type, _ = fetch(base + stylesheet)
        assert (status, content_type.split(";")[0]) == (200, "text/css")
        assert fetch(f"{base}/media/products/p.png")[::2] == (200, b"\x89PNG picture")
        assert fetch(f"{base}/media/chat/private.png")[0] == 404
        for climbing in ("/static/../config/settings/base.py", "/media/products/../chat/private.png"):
            assert fetch(base + climbing)[0] == 404, climbing
