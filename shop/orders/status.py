"""Order statuses: the one table of which status may follow which, and ``transition``, the one
function that writes ``Order.status``.

A status says where the order is in its life (awaiting payment, payment processing, paid,
dispatched, closed). Two
facts sit beside it rather than in it: ``dispatched_at`` (the parcel left; kept when the order is
later refunded) and ``refunded_pence`` (money returned; a partial refund leaves the status as it
was, a full one makes it ``refunded``).

Orders paid by invoice (shop.orders.invoicing) have a path of their own. ``invoice_pending``: the
order and its copies are held, but no invoice is open at Stripe yet (it waits for a member of
staff to approve it, or for a retry after Stripe could not be reached). ``invoiced``: Stripe has
the invoice open and the buyer owes it. Organisations expect the goods before they pay, so an
invoiced order may be packed and posted before payment: dispatch takes it to
``invoiced_dispatched`` ("dispatched, invoice unpaid"), which is the same parcel-left fact as
``dispatched`` with money still owed. Payment is then a move of its own through this table
(``invoiced`` -> ``paid``, ``invoiced_dispatched`` -> ``dispatched``), so it is recorded once by
the same compare-and-set as a card payment, however often Stripe reports it. A voided invoice
(``invoice_void``) or one written off as uncollectible (``uncollectible``) closes the order; an
uncollectible invoice can still be paid later, as Stripe allows, and a void one never. An order
declined by staff before its invoice was open is ``cancelled``, as a card checkout closed unpaid
(its copies back in stock). These moves record timeline entries of their own kind
(``invoice_paid``, ``invoice_declined``: ``transition``'s ``kind``), so "dispatched" on a
timeline is always the parcel leaving.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from shop.errors import ShopError
from shop.extensions import db, rows_changed
from shop.timeutil import utcnow

PENDING_PAYMENT = "pending_payment"
# The customer finished Stripe's checkout with a method that takes days to clear (Bacs Direct
# Debit): its copies stay reserved until Stripe says the payment succeeded or failed.
PAYMENT_PROCESSING = "payment_processing"
FAILED_TO_START = "failed_to_start"
CANCELLED = "cancelled"
EXPIRED = "expired"
PAYMENT_FAILED = "payment_failed"
PAID = "paid"
DISPATCHED = "dispatched"
REFUNDED = "refunded"
# Paying by invoice (see the module docstring).
INVOICE_PENDING = "invoice_pending"
INVOICED = "invoiced"
INVOICED_DISPATCHED = "invoiced_dispatched"
INVOICE_VOID = "invoice_void"
UNCOLLECTIBLE = "uncollectible"

# Which status may follow which. A payment Stripe reports is the truth, so a closed checkout can
# still become paid (a customer who paid on a tab opened before we closed it). A payment that is
# processing ends paid or failed, never expired or cancelled: its checkout is complete. A full
# refund that Stripe later reports failed takes the order back to where it was.
ALLOWED: dict[str, frozenset[str]] = {
    PENDING_PAYMENT: frozenset(
        {PAYMENT_PROCESSING, PAID, FAILED_TO_START, CANCELLED, EXPIRED, PAYMENT_FAILED}
    ),
    PAYMENT_PROCESSING: frozenset({PAID, PAYMENT_FAILED}),
    FAILED_TO_START: frozenset({PAID}),
    CANCELLED: frozenset({PAID}),
    EXPIRED: frozenset({PAID}),
    PAYMENT_FAILED: frozenset({PAID}),
    PAID: frozenset({DISPATCHED, REFUNDED}),
    DISPATCHED: frozenset({REFUNDED}),
    REFUNDED: frozenset({PAID, DISPATCHED}),
    # An invoice not yet open at Stripe becomes open, or staff decline the order.
    INVOICE_PENDING: frozenset({INVOICED, CANCELLED}),
    INVOICED: frozenset({PAID, INVOICED_DISPATCHED, INVOICE_VOID, UNCOLLECTIBLE}),
    INVOICED_DISPATCHED: frozenset({DISPATCHED, INVOICE_VOID, UNCOLLECTIBLE}),
    # Stripe lets an uncollectible invoice still be paid, or be voided.
    UNCOLLECTIBLE: frozenset({PAID, DISPATCHED, INVOICE_VOID}),
    INVOICE_VOID: frozenset(),
}

# Some moves also depend on a fact beside the status: (before, after) -> (column, must be set).
# A refund that fails after a full refund takes the order back to dispatched only if it had
# been dispatched, and to paid only if not; and an order is dispatched once.
REQUIRES: dict[tuple[str, str], tuple[str, bool]] = {
    (PAID, DISPATCHED): ("dispatched_at", False),
    (REFUNDED, DISPATCHED): ("dispatched_at", True),
    (REFUNDED, PAID): ("dispatched_at", False),
    (INVOICED, INVOICED_DISPATCHED): ("dispatched_at", False),
    (UNCOLLECTIBLE, PAID): ("dispatched_at", False),
    (UNCOLLECTIBLE, DISPATCHED): ("dispatched_at", True),
}

STATUS_LABELS = {
    PENDING_PAYMENT: "Awaiting payment",
    PAYMENT_PROCESSING: "Payment processing",
    FAILED_TO_START: "Checkout failed to start",
    CANCELLED: "Cancelled",
    EXPIRED: "Checkout expired",
    PAYMENT_FAILED: "Payment failed",
    PAID: "Paid",
    DISPATCHED: "Dispatched",
    REFUNDED: "Refunded",
    INVOICE_PENDING: "Invoice not sent yet",
    INVOICED: "Invoiced, awaiting payment",
    INVOICED_DISPATCHED: "Dispatched, invoice unpaid",
    INVOICE_VOID: "Invoice void",
    UNCOLLECTIBLE: "Invoice uncollectible",
}


def sources(target: str) -> frozenset[str]:
    """The statuses that may become ``target``."""
    return frozenset(status for status, nexts in ALLOWED.items() if target in nexts)


def may_move(order: Any, to: str) -> bool:
    """Whether the table (and the facts it requires) lets ``order`` go to ``to`` now."""
    if to not in ALLOWED.get(order.status, ()):
        return False
    required = REQUIRES.get((order.status, to))
    return required is None or (getattr(order, required[0]) is not None) == required[1]


# Sold and kept: what counts as a sale (a partly refunded order still is one; a fully refunded
# one is not).
SOLD = (PAID, DISPATCHED)
# Payment taken: what staff count and export (a refunded order was paid once).
PLACED = (PAID, DISPATCHED, REFUNDED)
# Checkouts that closed without a payment; their copies went back to stock.
CLOSED = (FAILED_TO_START, CANCELLED, EXPIRED, PAYMENT_FAILED)
# The customer finished Stripe's checkout: paid, or paying by a method that takes days. Their
# basket is done with.
CHECKOUT_COMPLETE = (PAYMENT_PROCESSING, *PLACED)
# Checkouts not paid yet whose copies are reserved (capped per client: shop.orders.holds). A
# delayed payment still processing holds its copies too.
UNPAID_HOLDS = (PENDING_PAYMENT, PAYMENT_PROCESSING)
# Invoice orders not paid yet whose copies are held: for weeks, not half an hour, so they are
# capped by a rule of their own (INVOICE_HOLD_LIMIT; shop.orders.holds).
INVOICE_HOLDS = (INVOICE_PENDING, INVOICED)
# An invoice open at Stripe: the buyer owes it, whether or not the parcel has left.
AWAITING_INVOICE_PAYMENT = (INVOICED, INVOICED_DISPATCHED)
# Invoice orders closed without payment (so far: an uncollectible one may yet be paid).
INVOICE_CLOSED = (INVOICE_VOID, UNCOLLECTIBLE)
# An invoice that is still owed and may be settled: paid, marked paid, or voided.
INVOICE_UNSETTLED = (*AWAITING_INVOICE_PAYMENT, UNCOLLECTIBLE)
# What staff may pack and send: paid orders, and invoiced ones (organisations pay after delivery).
DISPATCHABLE = (PAID, INVOICED)
# Where dispatch takes each of them.
DISPATCH_MOVES = {PAID: DISPATCHED, INVOICED: INVOICED_DISPATCHED}
# What may be refunded (in part or in full) through Stripe.
REFUNDABLE = (PAID, DISPATCHED)
# What a payment Stripe reports (a checkout's events, the success page, reconcile) may make
# paid: whatever the table lets become paid except refunded, which goes back to paid only when
# Stripe says the refund failed (orders.refunds), never because a payment event came late.
PAYABLE = sources(PAID) - {REFUNDED}


@dataclass
class StatusChange:
    """One order's status as a reconciling job found and left it, and why (one line of its
    report)."""

    reference: str | None
    before: str
    after: str
    why: str

    def __str__(self) -> str:
        return f"{self.reference}\t{self.before} -> {self.after}\t{self.why}"


class InvalidTransition(ShopError):
    """A move the table forbids, asked for directly."""


def label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def dispatched_status(status: str) -> str:
    """The status dispatch takes an order in ``status`` to (``dispatched``, or
    ``invoiced_dispatched`` for an invoice not paid yet)."""
    return DISPATCH_MOVES.get(status, DISPATCHED)


ATTEMPTS = 3


def transition(order: Any, to: str, *, actor: str, detail: dict[str, Any] | None = None,
               kind: str | None = None, **values: Any) -> str | None:
    """Move ``order`` to ``to`` and set ``values`` on it in the same UPDATE, once; record one
    timeline event (kind ``kind``, by default ``to``; detail ``before``/``after`` status and
    ``detail``).

    Returns the status the order left, or None when it did not move because someone else moved
    it first (another webhook delivery, a second click) to a status it cannot go on from.
    Raises ``InvalidTransition`` when the order as the caller sees it cannot become ``to``
    (``may_move``). The write is a compare-and-set on the status read (``WHERE id = :id AND
    status = :seen``, ``:seen`` one of ``sources(to)``, plus any fact ``REQUIRES`` names), so of
    two racing callers exactly one moves it, and the event says exactly which status it left.
    Flushes; the caller commits.
    """
    if to not in ALLOWED:
        raise ValueError(f"unknown order status {to!r}")
    if not may_move(order, to):
        raise InvalidTransition(
            f"Order {order.reference} cannot go from {label(order.status).lower()} to "
            f"{label(to).lower()}."
        )
    model = type(order)
    for _ in range(ATTEMPTS):
        seen = order.status
        if not may_move(order, to):
            return None
        conditions = [model.id == order.id, model.status == seen]
        required = REQUIRES.get((seen, to))
        if required is not None:
            column = getattr(model, required[0])
            conditions.append(column.is_not(None) if required[1] else column.is_(None))
        moved = rows_changed(
            update(model)
            .where(*conditions)
            .values(status=to, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        db.session.refresh(order)
        if moved:
            order.record(kind or to, actor, before={"status": seen}, after={"status": to}, **(detail or {}))
            db.session.flush()
            return seen
    return None
