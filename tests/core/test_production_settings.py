"""Production settings (issue 17): the full deploy check passes with only SECRET_KEY and ALLOWED_HOSTS set,
HSTS, secure HttpOnly cookies and the proxy header are on, health checks are exempt from the HTTPS redirect."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def production_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser tests' helpers in this process, never in deployment.
        if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="fansi.example",
    )
    env.update(extra)
    return env


def test_check_deploy_passes_at_warning_level_every_tag():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_security_settings():
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({"
        "'hsts': s.SECURE_HSTS_SECONDS, 'sub': s.SECURE_HSTS_INCLUDE_SUBDOMAINS, 'ssl': s.SECURE_SSL_REDIRECT,"
        "'exempt': s.SECURE_REDIRECT_EXEMPT, 'proxy': list(s.SECURE_PROXY_SSL_HEADER),"
        "'cookies': [s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_HTTPONLY],"
        "'csp': s.CONTENT_SECURITY_POLICY['DIRECTIVES']['script-src'] + s.CONTENT_SECURITY_POLICY['DIRECTIVES']['style-src'],"
        "'axes': 'axes.middleware.AxesMiddleware' == s.MIDDLEWARE[-1]}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["hsts"] >= 31536000 and got["sub"] is True and got["ssl"] is True
    assert got["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert got["cookies"] == [True, True, True, True]
    assert "'unsafe-inline'" not in got["csp"] and got["axes"] is True
    import re

    assert any(re.match(p, "healthz") for p in got["exempt"]) and any(
        re.match(p, "readyz/") for p in got["exempt"]
    )
    assert not any(re.match(p, "login/") for p in got["exempt"])


def test_weak_secret_key_is_refused_with_a_clear_error():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=production_env(SECRET_KEY="x"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "SECRET_KEY is too weak" in result.stderr
