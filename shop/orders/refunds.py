"""Refunds: made from the staff desk through Stripe, or seen in Stripe's refund events.

Stripe is the ledger. Both paths fetch the payment's refunds and upsert them by Stripe's refund
id, then derive the order's totals from the rows, so a webhook racing the staff action, or a
refund made in Stripe's dashboard, is counted exactly once. A refund counts as money returned
only once Stripe says it ``succeeded``: a pending one is held apart (``refund_pending_pence``)
until it does, and a failed or cancelled one returned nothing.

Who made a refund travels with it: the desk tells Stripe in the refund's metadata, so whichever
reaches the shop first, Stripe's event or the desk's answer, credits the person who pressed
Refund. A refund without that mark was made in Stripe's dashboard."""

import logging
from datetime import datetime

from sqlalchemy import func, select, update

from shop.catalogue import stock
from shop.errors import PaymentGatewayError, ShopError
from shop.extensions import db
from shop.money import format_pence
from shop.orders.models import Order, OrderEvent, Refund
from shop.orders.status import ALLOWED, DISPATCHED, PAID, REFUNDABLE, REFUNDED, transition
from shop.payments import gateway
from shop.payments.gateway import RefundInfo
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

DASHBOARD = "Stripe dashboard"  # the author of a refund the desk did not make
AUTHOR_MAX = 320  # Refund.created_by
COUNTED = ("succeeded",)
PENDING = ("pending", "requires_action")


class RefundError(ShopError):
    pass


def check_amount(order: Order, amount_pence: int) -> None:
    """``RefundError`` unless ``amount_pence`` is more than nothing and at most what is left
    to refund (pending refunds already count against it)."""
    if amount_pence <= 0:
        raise RefundError(f"A refund must be more than {format_pence(0)}.")
    if amount_pence > order.refundable_pence:
        pending = (
            f" ({format_pence(order.refund_pending_pence)} is already on its way)"
            if order.refund_pending_pence else ""
        )
        raise RefundError(
            f"That is more than is left to refund: at most {format_pence(order.refundable_pence)}{pending}."
        )


def refund_order(order: Order, amount_pence: int, request_token: str, actor: str) -> RefundInfo:
    """Refund ``amount_pence`` of ``order`` through Stripe.

    ``request_token`` comes from the form, so a double submission reuses one idempotency key and
    Stripe makes one refund. Raises ``RefundError`` (our checks) or ``PaymentGatewayError``
    (Stripe's message); either way nothing changes. Once Stripe has made the refund it is always
    recorded, even if Stripe cannot be asked about the payment's other refunds just then.
    """
    if order.status not in REFUNDABLE or not order.payment_intent_id:
        raise RefundError(f"Order {order.reference} has no payment to refund ({order.status_label.lower()}).")
    check_amount(order, amount_pence)
    token = "".join(ch for ch in request_token if ch.isalnum())[:64] or "none"
    refund = gateway.create_refund(
        order.payment_intent_id,
        amount_pence,
        idempotency_key=f"refund-{order.reference}-{token}",
        refunded_by=actor,
        order_reference=order.reference or "",
    )
    try:
        listed = gateway.list_refunds(order.payment_intent_id)
    except PaymentGatewayError:
        log.warning("Order %s: could not list refunds; recording %s alone", order.reference, refund.id)
        listed = []
    record_refunds(order, listed, actor=actor, made_here=[refund])
    return refund


def record_refunds(
    order: Order, listed: list[RefundInfo], actor: str, made_here: list[RefundInfo] | tuple[()] = ()
) -> int:
    """Bring the order's refund rows and totals in line with what Stripe listed; returns the
    refunded total in pence (succeeded refunds only).

    Call it after the Stripe requests, not before: its first statement locks the order row (a
    write, so SQLite takes its write lock too), and everything after reads fresh rows under that
    lock. So the desk and a ``charge.refunded`` webhook recording the same refund at the same
    moment serialise, and the second finds the first's row instead of inserting a duplicate.
    A refund is credited to whoever its metadata names, else (one made just now, by an older
    shop) to ``actor``, else to Stripe's dashboard.
    """
    db.session.execute(
        update(Order).where(Order.id == order.id).values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(order)
    ours = {refund.id for refund in made_here}
    # What Stripe listed is its latest word; a refund made a moment ago may not be listed yet.
    by_id = {refund.id: refund for refund in [*made_here, *listed]}
    for refund in by_id.values():
        author = refund.refunded_by or (actor if refund.id in ours else DASHBOARD)
        _upsert(order, refund, author[:AUTHOR_MAX])  # metadata can be edited in Stripe's dashboard
    db.session.flush()
    refunded, pending = _sum(order, COUNTED), _sum(order, PENDING)
    if pending != order.refund_pending_pence:
        order.record(
            "refund_pending_total", "stripe",
            before={"refund_pending_pence": order.refund_pending_pence},
            after={"refund_pending_pence": pending},
        )
        order.refund_pending_pence = pending
        db.session.flush()
    if refunded != order.refunded_pence:
        _set_refunded(order, refunded, actor)
    return refunded


def _sum(order: Order, statuses: tuple[str, ...]) -> int:
    total = db.session.scalar(
        select(func.coalesce(func.sum(Refund.amount_pence), 0)).where(
            Refund.order_id == order.id, Refund.status.in_(statuses)
        )
    )
    return int(total or 0)


def _upsert(order: Order, refund: RefundInfo, actor: str) -> None:
    row = db.session.scalar(
        select(Refund).filter_by(stripe_refund_id=refund.id).execution_options(populate_existing=True)
    )
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
    else:
        if row.status != refund.status:
            order.record(
                "refund_status", "stripe", stripe_refund_id=refund.id, before=row.status, after=refund.status
            )
            row.status = refund.status
        if row.created_by == DASHBOARD and actor != DASHBOARD:
            row.created_by = actor  # recorded before the desk's mark could be read


def refund_status(order: Order, refunded: int) -> str:
    """The status an order with ``refunded`` pence refunded should have. A partial refund is a
    fact beside the status, not a status: a paid order stays paid, a dispatched one dispatched.
    A full refund makes it refunded; if Stripe later reports that refund failed, it goes back
    to dispatched or paid, as ``dispatched_at`` says."""
    if refunded > 0 and refunded >= (order.amount_charged_pence or 0):
        return REFUNDED
    if order.status == REFUNDED:
        return DISPATCHED if order.dispatched_at is not None else PAID
    return order.status


def _set_refunded(order: Order, refunded: int, actor: str) -> None:
    order.record(
        "refunded_total", actor,
        before={"refunded_pence": order.refunded_pence}, after={"refunded_pence": refunded},
    )
    order.refunded_pence = refunded
    db.session.flush()  # before transition() refreshes the order
    new_status = refund_status(order, refunded)
    if new_status == order.status:
        return
    if new_status in ALLOWED.get(order.status, frozenset()):
        transition(order, new_status, actor=actor)
        restock_when_refunded(order, actor)
    else:
        # Stripe is the ledger: record the money, keep the status, and tell staff.
        log.error(
            "Order %s: refunds say %s but %s -> %s is not allowed",
            order.reference, refunded, order.status, new_status,
        )


def restocked_before(order: Order) -> bool:
    count = db.session.scalar(
        select(func.count(OrderEvent.id)).where(OrderEvent.order_id == order.id, OrderEvent.kind == "restocked")
    )
    return bool(count)


def restock_when_refunded(order: Order, actor: str) -> bool:
    """Copies the desk asked to put back while Stripe's refund was still pending (a cancelled
    bank payment's order) go back now that the order is refunded and was never sent; once."""
    if order.status != REFUNDED or order.dispatched_at is not None:
        return False
    kinds = set(db.session.scalars(
        select(OrderEvent.kind).where(
            OrderEvent.order_id == order.id, OrderEvent.kind.in_(("restock_skipped", "restocked"))
        )
    ))
    if kinds != {"restock_skipped"}:
        return False
    stock.release(order.lines)
    order.record("restocked", actor, copies=order.copies)
    db.session.flush()
    return True


def refunded_by_since(actor: str, since: datetime) -> int:
    """Pence refunded (made, pending or done: not failed or cancelled) by ``actor`` since ``since``."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Refund.amount_pence), 0)).where(
                Refund.created_by == actor,
                Refund.created_at >= since,
                Refund.status.not_in(("failed", "canceled")),
            )
        )
        or 0
    )


class RefundNotYetMatched(ShopError):
    """A refund event for a payment we have not recorded yet (events arrive out of order):
    answer 5xx so Stripe delivers it again after the payment has landed."""


def handle_refund_event(payment_intent_id: str, listed: list[RefundInfo]) -> Order:
    """``charge.refunded``, ``refund.updated``, ``refund.failed``, ``charge.refund.updated`` from
    Stripe, for refunds made anywhere: ``listed`` is what Stripe says of the payment's refunds
    now, whatever the event's payload said."""
    order = db.session.scalar(select(Order).filter_by(payment_intent_id=payment_intent_id))
    if order is None:
        raise RefundNotYetMatched(f"No order has payment {payment_intent_id} yet.")
    record_refunds(order, listed, actor="stripe")
    return order
