"""Checkout: from a basket to a Stripe Checkout Session, and Stripe's answers back to orders."""

import logging

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shop.basket.services import PricedBasket
from shop.checkout import gateway
from shop.checkout.gateway import CheckoutUrls, StartedCheckout, WebhookEvent
from shop.errors import PaymentGatewayError, UnknownCheckout
from shop.extensions import db
from shop.orders import services as orders
from shop.orders.fulfilment import fulfil_checkout
from shop.orders.refunds import handle_refund_event
from shop.timeutil import utcnow
from shop.orders.models import CANCELLED, EXPIRED, PAYMENT_FAILED, Order, StripeEvent

log = logging.getLogger(__name__)

PAYMENT_EVENTS = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
# Refunds made anywhere (here or in Stripe's dashboard), and their later status changes.
REFUND_EVENTS = {"charge.refunded", "charge.refund.updated", "refund.updated", "refund.failed"}
CLOSING_EVENTS = {
    "checkout.session.expired": EXPIRED,
    "checkout.session.async_payment_failed": PAYMENT_FAILED,
}


def open_payment(order: Order, urls: CheckoutUrls, basket: PricedBasket) -> StartedCheckout:
    """Ask Stripe for a Checkout Session for a committed ``pending_payment`` order.

    On failure the order is marked ``failed_to_start`` and ``PaymentGatewayError`` propagates
    with the customer's message; the caller commits either way.
    """
    try:
        started = gateway.create_session(order, urls, basket.region)
    except PaymentGatewayError as error:
        orders.record_checkout_failed(order, error.message)
        raise
    orders.record_checkout_started(order, started.session_id)
    return started


def confirm_checkout(session_id: str) -> Order:
    """The success page: ask Stripe about the session and record the payment if it is paid.

    Does not wait for the webhook; both go through the same repeat-safe fulfilment.
    """
    order = orders.find_by_session(session_id)
    if order is None:
        raise UnknownCheckout("We have no order for that checkout.")
    if order.is_paid:
        return order
    payment = gateway.retrieve_session(session_id)
    return fulfil_checkout(payment, actor="customer")


def cancel_checkout(session_id: str) -> Order | None:
    """The customer came back from Stripe without paying: close the session so an old tab cannot
    pay a stale order later, and close the order (unless it was paid meanwhile)."""
    order = orders.find_by_session(session_id)
    if order is None or order.is_paid:
        return order
    payment = gateway.expire_session(session_id)
    if payment.is_paid:
        return fulfil_checkout(payment, actor="customer")
    return orders.close_checkout(session_id, CANCELLED, actor="customer")


def handle_event(event: WebhookEvent) -> str:
    """Apply one verified Stripe event, at most once per event id. Returns what was done."""
    if event.type in REFUND_EVENTS and event.payment_intent_id:
        # Ask Stripe first, while we hold no lock; then remember the event and record.
        listed = gateway.list_refunds(event.payment_intent_id)
        if not _remember(event):
            return "duplicate"
        order = handle_refund_event(event.payment_intent_id, listed)
        return f"{order.reference} {order.status}"
    if event.payment is None or event.type not in PAYMENT_EVENTS | CLOSING_EVENTS.keys():
        return "ignored"
    if not _remember(event):
        return "duplicate"
    try:
        if event.type in PAYMENT_EVENTS:
            order = fulfil_checkout(event.payment)
        else:
            order = orders.close_checkout(
                event.payment.session_id, CLOSING_EVENTS[event.type], actor="stripe"
            )
    except UnknownCheckout:
        order = None
    if order is None:
        log.info("Stripe event %s is for a session that is not ours", event.id)
        return "not ours"
    return f"{order.reference} {order.status}"


def _remember(event: WebhookEvent) -> bool:
    """Insert the event id; False if it was already there (a redelivery, maybe concurrent)."""
    dialect_insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        dialect_insert(StripeEvent.__table__)
        .values(id=event.id, type=event.type, received_at=utcnow())
        .on_conflict_do_nothing()
        .returning(StripeEvent.id)  # rowcount is not reliable here across drivers; RETURNING is
    )
    return db.session.execute(statement).scalar() is not None
