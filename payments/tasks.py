import json
import logging
import urllib.request

from celery import shared_task
from django.conf import settings

from payments import services
from payments.provider import payment_provider

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def sim_notify_task(ids: list[int]) -> None:
    """The simulated provider's notifications: settle the charges and deliver one signed call for each."""
    from payments.simulated import SimulatedProvider

    provider = payment_provider()
    if not isinstance(provider, SimulatedProvider):
        return
    calls = provider.notifications_build(ids)
    url = getattr(settings, "FANSI_PAYMENT_NOTIFY_URL", "")
    if not url:
        services.notifications_receive_many(calls)
        return
    for headers, body in calls:
        request = urllib.request.Request(
            url, data=body, headers={**headers, "Content-Type": "application/json"}
        )
        try:
            urllib.request.urlopen(request, timeout=10).read()  # noqa: S310 - our own configured URL
        except OSError:
            logger.warning(
                "notification for %s not delivered; the pending sweep settles it",
                json.loads(body)["reference"],
            )


@shared_task(acks_late=True)
def payments_pending_sweep_task() -> None:
    services.payments_pending_sweep()


@shared_task(acks_late=True)
def sim_redeliver_task() -> None:
    """The simulated provider's notification retries (a real provider retries until we acknowledge)."""
    from payments.simulated import SimulatedProvider

    provider = payment_provider()
    if isinstance(provider, SimulatedProvider):
        provider.redeliver()
