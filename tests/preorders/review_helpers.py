"""Delivered pledges for the review tests: the real order flow, then parcels recorded as delivered."""

import io

from django.utils import timezone
from PIL import Image

from preorders.models import Shipment, ShipmentItem
from tests.preorders.test_fulfilment import build_order


def deliver(flow, pledge) -> Shipment:
    now = timezone.now()
    shipment = Shipment.objects.create(
        factory_order=flow.order,
        fan=pledge.fan,
        carrier="顺丰",
        tracking_number=f"SF{pledge.pk}",
        shipped_at=now,
        status="delivered",
        delivered_at=now,
    )
    ShipmentItem.objects.create(
        shipment=shipment, pledge=pledge, factory_order=flow.order, quantity=pledge.quantity
    )
    return shipment


def delivered_flow(owner, shop, product, capture, *, n_paid=4):
    flow = build_order(owner, shop, product[0], product[1], capture, n_paid=n_paid)
    deliver(flow, flow.pledges[0])
    return flow


def jpeg_with_exif() -> bytes:
    out = io.BytesIO()
    img = Image.new("RGB", (40, 30), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()
