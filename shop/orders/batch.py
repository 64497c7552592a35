"""Batch actions on the desk: dispatching many orders at once, recording what was printed or
exported for each, and correcting tracking after dispatch.

Every change goes through ``status.transition`` and is recorded on each order's timeline. A
batch runs in the caller's one transaction: orders that cannot move are listed and left alone,
the rest move, and an unexpected error rolls the whole batch back (nothing half-done)."""

import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.emails.outbox import queue_dispatch_correction, queue_dispatch_notice
from shop.extensions import db
from shop.orders.desk import DeskError, packable, why_not_packable
from shop.orders.models import MAX_CARRIER, MAX_TRACKING, Order
from shop.orders.status import dispatched_status, transition
from shop.timeutil import utcnow


@dataclass(frozen=True)
class LeftAlone:
    reference: str
    reason: str


@dataclass
class BatchResult:
    batch: str  # an id shared by the batch's timeline events
    moved: list[str] = field(default_factory=list)
    left_alone: list[LeftAlone] = field(default_factory=list)


def new_batch_id() -> str:
    return secrets.token_hex(4)


def packable_ids(order_ids: list[int]) -> set[int]:
    """Which of ``order_ids`` may be packed now, by the one definition in ``desk.packable``."""
    if not order_ids:
        return set()
    return set(db.session.scalars(select(Order.id).where(Order.id.in_(order_ids), packable())))


def _clean(value: str | None, limit: int, what: str) -> str | None:
    value = " ".join((value or "").split())
    if len(value) > limit:
        raise DeskError(f"A {what} can have at most {limit} characters.")
    return value or None


def dispatch_batch(orders: list[Order], carrier: str, tracking: dict[str, str], actor: str) -> BatchResult:
    """Mark each packable order in ``orders`` dispatched with ``carrier`` and its tracking number
    from ``tracking`` (by reference; optional), queue its dispatch email, and list the rest with
    the reason. Orders are taken in id order, so two overlapping batches cannot deadlock; one
    that someone else moved in the meantime is listed, not moved twice. Flushes."""
    carrier_value = _clean(carrier, MAX_CARRIER, "carrier")
    numbers = {ref.upper(): _clean(number, MAX_TRACKING, "tracking number") for ref, number in tracking.items()}
    result = BatchResult(new_batch_id())
    ordered = sorted(orders, key=lambda order: order.id)
    allowed = packable_ids([order.id for order in ordered])
    now = utcnow()
    for order in ordered:
        reference = order.reference or ""
        if order.id not in allowed:
            result.left_alone.append(LeftAlone(reference, why_not_packable(order)))
            continue
        number = numbers.get(reference)
        moved = transition(
            order,
            dispatched_status(order.status),  # an invoiced order is posted before it is paid
            actor=actor,
            kind="dispatched",
            detail={"carrier": carrier_value, "tracking_number": number, "batch": result.batch},
            dispatched_at=now,
            carrier=carrier_value,
            tracking_number=number,
        )
        if not moved:
            result.left_alone.append(LeftAlone(reference, "changed by someone else meanwhile"))
            continue
        queue_dispatch_notice(order)
        result.moved.append(reference)
    db.session.flush()
    return result


def record_printed(orders: list[Order], kind: str, actor: str, **detail) -> str:
    """One timeline event per order for a document made for a batch (slips, labels, export).
    Returns the batch id the events share. Flushes."""
    batch = new_batch_id()
    for order in orders:
        order.record(kind, actor, batch=batch, orders_in_batch=len(orders), **detail)
    db.session.flush()
    return batch


def load_for_documents(orders: list[Order]) -> list[Order]:
    """The same orders with their lines loaded in one query (slips and exports read them)."""
    if not orders:
        return []
    ids = [order.id for order in orders]
    db.session.scalars(
        select(Order).where(Order.id.in_(ids)).options(selectinload(Order.lines), selectinload(Order.invoice))
    ).all()
    return orders


def correct_tracking(order: Order, carrier: str, tracking_number: str, actor: str, *, notify: bool) -> bool:
    """Correct the carrier and tracking number of a dispatched order, audited with before and
    after. With ``notify``, the customer gets one corrected dispatch email for this correction
    (keyed by its timeline event). Returns whether an email was queued. Raises ``DeskError``
    for an order not dispatched, or when nothing would change. Flushes."""
    if order.dispatched_at is None:
        raise DeskError(f"Order {order.reference} has not been dispatched: there is no tracking to correct.")
    new_carrier = _clean(carrier, MAX_CARRIER, "carrier")
    new_number = _clean(tracking_number, MAX_TRACKING, "tracking number")
    if (new_carrier, new_number) == (order.carrier, order.tracking_number):
        raise DeskError("That is what the order already says: nothing to correct.")
    before = {"carrier": order.carrier, "tracking_number": order.tracking_number}
    order.carrier, order.tracking_number = new_carrier, new_number
    order.record(
        "tracking_corrected", actor, before=before,
        after={"carrier": new_carrier, "tracking_number": new_number}, customer_emailed=notify,
    )
    db.session.flush()
    if not notify:
        return False
    event = order.events[-1]
    return queue_dispatch_correction(order, event.id) is not None
