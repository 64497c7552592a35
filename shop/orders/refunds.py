"""Refunds: made from the staff desk through Stripe, or seen in Stripe's ``charge.refunded``.

Stripe is the ledger. Both paths fetch the payment's refunds and upsert them by Stripe's refund
id, then derive the order's refunded total from the rows, so a webhook racing the staff action,
or a refund made in Stripe's dashboard, is counted exactly once."""

from sqlalchemy import func, select, update

from shop.checkout import gateway
from shop.checkout.gateway import RefundInfo
from shop.errors import ShopError
from shop.extensions import db
from shop.money import format_pence
from shop.orders.models import (
    DISPATCHED,
    PAID,
    PARTIALLY_REFUNDED,
    REFUNDED,
    Order,
    Refund,
)
from shop.timeutil import utcnow

REFUNDABLE = (PAID, DISPATCHED, PARTIALLY_REFUNDED)


class RefundError(ShopError):
    pass


def refund_order(order: Order, amount_pence: int, request_token: str, actor: str) -> RefundInfo:
    """Refund ``amount_pence`` of ``order`` through Stripe.

    ``request_token`` comes from the form, so a double submission reuses one idempotency key and
    Stripe makes one refund. Raises ``RefundError`` (our checks) or ``PaymentGatewayError``
    (Stripe's message); either way nothing changes.
    """
    if order.status not in REFUNDABLE or not order.payment_intent_id:
        raise RefundError(f"Order {order.reference} has no payment to refund ({order.status_label.lower()}).")
    if amount_pence <= 0:
        raise RefundError("A refund must be more than £0.00.")
    if amount_pence > order.refundable_pence:
        raise RefundError(
            f"That is more than is left to refund: at most {format_pence(order.refundable_pence)}."
        )
    token = "".join(ch for ch in request_token if ch.isalnum())[:64] or "none"
    refund = gateway.create_refund(
        order.payment_intent_id, amount_pence, idempotency_key=f"refund-{order.reference}-{token}"
    )
    sync_refunds(order, actor=actor, known=[refund])
    return refund


def sync_refunds(order: Order, actor: str, known: list[RefundInfo] | None = None) -> int:
    """Bring the order's refunds in line with Stripe; returns the refunded total in pence.

    ``known`` refunds (just made here) are recorded as made by ``actor``; any other refund Stripe
    lists for the payment is recorded as made in Stripe's dashboard.
    """
    made_here = {refund.id for refund in known or []}
    for refund in gateway.list_refunds(order.payment_intent_id) + list(known or []):
        _upsert(order, refund, actor if refund.id in made_here else "Stripe dashboard")
    db.session.flush()
    refunded = db.session.scalar(
        select(func.coalesce(func.sum(Refund.amount_pence), 0)).where(
            Refund.order_id == order.id, Refund.status == "succeeded"
        )
    )
    if refunded != order.refunded_pence:
        _set_refunded(order, int(refunded), actor)
    return int(refunded)


def _upsert(order: Order, refund: RefundInfo, actor: str) -> None:
    row = db.session.scalar(select(Refund).filter_by(stripe_refund_id=refund.id))
    if row is None:
        db.session.add(
            Refund(
                order=order,
                stripe_refund_id=refund.id,
                amount_pence=refund.amount,
                status=refund.status,
                reason=refund.reason,
                created_by=actor,
            )
        )
        order.record("refund", actor, stripe_refund_id=refund.id, amount_pence=refund.amount, status=refund.status)
    elif row.status != refund.status:
        order.record("refund_status", "stripe", stripe_refund_id=refund.id, before=row.status, after=refund.status)
        row.status = refund.status


def _set_refunded(order: Order, refunded: int, actor: str) -> None:
    if refunded >= (order.amount_charged_pence or 0):
        new_status = REFUNDED
    elif order.status == DISPATCHED:
        new_status = DISPATCHED  # the refunded amount shows beside it
    else:
        new_status = PARTIALLY_REFUNDED
    before = {"status": order.status, "refunded_pence": order.refunded_pence}
    db.session.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(refunded_pence=refunded, status=new_status, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(order)
    order.record("refunded_total", actor, before=before, after={"status": order.status, "refunded_pence": refunded})


def handle_charge_refunded(payment_intent_id: str) -> Order | None:
    """``charge.refunded`` from Stripe, for refunds made here or in the dashboard."""
    order = db.session.scalar(select(Order).filter_by(payment_intent_id=payment_intent_id))
    if order is None:
        return None
    sync_refunds(order, actor="stripe")
    return order
