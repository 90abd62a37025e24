"""E-payments in PostgreSQL (`schema_payments.sql`): bills, their one payment, the provider's nonces and the
notifications that matched no bill. Each public function is one transaction; a payment locks its bill's row
(FOR UPDATE) and decides with `payments.decide`; the database refuses a second payment of a bill (UNIQUE) and any
change of a paid bill (a trigger) whatever the code does. Time is passed in; the receipt's signature is made by
`sign` (the agency's key, an adapter of the web side)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from . import payments, store
from .catalogue import Loaded, Service
from .errors import NotFound
from .payments import BillState, Channel, Decision, Notice, Refused

Signer = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Bill:
    bill_ref: str
    application: str  # the application's reference
    service_id: str
    amount_minor: int
    currency: str
    state: BillState
    created_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class Payment:
    bill_ref: str
    channel: str
    transaction: str
    amount_minor: int
    currency: str
    paid_at: datetime
    actor: str
    receipt: str


_BILL = ("SELECT b.bill_ref, a.reference, b.service_id, b.amount_minor, b.currency, b.state, b.created_at, "
         "b.closed_at FROM bills b JOIN applications a ON a.id = b.application_id ")


def _bill(row: Any) -> Bill:
    return Bill(row[0], row[1], row[2], int(row[3]), row[4], BillState(row[5]), row[6], row[7])


def bill_due(service: Service | None, seen: store.Tracked) -> bool:
    """Whether the application owes its fee now: the service bills it (`fee.billed_at`) at submission, or at a
    step the application has reached (waiting there, or done)."""
    if service is None or service.fee.billed_at is None or service.fee.amount <= 0:
        return False
    at = service.fee.billed_at
    return at == "submission" or at in seen.done_steps or any(t.step == at for t in seen.ready)


def ensure_bill(conn: psycopg.Connection[Any], reference: str, service: Service, now: datetime) -> Bill:
    """The application's bill, made now if it has none (its fee, a new bill reference). Idempotent: two callers
    at once make one bill (UNIQUE application_id)."""
    amount = payments.minor_units(service.fee.amount, service.fee.currency)
    with conn.transaction():
        conn.execute(
            "INSERT INTO bills (bill_ref, application_id, service_id, amount_minor, currency, created_at) "
            "SELECT %s, id, service_id, %s, %s, %s FROM applications WHERE reference = %s "
            "ON CONFLICT (application_id) DO NOTHING",
            (payments.new_bill_reference(), amount, service.fee.currency, now, reference))
        found = bill_of_application(conn, reference)
    if found is None:
        raise NotFound(f"no application {reference}")
    return found


def make_due_bills(conn: psycopg.Connection[Any], loaded: Loaded, now: datetime, limit: int = 100) -> int:
    """The timers' job: a bill for each application that owes its fee and has none yet (submitted to a service
    billed at submission, or with a task, waiting or done, at the step it is billed at), at most `limit` a round.
    The status page makes a due bill too (`ensure_bill`); this is so that staff and the API see it at once."""
    made = 0
    for service in loaded.catalogue.services:
        at = service.fee.billed_at
        if at is None or service.fee.amount <= 0 or made >= limit:
            continue
        rows = conn.execute(
            "SELECT a.reference FROM applications a WHERE a.service_id = %s AND NOT EXISTS "
            "(SELECT 1 FROM bills b WHERE b.application_id = a.id) AND (%s OR EXISTS (SELECT 1 FROM tasks t WHERE "
            "t.application_id = a.id AND t.step = %s AND t.state IN ('ready', 'done'))) ORDER BY a.id LIMIT %s",
            (service.id, at == "submission", at, limit - made)).fetchall()
        for (reference,) in rows:
            ensure_bill(conn, reference, service, now)
            made += 1
    return made


def purge_nonces(conn: psycopg.Connection[Any], now: datetime) -> int:
    """Forget the nonces seen over an hour ago: a notification that old is refused as stale anyway (its timestamp
    is checked first, `payments.TOLERANCE_S`), so the replay check needs only the recent ones."""
    horizon = now - timedelta(seconds=max(3600, 4 * payments.TOLERANCE_S))
    return conn.execute("DELETE FROM payment_nonces WHERE seen_at < %s", (horizon,)).rowcount


def bill_of_application(conn: psycopg.Connection[Any], reference: str) -> Bill | None:
    row = conn.execute(_BILL + "WHERE a.reference = %s", (reference,)).fetchone()
    return _bill(row) if row else None


def bill(conn: psycopg.Connection[Any], bill_ref: str) -> Bill | None:
    row = conn.execute(_BILL + "WHERE b.bill_ref = %s", (bill_ref,)).fetchone()
    return _bill(row) if row else None


def payment(conn: psycopg.Connection[Any], bill_ref: str) -> Payment | None:
    row = conn.execute(
        "SELECT b.bill_ref, p.channel, p.transaction, p.amount_minor, p.currency, p.paid_at, p.actor, p.receipt "
        "FROM payments p JOIN bills b ON b.id = p.bill_id WHERE b.bill_ref = %s", (bill_ref,)).fetchone()
    return Payment(row[0], row[1], row[2], int(row[3]), row[4], row[5], row[6], row[7]) if row else None


def pay(conn: psycopg.Connection[Any], bill_ref: str, channel: Channel, transaction: str, amount_minor: int,
        currency: str, actor: str, now: datetime, sign: Signer, agency: str) -> Payment:
    """Record the payment of a bill (at the counter, or confirmed by a client of the API): the bill becomes paid,
    the receipt is signed, the audit trail says who. The same transaction again answers the same payment
    (idempotent); another one on a paid bill, another amount or a cancelled bill: `Refused`, nothing written."""
    with conn.transaction():
        return _pay(conn, bill_ref, channel, transaction, amount_minor, currency, actor, now, sign, agency)


def apply_notice(conn: psycopg.Connection[Any], notice: Notice, nonce: str, now: datetime, sign: Signer,
                 agency: str, provider: str) -> Payment:
    """An authentic notification (its signature and freshness checked by `payments.verify`): its nonce recorded
    (seen before: `Refused("replay")`, nothing written), then the bill paid as by `pay`. One that matches no open
    bill is kept in `payment_notices` for the reconciliation and refused (the bill untouched)."""
    with conn.transaction():
        row = conn.execute("INSERT INTO payment_nonces VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING nonce",
                           (nonce, now)).fetchone()
        if row is None:
            raise Refused("replay", "This notification was received before.")
        if notice.status != "paid":
            _notice(conn, notice, "failed", now)
            kept = "failed"
        else:
            try:
                with conn.transaction():  # a savepoint: a refused payment leaves nothing of itself
                    return _pay(conn, notice.bill, Channel.ONLINE, notice.transaction, notice.amount_minor,
                                notice.currency, f"provider:{provider}", now, sign, agency)
            except Refused as refused:
                kept = refused.code
                _notice(conn, notice, {"no_bill": "unknown_bill", "already_paid": "duplicate",
                                       "transaction_used": "duplicate", "bill_cancelled": "cancelled"}.get(
                                           kept, "mismatch"), now)
    # committed: the nonce and the notice stay for the reconciliation; the bill is untouched
    raise Refused(kept, "The notification matches no open bill; it is kept for the reconciliation.")


def _notice(conn: psycopg.Connection[Any], notice: Notice, outcome: str, now: datetime) -> None:
    conn.execute("INSERT INTO payment_notices (received_at, bill_ref, transaction, amount_minor, currency, outcome) "
                 "VALUES (%s, %s, %s, %s, %s, %s)",
                 (now, notice.bill, notice.transaction, notice.amount_minor, notice.currency, outcome))


def _pay(conn: psycopg.Connection[Any], bill_ref: str, channel: Channel, transaction: str, amount_minor: int,
         currency: str, actor: str, now: datetime, sign: Signer, agency: str) -> Payment:
    row = conn.execute(
        "SELECT b.id, b.state, b.amount_minor, b.currency, p.transaction, a.reference, b.service_id "
        "FROM bills b JOIN applications a ON a.id = b.application_id LEFT JOIN payments p ON p.bill_id = b.id "
        "WHERE b.bill_ref = %s FOR UPDATE OF b", (bill_ref,)).fetchone()
    if row is None:
        raise Refused("no_bill", "No bill has this reference.")
    bill_id, state, amount, bill_currency, paid_by, application, service_id = row
    decision = payments.decide(BillState(state), int(amount), bill_currency, paid_by, transaction, amount_minor,
                               currency)
    if decision is Decision.SAME:
        found = payment(conn, bill_ref)
        assert found is not None
        if found.channel != channel.value:
            raise Refused("already_paid", "This bill is paid already.")
        return found
    if decision is Decision.DUPLICATE:
        raise Refused("already_paid", "This bill is paid already.")
    if decision is Decision.CLOSED:
        raise Refused("bill_cancelled", "This bill was cancelled.")
    if decision is Decision.MISMATCH:
        raise Refused("mismatch", "The amount or currency is not the bill's.")
    payments.move(BillState(state), "pay")
    if conn.execute("SELECT 1 FROM payments WHERE transaction = %s", (transaction,)).fetchone():
        raise Refused("transaction_used", "This transaction id paid another bill.")  # (UNIQUE holds it too)
    receipt = sign(payments.receipt_claims(agency, bill_ref, application, service_id, amount_minor, currency,
                                           channel.value, transaction, now))
    conn.execute("UPDATE bills SET state = 'paid', closed_at = %s WHERE id = %s", (now, bill_id))
    conn.execute("INSERT INTO payments (bill_id, channel, transaction, amount_minor, currency, paid_at, actor, "
                 "receipt) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                 (bill_id, channel.value, transaction, amount_minor, currency, now, actor, receipt))
    store._audit(conn, now, actor, f"payment:{channel.value}", application,
                 {"bill": bill_ref, "amount": payments.amount_text(amount_minor, currency), "currency": currency,
                  "transaction": transaction})
    return Payment(bill_ref, channel.value, transaction, amount_minor, currency, now, actor, receipt)


@dataclass(frozen=True)
class DayReport:
    day: date
    online_count: int
    online_minor: int
    counter_count: int
    counter_minor: int
    currency: str
    payments: list[Payment]
    unmatched: list[tuple[datetime, str, str, int, str, str]]  # received, bill, transaction, amount, currency, why


def reconciliation(conn: psycopg.Connection[Any], day: date, zone: ZoneInfo, currency: str = "PKR") -> DayReport:
    """The day's payments (in the agency's time zone), online and at the counter, and the provider's
    notifications that matched no open bill (to compare with the provider's own statement of the day)."""
    start = datetime.combine(day, time(), zone)
    end = start + timedelta(days=1)
    rows = [Payment(r[0], r[1], r[2], int(r[3]), r[4], r[5], r[6], r[7]) for r in conn.execute(
        "SELECT b.bill_ref, p.channel, p.transaction, p.amount_minor, p.currency, p.paid_at, p.actor, p.receipt "
        "FROM payments p JOIN bills b ON b.id = p.bill_id WHERE p.paid_at >= %s AND p.paid_at < %s "
        "ORDER BY p.paid_at, p.id", (start, end))]
    unmatched = [(r[0], r[1], r[2], int(r[3]), r[4], r[5]) for r in conn.execute(
        "SELECT received_at, bill_ref, transaction, amount_minor, currency, outcome FROM payment_notices "
        "WHERE received_at >= %s AND received_at < %s ORDER BY received_at, id", (start, end))]
    online = [p for p in rows if p.channel == Channel.ONLINE.value and p.currency == currency]
    counter = [p for p in rows if p.channel == Channel.COUNTER.value and p.currency == currency]
    return DayReport(day, len(online), sum(p.amount_minor for p in online), len(counter),
                     sum(p.amount_minor for p in counter), currency, rows, unmatched)


def report_csv_rows(report: DayReport) -> list[list[str]]:
    """The report as CSV rows: one per payment and per unmatched notification, then the day's totals."""
    out = [["kind", "time", "bill", "channel", "transaction", "amount", "currency", "actor_or_reason"]]
    for p in report.payments:
        out.append(["payment", p.paid_at.isoformat(), p.bill_ref, p.channel, p.transaction,
                    payments.amount_text(p.amount_minor, p.currency), p.currency, p.actor])
    for at, bill_ref, txn, minor, cur, why in report.unmatched:
        out.append(["unmatched", at.isoformat(), bill_ref, "online", txn, payments.amount_text(minor, cur), cur, why])
    out.append(["total_online", report.day.isoformat(), "", "online", str(report.online_count),
                payments.amount_text(report.online_minor, report.currency), report.currency, ""])
    out.append(["total_counter", report.day.isoformat(), "", "counter", str(report.counter_count),
                payments.amount_text(report.counter_minor, report.currency), report.currency, ""])
    return out
