"""The demo, seeded once for every test in this package.

`manage.py demo` builds a whole platform (shops, catalogues, fans, chat, campaigns through their money,
reviews, ratings, design rounds, journeys, a trained recommender): a minute or more on CI's two cores. Each
test used to run it again. Here it runs once, inside a transaction that stays open for the package and is
rolled back after its last test; each test runs in a savepoint within it (pytest-django's `db`), so what a
test changes (a second demo run, a login, a page) is undone before the next, as before.
"""

from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import transaction
from django.test import override_settings

from tests.demo.seeded.helpers import run_demo


@dataclass(frozen=True)
class DemoRun:
    output: str  # what the first run printed (the logins and links)
    media_root: Path  # where its pictures were written


@pytest.fixture(scope="package")
def demo_run(django_db_setup, django_db_blocker, tmp_path_factory):
    media_root = tmp_path_factory.mktemp("demo") / "media"
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media_root):
        outer = transaction.atomic()
        # As Django's TestCase marks its own: durable blocks inside (the demo's money paths) stay allowed.
        outer._from_testcase = True
        outer.__enter__()
        try:
            yield DemoRun(output=run_demo(), media_root=media_root)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def media_root(demo_run, settings):
    settings.MEDIA_ROOT = demo_run.media_root
    return demo_run.media_root


@pytest.fixture
def demo_output(db, demo_run, media_root) -> str:
    """The demo as the first run left it (this test's changes are rolled back after it); its printed text."""
    return demo_run.output
