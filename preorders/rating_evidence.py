"""Sales evidence for 红黑榜 (shops.hooks): delivered units, after-sales requests and refund rates per product."""

from collections.abc import Iterable

from django.db.models import Count, Sum

from preorders.fulfilment_models import AfterSalesRequest, AfterSalesStatus, ShipmentItem, ShipmentStatus


def _delivered(product_ids: list[int], shop_id: int | None = None) -> dict[int, int]:
    qs = ShipmentItem.objects.filter(
        shipment__status=ShipmentStatus.DELIVERED, pledge__campaign__product_id__in=product_ids
    )
    if shop_id is not None:
        qs = qs.filter(pledge__campaign__shop_id=shop_id)
    rows = qs.values("pledge__campaign__product_id").annotate(n=Sum("quantity"))
    return {r["pledge__campaign__product_id"]: r["n"] or 0 for r in rows}


def rating_evidence(shop_id: int, product_ids: list[int]) -> dict[int, tuple[int, int]]:
    """{product: (delivered units, after-sales requests)} of one shop: two grouped statements."""
    delivered = _delivered(product_ids, shop_id)
    requests = (
        AfterSalesRequest.objects.filter(
            pledge__campaign__shop_id=shop_id, pledge__campaign__product_id__in=product_ids
        )
        .values("pledge__campaign__product_id")
        .annotate(n=Count("pk"))
    )
    after = {r["pledge__campaign__product_id"]: r["n"] for r in requests}
    return {pid: (delivered.get(pid, 0), after.get(pid, 0)) for pid in set(delivered) | set(after)}


def refund_rates(product_ids: Iterable[int]) -> dict[int, float]:
    """Approved after-sales requests per delivered pledge, per product (over every shop selling it)."""
    ids = list(product_ids)
    pledges = (
        ShipmentItem.objects.filter(
            shipment__status=ShipmentStatus.DELIVERED, pledge__campaign__product_id__in=ids
        )
        .values("pledge__campaign__product_id")
        .annotate(n=Count("pledge_id", distinct=True))
    )
    delivered = {r["pledge__campaign__product_id"]: r["n"] for r in pledges}
    approved = (
        AfterSalesRequest.objects.filter(
            status=AfterSalesStatus.APPROVED, pledge__campaign__product_id__in=ids
        )
        .values("pledge__campaign__product_id")
        .annotate(n=Count("pledge_id", distinct=True))
    )
    refunds = {r["pledge__campaign__product_id"]: r["n"] for r in approved}
    return {pid: min(1.0, refunds.get(pid, 0) / n) for pid, n in delivered.items() if n}


def review_averages(product_ids: Iterable[int]) -> dict[int, tuple[float, int]]:
    """The board's star average per product: fans' reviews, hidden ones left out (preorders.services.reviews)."""
    from preorders.services.reviews import reviews_avg_by_product

    return {pid: (float(avg), n) for pid, (avg, n) in reviews_avg_by_product(list(product_ids)).items()}
