"""Careful refunds from the desk: a plan (amount, reason, note, restock) that staff confirm after
reading exactly what it will do, then Stripe, then the stock and the customer's email.

``refunds.refund_order`` does the money (Stripe, and the refund rows); this module decides what
may be asked for and what follows it. What the confirmation page says is ``describe(plan)``,
and ``carry_out`` does what those sentences say, so the two cannot drift apart.
"""

from dataclasses import dataclass

from shop.catalogue import stock
from shop.emails.outbox import ADDRESS, queue_refund_notice
from shop.extensions import db
from shop.money import format_pence
from shop.orders import refunds
from shop.orders.models import Order, OrderEvent
from shop.orders.refunds import RefundError, check_amount
from shop.orders.status import PAID, REFUNDABLE, REFUNDED
from shop.timeutil import utcnow

# Why staff refund; the customer never sees these.
REASONS = {
    "customer_request": "The customer asked for it",
    "damaged": "Copies arrived damaged or misprinted",
    "lost": "Lost in the post",
    "not_sent": "We cannot send it (out of stock, address problem)",
    "duplicate": "Duplicate order",
    "overcharged": "Price or postage charged wrongly",
    "other": "Something else (say what in the note)",
}
MAX_NOTE = 1000
# The Stripe refund states in which the money is on its way back (or already there).
MONEY_RETURNING = ("succeeded", "pending")


@dataclass(frozen=True)
class RefundPlan:
    amount_pence: int
    full: bool  # the whole of what is left to refund
    reason: str
    note: str
    restock: bool
    cancel: bool = False  # the cancel-order action: full, restocked, and said so to the customer

    @property
    def reason_label(self) -> str:
        return REASONS.get(self.reason, self.reason)


def refundable_at_desk(order: Order) -> bool:
    """Whether the desk can refund this order through Stripe: a card payment (a Checkout
    Session's, or an invoice's paid by card on Stripe's invoice page). An invoice paid by bank
    transfer or out of band (a cheque) is refunded by bank transfer, or with a credit note in
    Stripe's dashboard, and recorded here in a note."""
    if not order.payment_intent_id:
        return False
    invoice = order.invoice
    return invoice is None or (invoice.paid_by or "").startswith("Card")


def can_restock(order: Order) -> bool:
    """Copies go back to stock only when none will be posted: a full refund of a paid order
    that has not been dispatched. (A partial refund leaves the order to be packed as it is.)"""
    return order.status == PAID and order.dispatched_at is None


def can_cancel(order: Order) -> bool:
    return can_restock(order) and refundable_at_desk(order) and order.refundable_pence > 0


def plan_refund(order: Order, *, full: bool, amount_pence: int | None, reason: str, note: str,
                restock: bool, cancel: bool = False, confirmed_pence: int | None = None) -> RefundPlan:
    """Check a refund staff asked for against the order as it is now. ``confirmed_pence`` is
    the amount the confirmation page showed: a full refund whose balance changed since (a
    refund made in Stripe's dashboard meanwhile) is refused rather than made for another sum.
    Raises ``RefundError`` with a message for the form."""
    if order.status not in REFUNDABLE or not order.payment_intent_id or order.refundable_pence <= 0:
        raise RefundError(f"Order {order.reference} has nothing left to refund ({order.status_label.lower()}).")
    if not refundable_at_desk(order):
        raise RefundError(
            f"Order {order.reference}'s invoice was not paid by card through Stripe: refund it by bank "
            "transfer, or with a credit note in Stripe's dashboard, and add a note here."
        )
    left = order.refundable_pence
    if full:
        amount = left
    else:
        if amount_pence is None:
            raise RefundError("Enter the amount to refund, or choose a full refund.")
        check_amount(order, amount_pence)
        amount = amount_pence
    if reason not in REASONS:
        raise RefundError("Choose the reason for the refund.")
    note = (note or "").strip()
    if reason == "other" and not note:
        raise RefundError("Say in the note why you are refunding.")
    if len(note) > MAX_NOTE:
        raise RefundError(f"A note can have at most {MAX_NOTE} characters.")
    if confirmed_pence is not None and amount != confirmed_pence:
        raise RefundError(
            f"What is left to refund changed to {format_pence(left)} since you checked: nothing "
            "was refunded. Check the refund again."
        )
    is_full = amount == left
    if cancel and not can_cancel(order):
        raise RefundError(f"Only a paid order not yet dispatched can be cancelled; {order.reference} is "
                          f"{order.status_label.lower()}.")
    if restock and not (is_full and can_restock(order)):
        raise RefundError(
            "Copies go back to stock only with a full refund of an order not yet dispatched; "
            "untick “put the copies back in stock”."
        )
    return RefundPlan(amount, is_full, reason, note, restock or cancel, cancel)


def describe(order: Order, plan: RefundPlan) -> list[str]:
    """Exactly what carrying out ``plan`` will do, in the order it happens."""
    already = f" ({format_pence(order.refunded_pence)} was refunded before)" if order.refunded_pence else ""
    lines = [
        f"Stripe refunds {format_pence(plan.amount_pence)} to the card or bank account that paid for order {order.reference}"
        + (", everything that is left" if plan.full else f", of {format_pence(order.refundable_pence)} left")
        + f"{already}. This cannot be undone."
    ]
    if plan.full and order.dispatched_at is None:
        lines.append("The order will not be packed or posted. It becomes refunded once Stripe completes "
                     "the refund (at once for most cards; a bank payment's refund can take days).")
    elif plan.full:
        lines.append("The order becomes refunded; the date it was dispatched stays on record.")
    elif order.dispatched_at is None:
        lines.append("The order stays paid and will still be packed and posted as it is.")
    else:
        lines.append("The order stays dispatched; the refunded amount is shown beside it.")
    if plan.restock:
        copies = ", ".join(f"{line.quantity} × {line.title}" for line in order.lines if line.publication_id)
        lines.append(f"{order.copies} {'copy goes' if order.copies == 1 else 'copies go'} back into stock"
                     + (f": {copies}." if copies else "."))
    elif order.dispatched_at is None and plan.full:
        lines.append("No copies go back into stock.")
    recipient = (order.customer_email or "").strip()
    if ADDRESS.match(recipient):
        what = "its cancellation and the refund" if plan.cancel else f"the refund of {format_pence(plan.amount_pence)}"
        lines.append(f"{recipient} gets one email about {what}.")
    else:
        lines.append("No email is sent: the order has no usable email address.")
    if plan.reason:
        lines.append(f"The timeline records the reason (“{plan.reason_label}”)" + (" and your note." if plan.note else "."))
    else:
        lines.append("The timeline records the reason you choose" + (" and your note." if plan.note else "."))
    return lines


@dataclass
class RefundOutcome:
    refund_id: str
    amount_pence: int
    repeated: bool  # the same confirmation sent twice: Stripe made one refund, we did the rest once
    restocked: bool
    emailed: bool
    status: str


def _already_handled(order: Order, refund_id: str) -> bool:
    events = db.session.scalars(
        db.select(OrderEvent).filter_by(order_id=order.id, kind="refund_request")
    )
    return any((event.detail or {}).get("stripe_refund_id") == refund_id for event in events)


def carry_out(order: Order, plan: RefundPlan, request_token: str, actor: str) -> RefundOutcome:
    """Refund through Stripe, then (once per Stripe refund, whatever double submissions) record
    the reason, put copies back in stock if asked and the order is now fully refunded, and queue
    the customer's email. Raises ``RefundError`` or ``PaymentGatewayError`` with nothing
    changed. Flushes; the caller commits."""
    refund = refunds.refund_order(order, plan.amount_pence, request_token, actor)
    # refund_order has locked the order row (record_refunds), so two submissions of one
    # confirmation take turns here, and the second finds the first's event.
    if _already_handled(order, refund.id):
        return RefundOutcome(refund.id, refund.amount, True, False, False, refund.status)
    order.record(
        "refund_request", actor, stripe_refund_id=refund.id, amount_pence=refund.amount,
        reason=plan.reason_label, note=plan.note or None, restock=plan.restock, cancel=plan.cancel or None,
    )
    restocked = False
    if plan.restock and refunds.restocked_before(order):
        # Cancelled before, restocked, and that refund failed: the copies are back already.
        order.record("restock_skipped", actor, text="The copies went back in stock before.")
    elif plan.restock and order.status == REFUNDED and order.dispatched_at is None:
        stock.release(order.lines)
        order.record("restocked", actor, copies=order.copies, stripe_refund_id=refund.id)
        restocked = True
    elif plan.restock:
        # refunds.restock_when_refunded puts them back once Stripe completes the refund.
        order.record("restock_skipped", actor, stripe_refund_status=refund.status,
                     text="Stripe has not completed the refund yet: the copies go back in stock when it does.")
    if plan.cancel:
        order.cancelled_at = utcnow()
        # A fact beside the refund's status move; "cancelled" is the kind of a status move (a
        # checkout the customer abandoned), so this has a name of its own.
        order.record("order_cancelled", actor, reason=plan.reason_label)
    emailed = False
    if refund.status in MONEY_RETURNING:
        emailed = queue_refund_notice(
            order, refund.id, refund.amount, cancelled=plan.cancel, restocked=restocked
        ) is not None
    db.session.flush()
    return RefundOutcome(refund.id, refund.amount, False, restocked, emailed, refund.status)
