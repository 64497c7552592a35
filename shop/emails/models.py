"""The outbox: customer emails written in the same transaction as the change they announce, and
delivered afterwards by a sender that retries with back-off."""

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import Model, db
from shop.timeutil import utcnow

CONFIRMATION = "confirmation"
DISPATCH = "dispatch"
# Keyed kinds: more than one per order, each carrying a ``dedupe_key`` (see OutboxEmail).
REFUND = "refund"  # one per Stripe refund made from the desk
CANCELLATION = "cancellation"  # the cancel-order action's email (its refund's key)
DISPATCH_CORRECTION = "dispatch_correction"  # one per tracking correction staff chose to send
PAYMENT_FAILED = "payment_failed"  # a delayed payment (Bacs Direct Debit) did not go through
NEW_DATE = "new_date"  # a waiting pre-order or back-order has a new expected date
NOTIFY_CONFIRM = "notify_confirm"  # "confirm you want to hear when this title is available"
NOTIFY_AVAILABLE = "notify_available"  # "you can order it now"
# Orders paid by invoice (orders.invoicing): one of each per order.
INVOICE_REQUESTED = "invoice_requested"  # received; the invoice follows once staff approve it
INVOICE_ISSUED = "invoice_issued"  # the shop's confirmation: the invoice's number, links, due date
INVOICE_PAID = "invoice_paid"  # payment received, with the receipt
INVOICE_CANCELLED = "invoice_cancelled"  # declined or voided: nothing is owed (keyed: it says why)


class OutboxEmail(Model):
    __tablename__ = "outbox_email"
    __table_args__ = (
        # One automatic email of each kind per order, however often Stripe retries or staff
        # click; a resend is a deliberate extra row that points at the one it repeats. Kinds
        # that come more than once per order (a refund email per refund) are keyed instead:
        # one email per key, whatever retries or double clicks.
        Index(
            "uq_outbox_email_order_kind",
            "order_id",
            "kind",
            unique=True,
            postgresql_where=db.text("resend_of_id IS NULL AND dedupe_key IS NULL AND topic IS NULL"),
            sqlite_where=db.text("resend_of_id IS NULL AND dedupe_key IS NULL AND topic IS NULL"),
        ),
        # Emails about one thing among many (a notify-me request, one change of date): one per
        # recipient, kind and topic, so a retried job or a second click sends nothing more.
        Index(
            "uq_outbox_email_topic",
            "kind",
            "recipient",
            "topic",
            unique=True,
            postgresql_where=db.text("topic IS NOT NULL AND resend_of_id IS NULL"),
            sqlite_where=db.text("topic IS NOT NULL AND resend_of_id IS NULL"),
        ),
        Index("uq_outbox_email_dedupe_key", "dedupe_key", unique=True),
        Index("ix_outbox_email_due", "sent_at", "failed_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for an email about no order (notify me).
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("shop_order.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(30))
    topic: Mapped[str | None] = mapped_column(String(120))  # what it is about, with ``kind``
    # The one-click unsubscribe address (RFC 8058), sent as List-Unsubscribe.
    list_unsubscribe: Mapped[str | None] = mapped_column(String(500))
    resend_of_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_email.id", ondelete="SET NULL"))
    dedupe_key: Mapped[str | None] = mapped_column(String(120))  # e.g. "refund:re_…"
    recipient: Mapped[str] = mapped_column(String(320))
    recipient_name: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # gave up

    # By name: emails know orders only through this key (orders import emails, not back).
    order: Mapped[Any] = relationship("Order")

    @property
    def state(self) -> str:
        if self.sent_at:
            return "sent"
        if self.failed_at:
            return "failed"
        return "retrying" if self.attempts else "queued"
