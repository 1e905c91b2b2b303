"""The OpenAPI schema (/api/schema/, Swagger UI at /api/docs/) describes every endpoint without guessing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_openapi_schema_validates_with_no_warnings(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(tmp_path / "s.yml"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    schema = (tmp_path / "s.yml").read_text()
    for path in (
        "/api/conversations/{conversation_id}/messages/",
        "/api/fans/",
        "/api/campaigns/{campaign_id}/pledges/",
    ):
        assert path in schema


@pytest.mark.django_db
def test_inbox_filter_enum_lists_the_hooks_filters(client):
    """The inbox's `filter` parameter documents reach's `reminders` beside the inbox's own filters."""
    schema = client.get("/api/schema/?format=json").json()
    params = schema["paths"]["/api/conversations/"]["get"]["parameters"]
    enum = next(p for p in params if p["name"] == "filter")["schema"]["enum"]
    assert set(enum) == {"awaiting_reply", "mine", "unread", "reminders"}
