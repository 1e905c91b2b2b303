import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_check(settings_module: str, **env: str) -> subprocess.CompletedProcess:
    child_env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"}
    }
    child_env.update(env, DJANGO_SETTINGS_MODULE=settings_module)
    code = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'], settings.CHANNEL_LAYERS['default']['BACKEND'], settings.CELERY_TASK_ALWAYS_EAGER)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=60
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
    result = run_check("config.settings.production", SECRET_KEY="s" * 50, ALLOWED_HOSTS="fansi.example")
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
