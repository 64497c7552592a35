"""Recording a payment. One repeat-safe function, called by the webhook, the success page, the
CLI, reconciliation and expire-stale: whoever comes first records the payment, everyone after
gets the same order back."""

import logging

from sqlalchemy import select

from shop.catalogue import stock
from shop.emails.outbox import queue_confirmation
from shop.errors import UnknownCheckout
from shop.extensions import db
from shop.orders.models import Order
from shop.orders.status import CLOSED, PAID, sources, transition
from shop.payments.gateway import CheckoutPayment
from shop.timeutil import utcnow

log = logging.getLogger(__name__)


def fulfil_checkout(payment: CheckoutPayment, actor: str = "stripe") -> Order:
    """Mark the order of ``payment.session_id`` paid, once, if Stripe says it is paid.

    The claim is ``transition``'s compare-and-set, the first write of the transaction, so two
    deliveries at the same moment cannot both pass it (PostgreSQL row lock; SQLite's database
    write lock). The loser sees the winner's work. A charged amount or currency that differs
    from the order's total is stored and flagged for staff; the order is still paid, because
    the money was taken. Raises ``UnknownCheckout`` when no order has that session.
    """
    order = _get_order(payment.session_id)
    if not payment.is_paid or order.status not in sources(PAID):
        return order
    left = transition(
        order,
        PAID,
        actor=actor,
        detail={
            "payment_intent": payment.payment_intent_id,
            "amount_charged_pence": payment.amount_total,
            "currency": payment.currency,
        },
        **_paid_values(payment),
    )
    if left is None:
        return order  # someone else recorded it a moment ago
    order.amount_mismatch = (
        payment.amount_total != order.total_pence or (payment.currency or "") != order.currency
    )
    if order.amount_mismatch:
        log.error(
            "Order %s: Stripe charged %s %s, the order is %s %s",
            order.reference, payment.amount_total, payment.currency,
            order.total_pence, order.currency,
        )
        order.record(
            "amount_mismatch",
            "system",
            expected_pence=order.total_pence,
            expected_currency=order.currency,
            charged_pence=payment.amount_total,
            charged_currency=payment.currency,
        )
    if left in CLOSED:
        # A late payment for a checkout already closed: its copies went back to stock.
        for isbn in stock.take_late(order.lines):
            order.record("stock_short", "system", isbn=isbn)
    queue_confirmation(order)  # same transaction as the payment: one email exactly when paid
    db.session.flush()
    return order


def _paid_values(payment: CheckoutPayment) -> dict:
    shipping = payment.shipping
    return {
        "paid_at": utcnow(),
        "closed_at": None,
        "payment_intent_id": payment.payment_intent_id,
        "amount_charged_pence": payment.amount_total,
        "currency_charged": payment.currency,
        "customer_email": payment.customer_email,
        "customer_name": payment.customer_name,
        "ship_name": shipping.get("name"),
        "ship_line1": shipping.get("line1"),
        "ship_line2": shipping.get("line2"),
        "ship_city": shipping.get("city"),
        "ship_state": shipping.get("state"),
        "ship_postal_code": shipping.get("postal_code"),
        "ship_country": shipping.get("country"),
    }


def _get_order(session_id: str) -> Order:
    order = db.session.scalar(select(Order).filter_by(stripe_session_id=session_id))
    if order is None:
        raise UnknownCheckout("We have no order for that checkout.")
    return order
