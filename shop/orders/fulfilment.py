"""Recording a payment. One repeat-safe function, called by the webhook, the success page and the
CLI: whoever comes first records the payment, everyone after gets the same order back."""

import logging

from sqlalchemy import select, update

from shop.checkout.gateway import CheckoutPayment
from shop.emails.outbox import queue_confirmation
from shop.errors import UnknownCheckout
from shop.extensions import db
from shop.catalogue import stock
from shop.orders.models import PAID, PENDING_PAYMENT, Order, statuses_that_may_become
from shop.timeutil import utcnow

log = logging.getLogger(__name__)


def fulfil_checkout(payment: CheckoutPayment, actor: str = "stripe") -> Order:
    """Mark the order of ``payment.session_id`` paid, once, if Stripe says it is paid.

    The claim is one conditional UPDATE, the first write of the transaction, so two deliveries at
    the same moment cannot both pass it (PostgreSQL row lock; SQLite's database write lock). The
    loser sees the winner's work. A charged amount or currency that differs from the order's
    total is stored and flagged for staff; the order is still paid, because the money was taken.
    Raises ``UnknownCheckout`` when no order has that session.
    """
    if not payment.is_paid:
        return _get_order(payment.session_id)
    paid_values = _paid_values(payment)
    # Two claims, so we know whether the copies are still reserved: the usual one from
    # pending, and a late payment for a checkout we had already closed.
    from_pending = _claim(payment.session_id, [PENDING_PAYMENT], paid_values)
    from_closed = not from_pending and _claim(
        payment.session_id, [s for s in statuses_that_may_become(PAID) if s != PENDING_PAYMENT], paid_values
    )
    claimed = from_pending or from_closed
    order = _get_order(payment.session_id)
    if not claimed:
        return order
    db.session.refresh(order)
    order.amount_mismatch = (
        payment.amount_total != order.total_pence or (payment.currency or "") != order.currency
    )
    order.record(
        "paid",
        actor,
        payment_intent=payment.payment_intent_id,
        amount_charged_pence=payment.amount_total,
        currency=payment.currency,
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
    if from_closed:
        for isbn in stock.take_late(order.lines):
            order.record("stock_short", "system", isbn=isbn)
    queue_confirmation(order)  # same transaction as the payment: one email exactly when paid
    db.session.flush()
    return order


def _paid_values(payment: CheckoutPayment) -> dict:
    now = utcnow()
    shipping = payment.shipping
    return {
        "status": PAID,
        "paid_at": now,
        "updated_at": now,
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


def _claim(session_id: str, from_statuses: list[str], values: dict) -> bool:
    """Atomically move the order from one of ``from_statuses`` to paid; True if this call did."""
    return bool(
        db.session.execute(
            update(Order)
            .where(Order.stripe_session_id == session_id, Order.status.in_(from_statuses))
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def _get_order(session_id: str) -> Order:
    order = db.session.scalar(select(Order).filter_by(stripe_session_id=session_id))
    if order is None:
        raise UnknownCheckout("We have no order for that checkout.")
    return order
