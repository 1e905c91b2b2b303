"""The simulated payment provider: its own books in its own table, shared by every process.

It answers like WeChat Pay: a charge is `pending`, then a signed notification reaches our webhook (a Celery
task delivers it; in-process by default, or by HTTP POST to FANSI_PAYMENT_NOTIFY_URL). It can be told per
fan, through SimulatorRule rows (Django admin or the staff-only /api/payment-simulator/rules/), to decline,
time out (money moves, the answer is lost) or succeed for a number of charges.
"""

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.db import is_postgresql
from payments.models import SimulatedTransaction, SimulatorOutcome, SimulatorRule
from payments.provider import (
    DECLINED,
    PENDING,
    SUCCEEDED,
    BadNotification,
    ChargeRequest,
    Notification,
    PaymentDeclined,
    PaymentError,
    PaymentTimeout,
    ProviderRecord,
    ProviderReply,
)

SIGNATURE_HEADER = "X-Sim-Signature"
TIMESTAMP_HEADER = "X-Sim-Timestamp"
MAX_SKEW_S = 300


def _key() -> bytes:
    configured = getattr(settings, "FANSI_SIM_PROVIDER_KEY", "")
    return (configured or f"sim-provider:{settings.SECRET_KEY}").encode()


def sign(body: bytes, timestamp: str) -> str:
    return hmac.new(_key(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def provider_id_for(kind: str, reference: str) -> str:
    return f"sim_{'ch' if kind == 'charge' else 're'}_{uuid.uuid5(uuid.NAMESPACE_URL, kind + reference).hex[:20]}"


class SimulatedProvider:
    name = "simulated"

    # --- rules ----------------------------------------------------------------------------------------
    def _outcomes(self, user_ids: list[int]) -> dict[int, str]:
        """Consume one matching rule per charge (a fan's own first, then everyone's), in one locked read."""
        with transaction.atomic():
            rules = list(
                SimulatorRule.objects.select_for_update()
                .filter(Q(user_id__in=set(user_ids)) | Q(user__isnull=True), times__gt=0)
                .order_by("pk")
            )
            if not rules:
                return {}
            own: dict[int, list[SimulatorRule]] = {}
            anyone = [r for r in rules if r.user_id is None]
            for r in rules:
                if r.user_id is not None:
                    own.setdefault(r.user_id, []).append(r)
            out: dict[int, str] = {}
            used: dict[int, int] = {}
            for user_id in user_ids:
                for rule in [*own.get(user_id, []), *anyone]:
                    if rule.times - used.get(rule.pk, 0) > 0:
                        used[rule.pk] = used.get(rule.pk, 0) + 1
                        out[user_id] = rule.outcome
                        break
            by_count: dict[int, list[int]] = {}
            for pk, n in used.items():
                by_count.setdefault(n, []).append(pk)
            for n, pks in by_count.items():  # usually one statement: each fan's rule used once
                SimulatorRule.objects.filter(pk__in=pks).update(times=F("times") - n)
        return out

    def rule_add(self, *, user_id: int | None, outcome: str, times: int) -> SimulatorRule:
        return SimulatorRule.objects.create(user_id=user_id, outcome=outcome, times=times)

    def reset(self) -> None:
        SimulatorRule.objects.all().delete()

    def fail_next(self, n: int = 1) -> None:
        """Decline the next `n` charges of anyone."""
        self.rule_add(user_id=None, outcome=SimulatorOutcome.DECLINE, times=n)

    def timeout_next(self, n: int = 1) -> None:
        """Time out the next `n` charges of anyone (the money moves; the reply is lost)."""
        self.rule_add(user_id=None, outcome=SimulatorOutcome.TIMEOUT, times=n)

    def net_charged(self) -> Decimal:
        """What the provider holds: charges that went through, less refunds."""
        from django.db.models import Sum

        rows = dict(
            SimulatedTransaction.objects.filter(status__in=[PENDING, SUCCEEDED])
            .values("kind")
            .annotate(t=Sum("amount"))
            .values_list("kind", "t")
        )
        return rows.get("charge", Decimal(0)) - rows.get("refund", Decimal(0))

    # --- charges --------------------------------------------------------------------------------------
    def charge(self, request: ChargeRequest, *, wait: bool = False) -> ProviderReply:
        if is_postgresql():
            answer = self._charge_one(request, wait=wait)
            if answer is not None:
                return answer
        answer = self._charge_batch([request], wait=wait)[0]
        if isinstance(answer, PaymentError):
            raise answer
        return answer

    def _charge_one(self, r: ChargeRequest, *, wait: bool) -> ProviderReply | None:
        """One charge in one statement (PostgreSQL): consume a rule, write the record. None on a retry
        of a reference already recorded (the batch path answers from the stored record)."""
        rule, txn = SimulatorRule._meta.db_table, SimulatedTransaction._meta.db_table
        pid = provider_id_for("charge", r.reference)
        sql = (
            f"WITH r AS (UPDATE {rule} SET times = times - 1 WHERE id = ("
            f"SELECT id FROM {rule} WHERE times > 0 AND (user_id = %s OR user_id IS NULL) "
            f"ORDER BY user_id NULLS LAST, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING outcome), "
            f"o AS (SELECT COALESCE((SELECT outcome FROM r), 'ok') AS outcome), "
            f"ins AS (INSERT INTO {txn} (provider_id, reference, kind, amount, currency, user_id, status, "
            f"charge_reference, notified_at, created_at) "
            f"SELECT %s, %s, 'charge', %s, %s, %s, "
            f"CASE o.outcome WHEN 'decline' THEN 'declined' WHEN 'timeout' THEN 'pending' ELSE %s END, '', "
            f"CASE WHEN o.outcome = 'ok' AND %s THEN now() ELSE NULL END, now() FROM o "
            f"ON CONFLICT (kind, reference) DO NOTHING RETURNING id, status, notified_at) "
            f"SELECT o.outcome, ins.id, ins.status, ins.notified_at FROM o LEFT JOIN ins ON true"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                sql,
                [
                    r.user_id,
                    pid,
                    r.reference,
                    r.amount,
                    r.currency,
                    r.user_id,
                    SUCCEEDED if wait else PENDING,
                    wait,
                ],
            )
            outcome, row_id, status, notified_at = cursor.fetchone()
            if row_id is None:
                return None
            if status in (PENDING, SUCCEEDED) and notified_at is None:
                from payments.tasks import sim_notify_task

                sim_notify_task.delay_on_commit([row_id])
        if status == DECLINED:
            raise PaymentDeclined("card declined")
        if outcome == SimulatorOutcome.TIMEOUT:
            raise PaymentTimeout("provider did not answer")
        return ProviderReply(r.reference, status, pid, r.amount)

    def charge_many(self, requests: list[ChargeRequest]) -> list[ProviderReply | PaymentError]:
        return self._charge_batch(requests, wait=False)

    def _charge_batch(
        self, requests: list[ChargeRequest], *, wait: bool
    ) -> list[ProviderReply | PaymentError]:
        outcomes = self._outcomes([r.user_id for r in requests])
        timed_out: set[str] = set()
        rows = []
        for r in requests:
            outcome = outcomes.get(r.user_id, SimulatorOutcome.OK)
            if outcome == SimulatorOutcome.DECLINE:
                status = DECLINED
            elif outcome == SimulatorOutcome.TIMEOUT:
                status = PENDING  # the money moves and the notification comes; the reply is lost
                timed_out.add(r.reference)
            else:
                status = SUCCEEDED if wait else PENDING
            rows.append(
                SimulatedTransaction(
                    provider_id=provider_id_for("charge", r.reference),
                    reference=r.reference,
                    kind="charge",
                    amount=r.amount,
                    currency=r.currency,
                    user_id=r.user_id,
                    status=status,
                    # Answered in the reply: nothing left to notify.
                    notified_at=timezone.now() if status == SUCCEEDED else None,
                )
            )
        with transaction.atomic():
            # The same reference twice: the provider's first record stands (idempotent by reference).
            SimulatedTransaction.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
            stored = {
                t.reference: t
                for t in SimulatedTransaction.objects.filter(
                    kind="charge", reference__in=[r.reference for r in requests]
                )
            }
            notify = sorted(
                t.pk for t in stored.values() if t.status in (PENDING, SUCCEEDED) and t.notified_at is None
            )
            if notify:
                from payments.tasks import sim_notify_task

                sim_notify_task.delay_on_commit(notify)
        answers: list[ProviderReply | PaymentError] = []
        for r in requests:
            t = stored[r.reference]
            if t.status in (DECLINED, "voided"):
                answers.append(PaymentDeclined("card declined" if t.status == DECLINED else "voided"))
            elif r.reference in timed_out:
                answers.append(PaymentTimeout("provider did not answer"))
            else:
                answers.append(ProviderReply(r.reference, t.status, t.provider_id, t.amount))
        return answers

    def refund(
        self, *, reference: str, charge_reference: str, amount: Decimal, currency: str
    ) -> ProviderReply:
        pid = provider_id_for("refund", reference)
        try:
            with transaction.atomic():
                SimulatedTransaction.objects.create(
                    provider_id=pid,
                    reference=reference,
                    kind="refund",
                    amount=amount,
                    currency=currency,
                    status=SUCCEEDED,
                    charge_reference=charge_reference,
                    notified_at=timezone.now(),
                )
        except IntegrityError:
            t = SimulatedTransaction.objects.get(kind="refund", reference=reference)
            return ProviderReply(reference, SUCCEEDED, t.provider_id, t.amount)
        return ProviderReply(reference, SUCCEEDED, pid, amount)

    def refund_many(self, refunds: list[tuple[str, str, Decimal, str]]) -> list[ProviderReply]:
        """(reference, charge_reference, amount, currency) each; idempotent by reference."""
        now = timezone.now()
        SimulatedTransaction.objects.bulk_create(
            [
                SimulatedTransaction(
                    provider_id=provider_id_for("refund", ref),
                    reference=ref,
                    kind="refund",
                    amount=amount,
                    currency=currency,
                    status=SUCCEEDED,
                    charge_reference=charge_ref,
                    notified_at=now,
                )
                for ref, charge_ref, amount, currency in refunds
            ],
            ignore_conflicts=True,
            batch_size=2000,
        )
        return [
            ProviderReply(ref, SUCCEEDED, provider_id_for("refund", ref), amount)
            for ref, _c, amount, _cur in refunds
        ]

    def void(self, *, reference: str) -> None:
        SimulatedTransaction.objects.filter(kind="charge", reference=reference).exclude(
            status=DECLINED
        ).update(status="voided")

    def query(self, *, reference: str) -> str | None:
        t = SimulatedTransaction.objects.filter(kind="charge", reference=reference).first()
        if t is None:
            return None
        return {"voided": DECLINED}.get(t.status, t.status)

    # --- notifications --------------------------------------------------------------------------------
    def notifications_build(self, ids: list[int]) -> list[tuple[dict[str, str], bytes]]:
        """Settle pending charges (the payer confirmed) and sign one notification for each."""
        # The payer confirmed: pending to succeeded and stamped notified, in one statement.
        from django.db.models import Case, Value, When

        now = timezone.now()
        with transaction.atomic():
            if is_postgresql():
                table = SimulatedTransaction._meta.db_table
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {table} SET status = %s, notified_at = %s WHERE id = ANY(%s) "
                        f"AND status IN (%s, %s) RETURNING provider_id, reference, kind, amount, currency",
                        [SUCCEEDED, now, list(ids), PENDING, SUCCEEDED],
                    )
                    keys = ("provider_id", "reference", "kind", "amount", "currency")
                    rows = [dict(zip(keys, r, strict=True)) for r in cursor.fetchall()]
            else:
                SimulatedTransaction.objects.filter(pk__in=ids, status__in=[PENDING, SUCCEEDED]).update(
                    status=Case(When(status=PENDING, then=Value(SUCCEEDED)), default=F("status")),
                    notified_at=now,
                )
                rows = list(
                    SimulatedTransaction.objects.filter(pk__in=ids, status=SUCCEEDED).values(
                        "provider_id", "reference", "kind", "amount", "currency"
                    )
                )
        out = []
        for row in rows:
            body = json.dumps(
                {
                    "id": row["provider_id"],
                    "reference": row["reference"],
                    "kind": row["kind"],
                    "status": SUCCEEDED,
                    "amount": str(row["amount"]),
                    "currency": row["currency"],
                },
                separators=(",", ":"),
            ).encode()
            out.append((self.headers_for(body), body))
        return out

    def redeliver(self, *, older_than_s: int = 60, limit: int = 5000) -> int:
        """Like a real provider, retry notifications nobody acknowledged: charges never notified, or whose
        payment is still pending on our side a minute after the notification. Returns how many were queued."""
        from payments.models import Payment, PaymentStatus

        cutoff = timezone.now() - timezone.timedelta(seconds=older_than_s)
        stale = SimulatedTransaction.objects.filter(
            kind="charge", status__in=[PENDING, SUCCEEDED], created_at__lt=cutoff
        ).filter(
            Q(notified_at__isnull=True)
            | Q(
                notified_at__lt=cutoff,
                reference__in=Payment.objects.filter(status=PaymentStatus.PENDING).values("reference"),
            )
        )
        ids = list(stale.order_by("pk").values_list("pk", flat=True)[:limit])
        if ids:
            from payments.tasks import sim_notify_task

            for start in range(0, len(ids), 2000):
                sim_notify_task.delay(ids[start : start + 2000])
        return len(ids)

    def headers_for(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        return {SIGNATURE_HEADER: sign(body, timestamp), TIMESTAMP_HEADER: timestamp}

    def notification_parse(self, *, headers: dict[str, str], body: bytes) -> Notification:
        lower = {k.lower(): v for k, v in headers.items()}
        signature = lower.get(SIGNATURE_HEADER.lower(), "")
        timestamp = lower.get(TIMESTAMP_HEADER.lower(), "")
        if not signature or not timestamp.isdigit():
            raise BadNotification("missing signature")
        if abs(time.time() - int(timestamp)) > MAX_SKEW_S:
            raise BadNotification("stale timestamp")
        if not hmac.compare_digest(sign(body, timestamp), signature):
            raise BadNotification("bad signature")
        try:
            data = json.loads(body)
            return Notification(
                provider_id=str(data["id"]),
                reference=str(data["reference"]),
                kind=str(data["kind"]),
                status=str(data["status"]),
                amount=Decimal(str(data["amount"])),
                currency=str(data["currency"]),
            )
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            raise BadNotification("bad body") from exc

    def records(self) -> Iterable[ProviderRecord]:
        for ref, kind, amount in (
            SimulatedTransaction.objects.filter(status=SUCCEEDED)
            .values_list("reference", "kind", "amount")
            .iterator(chunk_size=10000)
        ):
            yield ProviderRecord(ref, amount if kind == "charge" else -amount)
