"""Recovering from missed webhooks: ask Stripe what happened and apply it, repeat-safely.

Both jobs are generators that yield after each order they change, so the caller commits order by
order: Stripe is asked while no lock is held, and a failure part-way keeps what was done."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from shop.extensions import db
from shop.orders import services as orders
from shop.orders.fulfilment import fulfil_checkout
from shop.orders.models import Order
from shop.orders.status import EXPIRED, PAID, PENDING_PAYMENT, sources
from shop.payments import gateway
from shop.progress import Advance, nothing

log = logging.getLogger(__name__)


@dataclass
class Change:
    reference: str | None
    before: str
    after: str
    why: str

    def __str__(self) -> str:
        return f"{self.reference}\t{self.before} -> {self.after}\t{self.why}"


@dataclass
class Progress:
    sessions_seen: int = 0
    advance: Advance = nothing  # called after each session (a progress bar on a terminal)


def checkouts_since(since: datetime) -> int:
    """How many checkouts reached Stripe since ``since``: at most that many sessions completed."""
    return db.session.scalar(
        select(func.count(Order.id)).where(
            Order.stripe_session_id.is_not(None), Order.created_at >= since
        )
    ) or 0


def reconcile(since: datetime, progress: Progress) -> Iterator[Change]:
    """Fulfil every paid session completed since ``since`` whose order is not yet paid."""
    unpaid = sources(PAID)
    for payment in gateway.completed_sessions(since):
        progress.sessions_seen += 1
        progress.advance(1)
        order = orders.find_by_session(payment.session_id)
        if order is None or not payment.is_paid or order.status not in unpaid:
            continue
        before = order.status
        fulfil_checkout(payment, actor="reconcile")
        yield Change(order.reference, before, order.status, "Stripe says paid")


def expire_stale(now: datetime, expiry_minutes: int) -> Iterator[Change]:
    """Settle pending orders past their checkout's expiry as Stripe says: paid ones are fulfilled,
    others closed, and their reserved copies return to stock. An order whose Stripe session was
    never recorded (the process died mid-checkout) is closed as failed to start."""
    cutoff = now - timedelta(minutes=expiry_minutes + 1)
    stale = db.session.execute(
        select(Order.id, Order.reference, Order.stripe_session_id)
        .where(Order.status == PENDING_PAYMENT, Order.created_at < cutoff)
        .order_by(Order.id)
    ).all()
    for order_id, reference, session_id in stale:
        if session_id is None:
            order = db.session.get(Order, order_id)
            if order is not None and order.status == PENDING_PAYMENT:
                orders.record_checkout_failed(order, "The checkout never reached Stripe.")
                yield Change(reference, PENDING_PAYMENT, order.status, "no Stripe session")
            continue
        payment = gateway.retrieve_session(session_id)
        if payment.status == "open":
            payment = gateway.expire_session(session_id)
        if payment.is_paid:
            order = fulfil_checkout(payment, actor="expire-stale")
            why = "Stripe says paid"
        else:
            order = orders.close_checkout(session_id, EXPIRED, actor="expire-stale")
            why = f"Stripe session {payment.status}"
        if order is not None and order.status != PENDING_PAYMENT:
            yield Change(reference, PENDING_PAYMENT, order.status, why)
