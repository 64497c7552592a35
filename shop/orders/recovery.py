"""Recovering from missed webhooks: ask Stripe what happened and apply it, repeat-safely.

Both jobs are generators that yield after each order they change, so the caller commits order by
order: Stripe is asked while no lock is held, and a failure part-way keeps what was done."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from shop.extensions import db
from shop.orders import invoicing
from shop.orders import services as orders
from shop.orders.fulfilment import fulfil_checkout
from shop.orders.models import Order
from shop.orders.status import CHECKOUT_COMPLETE, PAYMENT_PROCESSING, PENDING_PAYMENT, StatusChange
from shop.payments import gateway
from shop.payments.gateway import CheckoutPayment
from shop.progress import Advance, nothing

log = logging.getLogger(__name__)


@dataclass
class Progress:
    sessions_seen: int = 0
    processing_checked: int = 0
    invoices_checked: int = 0
    advance: Advance = nothing  # called after each session (a progress bar on a terminal)


# Why an order changed, by what Stripe says of its session.
_WHY = {
    gateway.PAID: "Stripe says paid",
    gateway.PROCESSING: "Stripe says the payment is processing",
    gateway.FAILED: "Stripe says the payment failed",
    gateway.EXPIRED: "Stripe session expired",
}


def _apply(order: Order, payment: CheckoutPayment, actor: str) -> StatusChange | None:
    """Record Stripe's view of ``order``'s session; the change, if there was one."""
    before, had_address = order.status, order.has_delivery_address
    fulfil_checkout(payment, actor=actor)
    if order.status != before:
        return StatusChange(order.reference, before, order.status, _WHY.get(payment.outcome, payment.outcome))
    if order.has_delivery_address and not had_address:
        return StatusChange(order.reference, before, order.status, "delivery address recorded from Stripe")
    return None


def _needs_work(order: Order, payment: CheckoutPayment) -> bool:
    """Whether Stripe's view could change ``order``: a completed checkout not yet recorded as
    paid (or failed), or one recorded without its delivery address."""
    if payment.outcome == gateway.OPEN:
        return False
    if order.status not in CHECKOUT_COMPLETE or order.status == PAYMENT_PROCESSING:
        return True
    return not order.has_delivery_address


def checkouts_since(since: datetime) -> int:
    """How many checkouts reached Stripe since ``since``: at most that many sessions completed."""
    return db.session.scalar(
        select(func.count(Order.id)).where(
            Order.stripe_session_id.is_not(None), Order.created_at >= since
        )
    ) or 0


def reconcile(
    since: datetime, progress: Progress, invoice_terms: invoicing.InvoiceTerms | None = None
) -> Iterator[StatusChange]:
    """Apply every Checkout Session completed since ``since`` whose order does not yet show
    it (paid, processing, failed, or missing its address); then ask Stripe again about every
    order whose payment is still processing, however old (a Bacs Direct Debit takes days);
    then, given ``invoice_terms``, about every invoice not yet paid (paid, void, uncollectible,
    overdue), and finish issuing any approved invoice Stripe could not be asked for before."""
    checked: set[str] = set()
    for payment in gateway.completed_sessions(since):
        progress.sessions_seen += 1
        checked.add(payment.session_id)
        progress.advance(1)
        order = orders.find_by_session(payment.session_id)
        if order is None or not _needs_work(order, payment):
            continue
        change = _apply(order, payment, "reconcile")
        if change:
            yield change
    processing = db.session.scalars(
        select(Order.stripe_session_id)
        .where(Order.status == PAYMENT_PROCESSING, Order.stripe_session_id.is_not(None))
        .order_by(Order.id)
    ).all()
    for session_id in processing:
        if session_id is None or session_id in checked:
            continue
        progress.processing_checked += 1
        payment = gateway.retrieve_session(session_id)
        order = orders.find_by_session(session_id)
        if order is not None:
            change = _apply(order, payment, "reconcile")
            if change:
                yield change
    if invoice_terms is not None:
        for order_id in invoicing.to_reconcile():
            progress.invoices_checked += 1
            yield from invoicing.reconcile_one(order_id, invoice_terms)


def expire_stale(now: datetime, expiry_minutes: int) -> Iterator[StatusChange]:
    """Settle pending orders past their checkout's expiry as Stripe says: paid ones are fulfilled,
    open ones expired and closed (their reserved copies return to stock), and ones whose
    payment is still processing keep their copies and wait for it. An order whose Stripe
    session was never recorded (the process died mid-checkout) is closed as failed to start.
    Orders already processing a payment are never touched: their checkout is complete."""
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
                yield StatusChange(reference, PENDING_PAYMENT, order.status, "no Stripe session")
            continue
        payment = gateway.retrieve_session(session_id)
        if payment.outcome == gateway.OPEN:
            payment = gateway.expire_session(session_id)
        order = fulfil_checkout(payment, actor="expire-stale")
        if order.status != PENDING_PAYMENT:
            yield StatusChange(reference, PENDING_PAYMENT, order.status, _WHY.get(payment.outcome, payment.outcome))
