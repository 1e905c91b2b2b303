"""The payment-provider interface. Every call carries our idempotency `reference`.

A provider answers a charge either `succeeded` (money moved, in the synchronous reply) or `pending` (the
outcome arrives later as a signed notification to our webhook, as WeChat Pay and Alipay do). A declined
charge raises PaymentDeclined (no money moved); PaymentTimeout means no answer came: money may have moved,
and the notification (or query()) tells. The same reference never moves money twice, so every caller may
retry after a crash with the reference it used first.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class PaymentError(Exception):
    """The provider refused or could not be reached."""


class PaymentDeclined(PaymentError):
    """Declined (card refused and the like); no money moved."""


class PaymentTimeout(PaymentError):
    """No answer in time: money may or may not have moved; the notification or query() tells."""


class BadNotification(Exception):
    """A webhook body whose signature (or shape) does not verify: ignored, logged, answered 401."""


SUCCEEDED = "succeeded"
PENDING = "pending"
DECLINED = "declined"


@dataclass(frozen=True)
class ChargeRequest:
    reference: str
    amount: Decimal
    currency: str
    user_id: int
    description: str = ""


@dataclass(frozen=True)
class ProviderReply:
    reference: str
    status: str  # SUCCEEDED | PENDING
    provider_id: str
    amount: Decimal


@dataclass(frozen=True)
class Notification:
    """A verified provider notification: `kind` is charge or refund, `status` succeeded or declined."""

    provider_id: str
    reference: str
    kind: str
    status: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class ProviderRecord:
    """One line of the provider's own books, for reconciliation: refunds carry a negative amount."""

    reference: str
    amount: Decimal


class PaymentProvider(Protocol):
    name: str

    def charge(self, request: ChargeRequest, *, wait: bool = False) -> ProviderReply:
        """Start a charge. `wait=True` asks for the outcome in the reply when the provider can give it."""
        ...

    def charge_many(self, requests: list[ChargeRequest]) -> list[ProviderReply | PaymentError]:
        """Many charges in one call (a cycle, a balance run): one answer per request, in order."""
        ...

    def refund(
        self, *, reference: str, charge_reference: str, amount: Decimal, currency: str
    ) -> ProviderReply: ...

    def void(self, *, reference: str) -> None:
        """Cancel a charge whose answer was lost (money moved or not); a no-op if nothing moved."""
        ...

    def query(self, *, reference: str) -> str | None:
        """The provider's status of a charge (SUCCEEDED, PENDING, DECLINED), None if it never saw it."""
        ...

    def notification_parse(self, *, headers: dict[str, str], body: bytes) -> Notification:
        """Verify the signature of a webhook call and return what it says; raises BadNotification."""
        ...

    def records(self) -> Iterable[ProviderRecord]:
        """The provider's settled records (for `manage.py reconcile`)."""
        ...


_providers: dict[str, PaymentProvider] = {}


def payment_provider() -> PaymentProvider:
    """The configured provider (settings.FANSI_PAYMENT_PROVIDER, a dotted path); simulated by default."""
    path = getattr(settings, "FANSI_PAYMENT_PROVIDER", "payments.simulated.SimulatedProvider")
    provider = _providers.get(path)
    if provider is None:
        provider = _providers[path] = import_string(path)()
    return provider


def simulated_configured() -> bool:
    from payments.simulated import SimulatedProvider

    return isinstance(payment_provider(), SimulatedProvider)
