"""POST/PATCH/DELETE /api/products/, pictures, and 选品 from the platform catalogue (/api/catalogue/)."""

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from shops.models import Factory, FactoryProduct, FactoryVariant, Product, ShopMember, ShopRole, Variant
from tests.factories import ProductFactory, ShopFactory, UserFactory, VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path


def jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (60, 40), (10, 200, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def counts() -> tuple[int, int]:
    return Product.objects.count(), Variant.objects.count()


def test_owner_adds_product_with_variants(api_for, shop, owner):
    body = {
        "name": "玻尿酸精华",
        "price": "129.00",
        "variants": [{"name": "30ml", "sku": "HA-30"}, {"name": "50ml", "sku": "HA-50", "price": "169"}],
        "category": "beauty",
        "brand": "小红",
    }
    resp = api_for(owner).post("/api/products/", body, format="json")
    assert resp.status_code == 201, resp.content
    data = resp.json()
    assert data["name"] == "玻尿酸精华" and data["price"] == "129.00" and data["shop"] == shop.pk
    assert [(v["name"], v["sku"], v["price"]) for v in data["variants"]] == [
        ("30ml", "HA-30", "129.00"),
        ("50ml", "HA-50", "169.00"),
    ]
    assert all(isinstance(v["id"], int) for v in data["variants"])
    assert set(Variant.objects.filter(product_id=data["id"]).values_list("pk", flat=True)) == {
        v["id"] for v in data["variants"]
    }


def test_product_without_variants_gets_one_default_variant(api_for, owner):
    resp = api_for(owner).post("/api/products/", {"name": "香薰蜡烛", "price": "59"}, format="json")
    assert resp.status_code == 201
    (variant,) = resp.json()["variants"]
    assert variant["price"] == "59.00" and variant["sku"]
    assert resp.json()["category"] == "home"
    # A shop that sells beauty products adds beauty by default.
    ProductFactory(shop=ShopMember.objects.get(user=owner).shop, category="beauty")
    ProductFactory(shop=ShopMember.objects.get(user=owner).shop, category="beauty")
    resp = api_for(owner).post("/api/products/", {"name": "面霜", "price": "99"}, format="json")
    assert resp.json()["category"] == "beauty"


def test_manager_may_add_but_assistant_may_not(api_for, shop):
    manager = UserFactory()
    ShopMember.objects.create(shop=shop, user=manager, role=ShopRole.MANAGER)
    assistant = UserFactory()
    ShopMember.objects.create(shop=shop, user=assistant, role=ShopRole.ASSISTANT)
    ok = api_for(manager).post("/api/products/", {"name": "面膜", "price": "9.9"}, format="json")
    assert ok.status_code == 201
    before = counts()
    refused = api_for(assistant).post("/api/products/", {"name": "面膜2", "price": "9.9"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert counts() == before


def test_stranger_and_fan_cannot_add_products(api_for, fan_user, stranger):
    for user in (fan_user, stranger):
        resp = api_for(user).post("/api/products/", {"name": "x", "price": "1"}, format="json")
        assert resp.status_code == 404
    assert counts() == (0, 0)


def test_owner_of_two_shops_picks_the_shop(api_for, shop, owner):
    second = ShopFactory(owner=owner, slug="second")
    resp = api_for(owner).post(
        "/api/products/", {"name": "x", "price": "1", "shop": second.pk}, format="json"
    )
    assert resp.status_code == 201 and resp.json()["shop"] == second.pk
    other = ShopFactory(slug="not-mine")
    resp = api_for(owner).post(f"/api/products/?shop={other.pk}", {"name": "x", "price": "1"}, format="json")
    assert resp.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "x", "price": "0"}, 400, "price_invalid"),
        ({"name": "x", "price": "-5"}, 400, "price_invalid"),
        ({"name": "x", "price": "abc"}, 400, "price_invalid"),
        ({"name": "x"}, 400, "price_invalid"),
        ({"name": "x", "price": "NaN"}, 400, "price_invalid"),
        ({"name": "", "price": "10"}, 400, "name_required"),
        ({"name": "x", "price": "10", "category": "cars"}, 400, "category_invalid"),
        (
            {"name": "x", "price": "10", "variants": [{"name": "A", "sku": "D"}, {"name": "B", "sku": "D"}]},
            409,
            "sku_taken",
        ),
        ({"name": "x", "price": "10", "variants": [{"name": "", "sku": "E"}]}, 400, "variant_invalid"),
        (
            {"name": "x", "price": "10", "variants": [{"name": "A", "sku": "F", "price": "0"}]},
            400,
            "price_invalid",
        ),
        ({"name": "x", "price": "10", "variants": "nope"}, 400, "variant_invalid"),
        ({"name": "x", "price": "10", "variants": [{"name": "A", "sku": "S" * 65}]}, 400, "variant_invalid"),
    ],
)
def test_bad_product_input_is_coded_and_writes_nothing(api_for, owner, body, status, code):
    resp = api_for(owner).post("/api/products/", body, format="json")
    assert resp.status_code == status, resp.content
    assert resp.json()["code"] == code and resp.json()["message"]
    assert counts() == (0, 0)


def test_sku_used_by_another_shop_is_taken(api_for, owner):
    VariantFactory(sku="TAKEN-1", product=ProductFactory(shop=ShopFactory(slug="elsewhere")))
    before = counts()
    body = {"name": "x", "price": "10", "variants": [{"name": "A", "sku": "TAKEN-1"}]}
    resp = api_for(owner).post("/api/products/", body, format="json")
    assert resp.status_code == 409 and resp.json()["code"] == "sku_taken"
    assert counts() == before


def test_picture_is_checked_reencoded_and_stripped(api_for, owner):
    client = api_for(owner)
    upload = SimpleUploadedFile("p.jpg", jpeg_with_exif(), content_type="image/jpeg")
    resp = client.post(
        "/api/products/",
        {"name": "有图", "price": "20", "variants": '[{"name": "红", "sku": "PIC-R"}]', "image": upload},
    )
    assert resp.status_code == 201, resp.content
    product = Product.objects.get(pk=resp.json()["id"])
    assert product.variants.get().sku == "PIC-R"
    with product.image.open("rb") as fh:
        stored = Image.open(io.BytesIO(fh.read()))
    assert stored.format == "JPEG" and stored.size == (60, 40)
    assert not stored.getexif()  # the camera's EXIF is gone
    bad = SimpleUploadedFile("p.jpg", b"GIF89a broken", content_type="image/jpeg")
    resp = client.post(f"/api/products/{product.pk}/image/", {"image": bad})
    assert resp.status_code == 400 and resp.json()["code"] == "image_invalid"
    product.refresh_from_db()
    assert product.image.name.endswith(".jpg")


def test_bad_picture_on_create_writes_nothing(api_for, owner):
    bad = SimpleUploadedFile("p.png", b"\x89PNG broken", content_type="image/png")
    resp = api_for(owner).post("/api/products/", {"name": "x", "price": "5", "image": bad})
    assert resp.status_code == 400 and resp.json()["code"] == "image_invalid"
    assert counts() == (0, 0)


def test_patch_changes_fields_and_variants_and_delete_takes_off_sale(api_for, shop, owner):
    client = api_for(owner)
    created = client.post(
        "/api/products/",
        {
            "name": "T恤",
            "price": "79",
            "variants": [{"name": "M", "sku": "T-M"}, {"name": "L", "sku": "T-L"}],
        },
        format="json",
    ).json()
    m, big = created["variants"]
    body = {
        "name": "纯棉T恤",
        "price": "89",
        "variants": [{"id": m["id"], "name": "M码", "sku": "T-M"}, {"name": "XL", "sku": "T-XL"}],
    }
    resp = client.patch(f"/api/products/{created['id']}/", body, format="json")
    assert resp.status_code == 200, resp.content
    data = resp.json()
    assert data["name"] == "纯棉T恤" and data["price"] == "89.00"
    states = {v["sku"]: (v["name"], v["is_available"]) for v in data["variants"]}
    assert states == {"T-M": ("M码", True), "T-L": ("L", False), "T-XL": ("XL", True)}
    bad = client.patch(f"/api/products/{created['id']}/", {"price": "0"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "price_invalid"
    assert Product.objects.get(pk=created["id"]).price == Decimal("89.00")
    assert client.delete(f"/api/products/{created['id']}/").status_code == 204
    assert Product.objects.get(pk=created["id"]).is_available is False


def test_other_shops_product_is_not_found(api_for, owner):
    theirs = ProductFactory(shop=ShopFactory(slug="theirs"))
    client = api_for(owner)
    assert client.get(f"/api/products/{theirs.pk}/").status_code == 404
    assert client.patch(f"/api/products/{theirs.pk}/", {"name": "mine"}, format="json").status_code == 404
    assert client.delete(f"/api/products/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.is_available and theirs.name != "mine"


@pytest.fixture
def catalogue_item(db):
    factory = Factory.objects.create(name="义乌羽绒厂")
    fp = FactoryProduct.objects.create(
        factory=factory,
        name="轻薄羽绒服",
        moq=50,
        unit_cost=Decimal("180"),
        category="clothing",
        retail_price_min=Decimal("299"),
        retail_price_max=Decimal("499"),
    )
    FactoryVariant.objects.create(factory_product=fp, name="M 黑", sku="F-M", moq=10)
    FactoryVariant.objects.create(factory_product=fp, name="L 黑", sku="F-L", moq=10)
    FactoryProduct.objects.create(factory=factory, name="下架款", unit_cost=Decimal("1"), in_catalogue=False)
    return fp


def test_catalogue_lists_offered_products_with_bounds(
    api_for, owner, catalogue_item, django_assert_max_num_queries
):
    client = api_for(owner)
    with django_assert_max_num_queries(8):
        resp = client.get("/api/catalogue/")
    assert resp.status_code == 200
    (item,) = resp.json()
    assert item["name"] == "轻薄羽绒服" and item["factory"] == "义乌羽绒厂"
    assert (item["retail_price_min"], item["retail_price_max"]) == ("299.00", "499.00")
    assert [v["name"] for v in item["variants"]] == ["M 黑", "L 黑"]
    # More products and variants, the same number of queries (no N+1).
    for i in range(4):
        more = FactoryProduct.objects.create(
            factory=catalogue_item.factory, name=f"款{i}", unit_cost=Decimal("1")
        )
        FactoryVariant.objects.create(factory_product=more, name="均码", sku=f"F-X{i}")
    with django_assert_max_num_queries(8):
        assert len(client.get("/api/catalogue/").json()) == 5


def test_catalogue_is_for_shop_staff_only(api_for, stranger, catalogue_item):
    assert api_for(stranger).get("/api/catalogue/").status_code == 404


def test_owner_picks_from_catalogue_within_bounds(api_for, shop, owner, catalogue_item):
    resp = api_for(owner).post(
        "/api/products/", {"factory_product": catalogue_item.pk, "price": "399"}, format="json"
    )
    assert resp.status_code == 201, resp.content
    data = resp.json()
    assert data["factory_product"] == catalogue_item.pk and data["price"] == "399.00"
    assert data["category"] == "clothing" and data["name"] == "轻薄羽绒服"
    product = Product.objects.get(pk=data["id"])
    links = sorted(product.variants.values_list("name", "factory_variant__sku", "price"))
    assert links == [("L 黑", "F-L", Decimal("399.00")), ("M 黑", "F-M", Decimal("399.00"))]
    again = api_for(owner).post(
        "/api/products/", {"factory_product": catalogue_item.pk, "price": "399"}, format="json"
    )
    assert again.status_code == 409 and again.json()["code"] == "already_picked"


@pytest.mark.parametrize("price", ["298.99", "500", "1"])
def test_pick_outside_bounds_is_refused(api_for, owner, catalogue_item, price):
    resp = api_for(owner).post(
        "/api/products/", {"factory_product": catalogue_item.pk, "price": price}, format="json"
    )
    assert resp.status_code == 400 and resp.json()["code"] == "price_out_of_bounds"
    assert resp.json()["detail"]["min"] == "299.00"
    assert counts() == (0, 0)


def test_pick_of_withdrawn_or_unknown_product_is_not_found(api_for, owner, catalogue_item):
    withdrawn = FactoryProduct.objects.get(name="下架款")
    for fp_id in (withdrawn.pk, 999999, "abc"):
        resp = api_for(owner).post("/api/products/", {"factory_product": fp_id, "price": "10"}, format="json")
        assert resp.status_code == 404 and resp.json()["code"] == "factory_product_not_found"
    assert counts() == (0, 0)


def test_patch_price_of_picked_product_stays_within_bounds(api_for, owner, catalogue_item):
    client = api_for(owner)
    pid = client.post(
        "/api/products/", {"factory_product": catalogue_item.pk, "price": "399"}, format="json"
    ).json()["id"]
    resp = client.patch(f"/api/products/{pid}/", {"price": "100"}, format="json")
    assert resp.status_code == 400 and resp.json()["code"] == "price_out_of_bounds"
    assert Product.objects.get(pk=pid).price == Decimal("399.00")
