"""Checkout: from a basket to a Stripe Checkout Session, and Stripe's answers back to orders."""

import logging

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shop.basket.services import PricedBasket
from shop.errors import CheckoutError, PaymentGatewayError, UnknownCheckout
from shop.extensions import db
from shop.orders import services as orders
from shop.orders.fulfilment import fulfil_checkout
from shop.orders.models import Order, StripeEvent
from shop.orders.refunds import handle_refund_event
from shop.orders.status import CANCELLED, EXPIRED, PAYMENT_FAILED
from shop.payments import gateway
from shop.payments.gateway import (
    CheckoutLine,
    CheckoutRequest,
    CheckoutUrls,
    StartedCheckout,
    WebhookEvent,
)
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

PAYMENT_EVENTS = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
# Refunds made anywhere (here or in Stripe's dashboard), and their later status changes.
REFUND_EVENTS = {"charge.refunded", "charge.refund.updated", "refund.updated", "refund.failed"}
CLOSING_EVENTS = {
    "checkout.session.expired": EXPIRED,
    "checkout.session.async_payment_failed": PAYMENT_FAILED,
}


def place_order(basket: PricedBasket, reference_prefix: str) -> Order:
    """Record the basket as a ``pending_payment`` order (prices from the database, copies of
    titles in stock reserved, pre-orders and back-orders as the basket offered them);
    ``CheckoutError`` says why not, and nothing is kept."""
    if basket.is_empty:
        raise CheckoutError("Your basket is empty.")
    if basket.problems:
        raise CheckoutError(" ".join(basket.problems))
    return orders.place_order(
        [(line.publication, line.quantity, line.offer) for line in basket.lines],
        basket.region.key,
        basket.postage_pence,
        reference_prefix,
    )


def checkout_request(
    order: Order, urls: CheckoutUrls, basket: PricedBasket, expires_in_minutes: int
) -> CheckoutRequest:
    """What Stripe is asked for: every amount from the order's own lines and postage."""
    return CheckoutRequest(
        order_id=order.id,
        reference=order.reference or "",
        currency=order.currency,
        lines=tuple(
            CheckoutLine(line.title, line.isbn, line.unit_price_pence, line.quantity)
            for line in order.lines
        ),
        shipping_label=f"Post to {basket.region.label}",
        shipping_amount=order.postage_pence,
        allowed_countries=basket.region.countries,
        # Stable for one order, so a retried create can never open a second session for it.
        idempotency_key=f"checkout-{order.reference}-{int(order.created_at.timestamp() * 1_000_000)}",
        expires_in_minutes=expires_in_minutes,
        urls=urls,
    )


def open_payment(
    order: Order, urls: CheckoutUrls, basket: PricedBasket, expires_in_minutes: int
) -> StartedCheckout:
    """Ask Stripe for a Checkout Session for a committed ``pending_payment`` order.

    On failure the order is marked ``failed_to_start`` and ``PaymentGatewayError`` propagates
    with the customer's message; the caller commits either way.
    """
    try:
        started = gateway.create_session(checkout_request(order, urls, basket, expires_in_minutes))
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
        refunded = handle_refund_event(event.payment_intent_id, listed)
        return f"{refunded.reference} {refunded.status}"
    if event.payment is None or event.type not in PAYMENT_EVENTS | CLOSING_EVENTS.keys():
        return "ignored"
    if not _remember(event):
        return "duplicate"
    order: Order | None
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
        dialect_insert(StripeEvent)
        .values(id=event.id, type=event.type, received_at=utcnow())
        .on_conflict_do_nothing()
        .returning(StripeEvent.id)  # rowcount is not reliable here across drivers; RETURNING is
    )
    return db.session.execute(statement).scalar() is not None
