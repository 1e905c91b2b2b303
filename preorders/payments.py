"""The payment-provider interface and the simulated provider (there is no real gateway).

Every call carries an idempotency `reference`: the same reference never moves money twice, so a
caller may retry after a crash or a timeout.
"""

import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class PaymentError(Exception):
    """The provider refused (card declined and the like); no money moved."""


class PaymentTimeout(PaymentError):
    """No answer in time: money may or may not have moved; void with the same reference."""


@dataclass(frozen=True)
class PaymentResult:
    provider_id: str
    amount: Decimal


class PaymentProvider(Protocol):
    def charge(self, *, reference: str, amount: Decimal, currency: str, user_id: int) -> PaymentResult: ...

    def refund(
        self, *, reference: str, charge_reference: str, amount: Decimal, currency: str
    ) -> PaymentResult: ...

    def void(self, *, reference: str) -> None: ...


class SimulatedProvider:
    """In-memory provider. Tell it to fail or time out with `fail_next`/`timeout_next` or `mode`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mode = "ok"  # "ok" | "fail" | "timeout"
        self._fail_next = 0
        self._timeout_next = 0
        self.charges: dict[str, Decimal] = {}
        self.refunds: dict[str, Decimal] = {}
        self.voided: set[str] = set()

    def reset(self) -> None:
        with self._lock:
            self.mode, self._fail_next, self._timeout_next = "ok", 0, 0
            self.charges.clear()
            self.refunds.clear()
            self.voided.clear()

    def fail_next(self, n: int = 1) -> None:
        with self._lock:
            self._fail_next += n

    def timeout_next(self, n: int = 1) -> None:
        with self._lock:
            self._timeout_next += n

    def _outcome(self) -> str:
        with self._lock:
            if self._timeout_next:
                self._timeout_next -= 1
                return "timeout"
            if self._fail_next:
                self._fail_next -= 1
                return "fail"
            return self.mode

    def charge(self, *, reference: str, amount: Decimal, currency: str, user_id: int) -> PaymentResult:
        outcome = self._outcome()
        if outcome == "fail":
            raise PaymentError("card declined")
        with self._lock:
            self.charges.setdefault(reference, amount)
        if outcome == "timeout":
            # The worst case: the money moved but the answer was lost.
            raise PaymentTimeout("provider did not answer")
        return PaymentResult(
            provider_id=f"sim_ch_{uuid.uuid5(uuid.NAMESPACE_URL, reference).hex[:16]}", amount=amount
        )

    def refund(
        self, *, reference: str, charge_reference: str, amount: Decimal, currency: str
    ) -> PaymentResult:
        with self._lock:
            self.refunds.setdefault(reference, amount)
        return PaymentResult(
            provider_id=f"sim_re_{uuid.uuid5(uuid.NAMESPACE_URL, reference).hex[:16]}", amount=amount
        )

    def void(self, *, reference: str) -> None:
        with self._lock:
            self.voided.add(reference)
            self.charges.pop(reference, None)

    def net_charged(self) -> Decimal:
        with self._lock:
            return sum(self.charges.values(), Decimal(0)) - sum(self.refunds.values(), Decimal(0))


_provider: PaymentProvider | None = None
_provider_lock = threading.Lock()


def payment_provider() -> PaymentProvider:
    """The configured provider (settings.FANSI_PAYMENT_PROVIDER, a dotted path); simulated by default."""
    global _provider
    with _provider_lock:
        if _provider is None:
            path = getattr(settings, "FANSI_PAYMENT_PROVIDER", "preorders.payments.SimulatedProvider")
            _provider = import_string(path)()
        return _provider
