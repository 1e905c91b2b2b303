"""Real threads against PostgreSQL: a double-submitted new-shop form makes one shop, and two owners racing
for one address get one shop and one coded refusal."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from core.errors import DomainError
from shops.models import Shop, ShopMember
from shops.services import shop_create
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def _race(calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait()
            return call()
        except DomainError as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_double_submit_makes_one_shop(require_services):
    user = UserFactory()
    results = _race(
        [
            lambda i=i: shop_create(user=user, name="店", slug=f"race-{i}", timezone="Asia/Shanghai")
            for i in range(4)
        ]
    )
    shops = [r for r in results if isinstance(r, Shop)]
    refusals = [r.code for r in results if isinstance(r, DomainError)]
    assert len(shops) == 1 and refusals == ["already_has_shop"] * 3
    assert ShopMember.objects.filter(user=user).count() == 1 and Shop.objects.count() == 1


def test_two_owners_racing_for_one_address(require_services):
    users = [UserFactory(), UserFactory()]
    results = _race([lambda u=u: shop_create(user=u, name="店", slug="same-address") for u in users])
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Shop"]
    assert [r.code for r in results if isinstance(r, DomainError)] == ["slug_taken"]
    assert Shop.objects.filter(slug="same-address").count() == 1 and ShopMember.objects.count() == 1
