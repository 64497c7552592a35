"""Recording what Stripe says of a checkout. One repeat-safe function, called by the webhook, the
success page, the CLI, reconciliation and expire-stale, always with Stripe's current view of the
session (asked by the caller, never read from a webhook's payload): whoever comes first records
it, everyone after gets the same order back."""

import logging

from sqlalchemy import select, update

from shop.catalogue import stock
from shop.emails.outbox import queue_confirmation, queue_payment_failed
from shop.errors import UnknownCheckout
from shop.extensions import db, rows_changed
from shop.orders import services as orders
from shop.orders.models import Order
from shop.orders.status import (
    CHECKOUT_COMPLETE,
    CLOSED,
    EXPIRED,
    PAID,
    PAYABLE,
    PAYMENT_FAILED,
    PAYMENT_PROCESSING,
    sources,
    transition,
)
from shop.payments import gateway
from shop.payments.gateway import CheckoutPayment
from shop.timeutil import utcnow

log = logging.getLogger(__name__)


def fulfil_checkout(payment: CheckoutPayment, actor: str = "stripe") -> Order:
    """Bring the order of ``payment.session_id`` in line with Stripe's view of its session, once.

    - paid (or nothing to pay): the order is paid and the confirmation email queued;
    - processing (a Bacs Direct Debit, say): ``payment_processing``; its copies stay reserved;
    - failed: ``payment_failed``; its copies go back to stock and the customer is told;
    - expired: a pending order is closed and its copies go back to stock;
    - open: nothing yet.

    An order recorded paid or processing without the customer's address (an old payload's
    shape) gets it from ``payment``. Each move is ``transition``'s compare-and-set, the first
    write of the transaction, so two deliveries at the same moment cannot both make it
    (PostgreSQL row lock; SQLite's database write lock); the loser sees the winner's work.
    Raises ``UnknownCheckout`` when no order has that session.
    """
    order = _get_order(payment.session_id)
    outcome = payment.outcome
    if outcome == gateway.PAID:
        _record_paid(order, payment, actor)
    elif outcome == gateway.PROCESSING:
        _record_processing(order, payment, actor)
    elif outcome == gateway.FAILED:
        _record_failed(order, payment, actor)
    elif outcome == gateway.EXPIRED:
        orders.close_checkout(payment.session_id, EXPIRED, actor=actor)
    if outcome in (gateway.PAID, gateway.PROCESSING):
        _complete_customer_details(order, payment, actor)
    return order


def _record_paid(order: Order, payment: CheckoutPayment, actor: str) -> None:
    """Paid, once. Stripe's total is checked against the order's total less the discount a
    promotion code took off (``total_details.amount_discount``): a charged amount or currency
    that differs is stored and flagged for staff; the order is still paid, because that is what
    Stripe says. A session Stripe completed with nothing to pay (``no_payment_required``) is
    right when a promotion code took off the whole total; otherwise it is such a mismatch too:
    the order has a price, and staff decide."""
    if order.status not in PAYABLE:
        return
    discount = _discount(order, payment)
    left = transition(
        order,
        PAID,
        actor=actor,
        detail={
            "payment_intent": payment.payment_intent_id,
            "amount_charged_pence": payment.amount_total,
            "currency": payment.currency,
            **({"discount_pence": discount, "promotion_code": payment.promotion_code} if discount else {}),
        },
        paid_at=utcnow(),
        closed_at=None,
        **_payment_values(payment),
        **_discount_values(order, payment),
    )
    if left is None:
        return  # someone else recorded it a moment ago
    expected = order.total_pence - order.discount_pence
    if payment.payment_status == "no_payment_required":
        if expected == 0:
            order.record("no_payment_required", "system", charged_pence=payment.amount_total,
                         discount_pence=order.discount_pence)
        else:
            log.error("Order %s: Stripe completed its checkout with nothing to pay", order.reference)
            order.record("no_payment_required", "system", charged_pence=payment.amount_total)
    order.amount_mismatch = (
        payment.amount_total != expected or (payment.currency or "") != order.currency
    )
    if order.amount_mismatch:
        log.error(
            "Order %s: Stripe charged %s %s, the order is %s %s (less a discount of %s)",
            order.reference, payment.amount_total, payment.currency,
            order.total_pence, order.currency, order.discount_pence,
        )
        order.record(
            "amount_mismatch",
            "system",
            expected_pence=expected,
            expected_currency=order.currency,
            charged_pence=payment.amount_total,
            charged_currency=payment.currency,
            discount_pence=order.discount_pence,
        )
    if left in CLOSED:
        # A late payment for a checkout already closed: its copies went back to stock.
        for isbn in stock.take_late(order.lines):
            order.record("stock_short", "system", isbn=isbn)
    queue_confirmation(order)  # same transaction as the payment: one email exactly when paid
    db.session.flush()


def _discount(order: Order, payment: CheckoutPayment) -> int:
    """What Stripe says a promotion code took off, within the order's total (a larger one is
    Stripe's total disagreeing with ours, which the amount check flags)."""
    return min(max(payment.amount_discount, 0), order.total_pence)


def _discount_values(order: Order, payment: CheckoutPayment) -> dict:
    return {
        "discount_pence": _discount(order, payment),
        "promotion_code": (payment.promotion_code or "")[:200] or None,
    }


def _record_processing(order: Order, payment: CheckoutPayment, actor: str) -> None:
    """The checkout is complete and the payment will take days: keep the copies, say so."""
    if order.status in sources(PAYMENT_PROCESSING):
        values = _payment_values(payment)
        del values["amount_charged_pence"], values["currency_charged"]  # nothing is charged yet
        transition(
            order,
            PAYMENT_PROCESSING,
            actor=actor,
            detail={"payment_intent": payment.payment_intent_id},
            **values,
            **_discount_values(order, payment),
        )


def _record_failed(order: Order, payment: CheckoutPayment, actor: str) -> None:
    """A delayed payment did not go through: close the order, put its copies back on sale and
    tell the customer (the email is queued in this transaction, so exactly once)."""
    if order.status not in sources(PAYMENT_FAILED):
        return
    left = transition(
        order,
        PAYMENT_FAILED,
        actor=actor,
        detail={"payment_intent": payment.payment_intent_id},
        closed_at=utcnow(),
        payment_intent_id=payment.payment_intent_id,
        customer_email=order.customer_email or payment.customer_email,
        customer_name=order.customer_name or payment.customer_name,
    )
    if left is None:
        return
    stock.release(order.lines)
    queue_payment_failed(order)
    db.session.flush()


def _complete_customer_details(order: Order, payment: CheckoutPayment, actor: str) -> None:
    """Fill in the address (and the customer's name and email, if missing) of an order that was
    recorded without them, from Stripe; once, by a conditional UPDATE."""
    if order.status not in CHECKOUT_COMPLETE or order.has_delivery_address:
        return
    values = {key: value for key, value in _payment_values(payment).items() if key.startswith("ship_")}
    if not values.get("ship_line1"):
        return
    changed = rows_changed(
        update(Order)
        .where(Order.id == order.id, Order.ship_line1.is_(None))
        .values(
            updated_at=utcnow(),
            customer_email=order.customer_email or payment.customer_email,
            customer_name=order.customer_name or payment.customer_name,
            **values,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(order)
    if changed:
        log.warning("Order %s had no delivery address; recorded it from Stripe", order.reference)
        order.record("address_recorded", actor, postcode=order.ship_postal_code, country=order.ship_country)
        db.session.flush()


def _payment_values(payment: CheckoutPayment) -> dict:
    shipping = payment.shipping
    return {
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
