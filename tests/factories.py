"""factory_boy factories shared by every app's tests."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from fans.chat.models import Conversation, Fan
from shops.models import Product, Shop, ShopMember, ShopRole, Variant

PASSWORD = "fansi-test-pw"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"小店{n}")
    slug = factory.Sequence(lambda n: f"shop-{n}")
    owner = factory.SubFactory(UserFactory)

    @factory.post_generation
    def owner_membership(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            ShopMember.objects.get_or_create(shop=obj, user=obj.owner, defaults={"role": ShopRole.OWNER})


class ShopMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShopMember

    shop = factory.SubFactory(ShopFactory)
    user = factory.SubFactory(UserFactory)
    role = ShopRole.ASSISTANT


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"商品{n}")
    category = "beauty"
    brand = "Fansi"
    price = Decimal("99.00")


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Variant

    product = factory.SubFactory(ProductFactory)
    name = "默认"
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    price = Decimal("99.00")


class FanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fan
        skip_postgeneration_save = True

    shop = factory.SubFactory(ShopFactory)
    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"粉丝{n}")

    @factory.post_generation
    def conversation(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            Conversation.objects.get_or_create(shop=obj.shop, fan=obj)
