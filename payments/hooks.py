"""What a settled payment means is decided above us: preorders registers one handler per purpose.

A handler is called inside the transaction that marks the payments settled, with every payment of its
purpose settled in that batch: `handler(succeeded: list[Payment], failed: list[Payment])`. It must only
write (no provider calls) and be safe to run once per payment: the status guard guarantees once.
"""

from collections.abc import Callable

from core.hooks import Registry

SettledHandler = Callable[[list, list], None]

payment_settled: Registry[SettledHandler] = Registry(
    "payments.payment_settled", required=("balance", "cycle"), offered_by="preorders"
)

PostedHandler = Callable[[list[int]], None]

ledger_posted: Registry[PostedHandler] = Registry(
    "payments.ledger_posted", required=("fan_spend",), offered_by="preorders"
)
"""Called inside the posting's transaction with the pledge ids whose cash at the provider moved (charges,
refunds, compensation), so the app that knows whose pledge it is can refresh what that fan has spent."""
