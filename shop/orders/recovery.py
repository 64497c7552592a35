"""Recovering from missed webhooks: ask Stripe what happened and apply it, repeat-safely."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from shop.checkout import gateway
from shop.extensions import db
from shop.orders import services as orders
from shop.orders.fulfilment import fulfil_checkout
from shop.orders.models import EXPIRED, PAID, PENDING_PAYMENT, Order, statuses_that_may_become

log = logging.getLogger(__name__)


@dataclass
class Change:
    reference: str
    before: str
    after: str
    why: str

    def __str__(self) -> str:
        return f"{self.reference}\t{self.before} -> {self.after}\t{self.why}"


def reconcile(since: datetime) -> tuple[list[Change], int]:
    """Fulfil every paid session completed since ``since`` whose order is not yet paid.

    Returns the changes made and the number of sessions looked at; flushes after each.
    """
    changes, seen = [], 0
    for payment in gateway.completed_sessions(since):
        seen += 1
        order = orders.find_by_session(payment.session_id)
        if order is None or not payment.is_paid or order.status not in _unpaid():
            continue
        before = order.status
        fulfil_checkout(payment, actor="reconcile")
        changes.append(Change(order.reference, before, order.status, "Stripe says paid"))
    return changes, seen


def expire_stale(now: datetime, expiry_minutes: int) -> list[Change]:
    """Settle pending orders past their checkout's expiry as Stripe says: paid ones are fulfilled,
    others closed (their reserved copies return to stock)."""
    cutoff = now - timedelta(minutes=expiry_minutes + 1)
    stale = db.session.scalars(
        select(Order).where(
            Order.status == PENDING_PAYMENT,
            Order.created_at < cutoff,
            Order.stripe_session_id.is_not(None),
        ).order_by(Order.id)
    ).all()
    changes = []
    for order in stale:
        payment = gateway.retrieve_session(order.stripe_session_id)
        if payment.is_paid:
            fulfil_checkout(payment, actor="expire-stale")
            why = "Stripe says paid"
        else:
            if payment.status == "open":
                payment = gateway.expire_session(order.stripe_session_id)
            if payment.is_paid:
                fulfil_checkout(payment, actor="expire-stale")
                why = "paid as we closed it"
            else:
                orders.close_checkout(order.stripe_session_id, EXPIRED, actor="expire-stale")
                why = f"Stripe session {payment.status}"
        db.session.refresh(order)
        changes.append(Change(order.reference, PENDING_PAYMENT, order.status, why))
    return changes


def _unpaid() -> set[str]:
    return set(statuses_that_may_become(PAID))
