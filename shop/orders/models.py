"""Orders, their lines (a snapshot of the catalogue at checkout), their history, and the Stripe
events already handled."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.addresses import country_name
from shop.extensions import Model
from shop.orders.status import (
    AWAITING_INVOICE_PAYMENT,
    CHECKOUT_COMPLETE,
    DISPATCHABLE,
    PENDING_PAYMENT,
    PLACED,
    label,
)
from shop.timeutil import as_utc, utcnow

# How long a carrier's name and a tracking number may be: the columns, and every form and file
# that fills them (the desk, batches, the Click & Drop import).
MAX_CARRIER = 100
MAX_TRACKING = 100
# How an order is paid: Stripe Checkout (card, or a bank debit there), or an invoice.
CARD = "card"
INVOICE = "invoice"


def days_awaiting_dispatch(
    status: str, paid_at: datetime | None, dispatched_at: datetime | None, now: datetime,
    created_at: datetime | None = None,
) -> int | None:
    """Whole days a dispatchable order has waited to be posted: since payment, or for an
    invoiced order (posted before it is paid) since it was placed; otherwise None."""
    since = paid_at or created_at
    if status not in DISPATCHABLE or dispatched_at is not None or since is None:
        return None
    return (now - as_utc(since)).days


class Order(Model):
    __tablename__ = "shop_order"  # "order" is an SQL keyword
    __table_args__ = (
        CheckConstraint("subtotal_pence >= 0", name="subtotal_not_negative"),
        CheckConstraint("postage_pence >= 0", name="postage_not_negative"),
        CheckConstraint("total_pence = subtotal_pence + postage_pence", name="total_adds_up"),
        # Outside the models: SQLite's ix_shop_order_to_pack_sqlite (migration 0022) and
        # PostgreSQL's partial ix_shop_order_to_pack_pg (0023).
        Index("ix_shop_order_status_created", "status", "created_at"),
        CheckConstraint("refunded_pence >= 0", name="refunded_not_negative"),
        CheckConstraint("refund_pending_pence >= 0", name="refund_pending_not_negative"),
        CheckConstraint("discount_pence >= 0 AND discount_pence <= total_pence", name="discount_within_total"),
        CheckConstraint("pays_by IN ('card', 'invoice')", name="pays_by_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Set right after the first flush, from the id; nullable only for that moment.
    reference: Mapped[str | None] = mapped_column(String(24), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=PENDING_PAYMENT)
    region: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3), default="gbp")
    subtotal_pence: Mapped[int]
    postage_pence: Mapped[int]
    total_pence: Mapped[int]
    copies: Mapped[int] = mapped_column(default=0)  # sum of line quantities, fixed at checkout
    pays_by: Mapped[str] = mapped_column(String(10), default=CARD, server_default=CARD)
    # A promotion code the buyer entered at Stripe Checkout: what Stripe took off the total
    # (its total_details.amount_discount) and the code as typed. ``total_pence`` stays the
    # price before it; what the buyer owed is ``payable_pence``.
    discount_pence: Mapped[int] = mapped_column(default=0, server_default="0")
    promotion_code: Mapped[str | None] = mapped_column(String(200))
    stripe_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    checkout_error: Mapped[str | None] = mapped_column(Text)
    # Who checked out, as keyed hashes (shop.orders.holds): unpaid checkouts are capped by them.
    checkout_address: Mapped[str | None] = mapped_column(String(32), index=True)
    checkout_basket: Mapped[str | None] = mapped_column(String(32), index=True)

    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    amount_charged_pence: Mapped[int | None]
    currency_charged: Mapped[str | None] = mapped_column(String(3))
    amount_mismatch: Mapped[bool] = mapped_column(default=False)
    # A member of staff looked at the mismatch; until then the order cannot be dispatched.
    mismatch_acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    mismatch_acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    refunded_pence: Mapped[int] = mapped_column(default=0)  # refunds Stripe says succeeded
    # Refunds Stripe has accepted but not yet completed: not refunded yet, not refundable again.
    refund_pending_pence: Mapped[int] = mapped_column(default=0)

    customer_email: Mapped[str | None] = mapped_column(String(320), index=True)
    customer_name: Mapped[str | None] = mapped_column(String(300))
    ship_name: Mapped[str | None] = mapped_column(String(300))
    ship_line1: Mapped[str | None] = mapped_column(String(300))
    ship_line2: Mapped[str | None] = mapped_column(String(300))
    ship_city: Mapped[str | None] = mapped_column(String(200))
    ship_state: Mapped[str | None] = mapped_column(String(200))
    ship_postal_code: Mapped[str | None] = mapped_column(String(40))
    ship_country: Mapped[str | None] = mapped_column(String(2))

    carrier: Mapped[str | None] = mapped_column(String(MAX_CARRIER))
    tracking_number: Mapped[str | None] = mapped_column(String(MAX_TRACKING))

    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Staff cancelled it (a full refund, copies back): never packed, even while the refund is
    # pending or after it failed.
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    lines: Mapped[list["OrderLine"]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )
    events: Mapped[list["OrderEvent"]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderEvent.id"
    )

    refunds: Mapped[list["Refund"]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Refund.id"
    )
    invoice: Mapped["OrderInvoice | None"] = relationship(
        back_populates="order", cascade="all, delete-orphan", uselist=False
    )

    @property
    def payable_pence(self) -> int:
        """What the buyer owes: the total less any promotion-code discount."""
        return self.total_pence - self.discount_pence

    @property
    def by_invoice(self) -> bool:
        return self.pays_by == INVOICE

    @property
    def awaiting_invoice_payment(self) -> bool:
        """An invoice is open at Stripe and not paid, whether or not the parcel has left."""
        return self.status in AWAITING_INVOICE_PAYMENT

    @property
    def refundable_pence(self) -> int:
        """What is left to refund of what Stripe actually charged (pending refunds hold theirs)."""
        return max((self.amount_charged_pence or 0) - self.refunded_pence - self.refund_pending_pence, 0)

    @property
    def awaiting_stock(self) -> bool:
        """Paid for, but a pre-ordered or back-ordered line still waits for copies."""
        return any(line.awaiting_stock for line in self.lines)

    @property
    def full_refund_pending(self) -> bool:
        """Stripe accepted a refund of everything that was charged and has not completed it
        (a bank payment's refund takes days): the order will not be posted."""
        return self.refund_pending_pence > 0 and (
            self.refunded_pence + self.refund_pending_pence >= (self.amount_charged_pence or 0)
        )

    @property
    def is_to_pack(self) -> bool:
        """In the "to pack" view: the twin of ``orders.desk.to_pack()``."""
        return (
            self.status in DISPATCHABLE and self.dispatched_at is None and not self.awaiting_stock
            and self.cancelled_at is None and not self.full_refund_pending
        )

    @property
    def can_dispatch(self) -> bool:
        """May be packed and sent now: the twin of ``orders.desk.packable()``."""
        return self.is_to_pack and not self.mismatch_unacknowledged

    @property
    def mismatch_unacknowledged(self) -> bool:
        return self.amount_mismatch and self.mismatch_acknowledged_at is None

    @property
    def status_label(self) -> str:
        return label(self.status)

    @property
    def is_paid(self) -> bool:
        """Payment received: paid, and whatever came after (dispatched, refunded)."""
        return self.status in PLACED

    @property
    def checkout_complete(self) -> bool:
        """The customer finished Stripe's checkout: paid, or a payment still processing."""
        return self.status in CHECKOUT_COMPLETE

    @property
    def has_delivery_address(self) -> bool:
        return bool(self.ship_line1 and self.ship_country)

    @property
    def shipping_address_lines(self) -> list[str]:
        parts = [
            self.ship_name,
            self.ship_line1,
            self.ship_line2,
            self.ship_city,
            self.ship_state,
            self.ship_postal_code,
            country_name(self.ship_country),
        ]
        return [part for part in parts if part]

    @property
    def flags(self) -> list[str]:
        flags = ["amount mismatch"] if self.amount_mismatch else []
        flags += ["awaiting stock"] if (self.is_paid or self.by_invoice) and self.awaiting_stock else []
        invoice = self.invoice
        if invoice is not None and self.awaiting_invoice_payment:
            flags += ["invoice payment failed"] if invoice.payment_failed_at else []
            flags += ["invoice overdue"] if invoice.overdue_flagged_at else []
        return flags

    def record(self, kind: str, actor: str, **detail: Any) -> None:
        self.events.append(OrderEvent(kind=kind, actor=actor, detail=detail or None))

    def __repr__(self) -> str:
        return f"<Order {self.reference} {self.status}>"


class OrderInvoice(Model):
    """How an organisation pays by invoice (shop.orders.invoicing): who it is, the purchase
    order number its finance system will match the invoice to, where the invoice goes and what
    it is billed to, and the invoice Stripe keeps for it.

    The order's ``customer_name`` and ``customer_email`` are the buyer's contact, who gets the
    shop's own emails; Stripe sends the invoice itself to ``finance_email``."""

    __tablename__ = "order_invoice"
    __table_args__ = (Index("ix_order_invoice_due_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id", ondelete="CASCADE"), unique=True)
    organisation: Mapped[str] = mapped_column(String(200))
    po_number: Mapped[str] = mapped_column(String(100))  # as the buyer's finance system writes it
    finance_email: Mapped[str] = mapped_column(String(320))
    billing_line1: Mapped[str] = mapped_column(String(300))
    billing_line2: Mapped[str | None] = mapped_column(String(300))
    billing_city: Mapped[str] = mapped_column(String(200))
    billing_postal_code: Mapped[str | None] = mapped_column(String(40))
    billing_country: Mapped[str] = mapped_column(String(2))
    # The form's one-time token: a second submission of the same form (a double click) finds
    # this order instead of placing another.
    request_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    # Staff approval (INVOICE_APPROVAL=manual): who let Stripe send it, or declined it.
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(String(320))

    # The invoice at Stripe, as last seen there.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_status: Mapped[str | None] = mapped_column(String(20))  # draft|open|paid|void|uncollectible
    number: Mapped[str | None] = mapped_column(String(100), index=True)  # assigned when finalized
    hosted_url: Mapped[str | None] = mapped_column(String(1000))
    pdf_url: Mapped[str | None] = mapped_column(String(1000))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finalized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # Stripe emailed it
    # Why it could not be issued the last time (Stripe down or refusing); cleared when it is.
    issue_error: Mapped[str | None] = mapped_column(Text)
    # Flags for staff: the latest failed payment attempt, Stripe (or reconcile) saying overdue.
    payment_failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_flagged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How it was paid: card or bank transfer through Stripe, or out of band (a cheque), with
    # what staff wrote about it.
    paid_by: Mapped[str | None] = mapped_column(String(40))
    paid_note: Mapped[str | None] = mapped_column(String(300))
    closed_reason: Mapped[str | None] = mapped_column(String(300))  # void or declined: why

    order: Mapped[Order] = relationship(back_populates="invoice")

    @property
    def billing_address_lines(self) -> list[str]:
        parts = [self.organisation, self.billing_line1, self.billing_line2, self.billing_city,
                 self.billing_postal_code, country_name(self.billing_country)]
        return [part for part in parts if part]

    def days_overdue(self, now: datetime) -> int:
        """Whole days past its due date (0 when not yet due, or no date)."""
        if self.due_at is None:
            return 0
        return max((now - as_utc(self.due_at)).days, 0) if now > as_utc(self.due_at) else 0


STOCK = "stock"
PREORDER = "preorder"
BACKORDER = "backorder"
SOLD_AS = (STOCK, PREORDER, BACKORDER)


class OrderLine(Model):
    """One title in an order. A line sold from stock had its copies reserved at checkout; a
    pre-ordered or back-ordered one (``sold_as``) was paid for with no copies to reserve, and
    ``awaiting_stock`` until the desk allocates them (orders.waiting), oldest order first."""

    __tablename__ = "order_line"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_pence > 0", name="unit_price_positive"),
        CheckConstraint("sold_as IN ('stock', 'preorder', 'backorder')", name="sold_as_known"),
        CheckConstraint("sold_as != 'stock' OR NOT awaiting_stock", name="stock_lines_never_wait"),
        # Each title's queue: the few lines still waiting, not every line ever sold.
        Index(
            "ix_order_line_awaiting",
            "publication_id",
            postgresql_where=text("awaiting_stock"),
            sqlite_where=text("awaiting_stock"),
        ),
        # An order's lines, and (read from the index alone) whether one still waits: "to pack"
        # asks that of every order waiting to be packed (desk.WAITING_LINE).
        Index("ix_order_line_order_awaiting", "order_id", "awaiting_stock"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id", ondelete="CASCADE"))
    publication_id: Mapped[int | None] = mapped_column(
        ForeignKey("publication.id", ondelete="SET NULL"), index=True
    )
    isbn: Mapped[str] = mapped_column(String(13), index=True)
    title: Mapped[str] = mapped_column(String(610))  # title: subtitle, each up to 300
    unit_price_pence: Mapped[int]
    quantity: Mapped[int]
    sold_as: Mapped[str] = mapped_column(String(10), default=STOCK, server_default=STOCK)
    awaiting_stock: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # When the customer was told copies would ship (publication day, or the due date of a
    # reprint); changed only when the desk sends everyone waiting a new date.
    expected_on: Mapped[date | None] = mapped_column(Date)
    date_notices: Mapped[int] = mapped_column(default=0, server_default="0")  # new dates sent

    order: Mapped[Order] = relationship(back_populates="lines")

    @property
    def reserves_stock(self) -> bool:
        """Its copies are out of stock for it, and go back if the order closes or is cancelled:
        taken at checkout (sold from stock), or allocated since (a pre-order or back-order no
        longer waiting). (A line not yet flushed has no ``sold_as``: it is sold from stock, the
        column's default.)"""
        return self.sold_as not in (PREORDER, BACKORDER) or not self.awaiting_stock

    @property
    def line_total_pence(self) -> int:
        return self.unit_price_pence * self.quantity


class OrderEvent(Model):
    """One entry in an order's timeline: who did what, with before/after where it applies."""

    __tablename__ = "order_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(320))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    order: Mapped[Order] = relationship(back_populates="events")


class StripeEvent(Model):
    """A webhook event already handled; its id's uniqueness makes redelivery a no-op."""

    __tablename__ = "stripe_event"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    # The version Stripe rendered it in: the endpoint's, or the account's default.
    api_version: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Refund(Model):
    """A refund as Stripe reports it, made from the staff desk or in Stripe's dashboard. Only a
    ``succeeded`` one counts as money returned; ``pending`` (and ``requires_action``) ones are
    on their way; ``failed`` and ``canceled`` ones returned nothing."""

    __tablename__ = "refund"
    __table_args__ = (CheckConstraint("amount_pence > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id", ondelete="CASCADE"), index=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    amount_pence: Mapped[int]
    status: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    order: Mapped[Order] = relationship(back_populates="refunds")

    @property
    def status_label(self) -> str:
        return REFUND_STATUS_LABELS.get(self.status, self.status)


REFUND_STATUS_LABELS = {
    "succeeded": "Refunded",
    "pending": "Pending: counted when Stripe completes it",
    "requires_action": "Waiting for the customer: counted when Stripe completes it",
    "failed": "Failed: nothing was refunded",
    "canceled": "Cancelled: nothing was refunded",
}
