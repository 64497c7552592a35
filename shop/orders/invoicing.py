"""Orders that organisations pay by invoice, through Stripe Invoicing.

An NHS trust, a university or a library quotes a purchase order number (many pay no invoice
that lacks one), gives its finance email and billing address, and pays by bank transfer or card
within ``INVOICE_DAYS_UNTIL_DUE`` days, usually after the copies have arrived. So:

1. ``place_invoice_order`` records the order (``invoice_pending``) with its copies held (for as
   long as the invoice is open, not half an hour), the organisation's details beside it.
2. ``issue`` (at once with ``INVOICE_APPROVAL=auto``, after a member of staff approves it with
   ``manual``) makes the invoice at Stripe, step by step, each step keyed for Stripe's
   idempotency and recorded as it lands, so a step that fails can be retried from where it
   stopped (by the desk, or by ``orders reconcile``): the organisation's Customer (found again
   by its finance email, never made twice), a draft invoice (``send_invoice``, due in so many
   days, the PO number in its custom fields, the order's reference in its metadata), an invoice
   item for each line and the postage, then finalized (its number, hosted page and PDF) and
   sent by Stripe. The order becomes ``invoiced`` when the invoice is open, and the buyer's
   contact gets the shop's own confirmation then.
3. ``apply_invoice`` brings an order in line with Stripe's view of its invoice, repeat-safe:
   paid (``paid``, or ``dispatched`` for one posted before payment: once, by the status
   table's compare-and-set, with one email), void or uncollectible (closed; copies back in
   stock unless dispatched), and the flags for staff (a payment that failed, overdue). The
   webhook, reconciliation and the desk's actions all call it with what Stripe says now.

Functions take explicit arguments (the acting staff member, the terms from config) and flush;
the caller commits.
"""

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, func, or_, select, update

from shop.addresses import country_name
from shop.catalogue import stock
from shop.catalogue.availability import Offer
from shop.catalogue.models import Publication
from shop.emails.outbox import (
    queue_invoice_cancelled,
    queue_invoice_issued,
    queue_invoice_paid,
    queue_invoice_requested,
)
from shop.errors import PaymentGatewayError, ShopError, UnknownCheckout
from shop.extensions import db, rows_changed
from shop.isbn import hyphenate
from shop.money import format_pence
from shop.orders import models
from shop.orders import services as orders
from shop.orders.holds import Holder
from shop.orders.models import Order, OrderEvent, OrderInvoice
from shop.orders.status import (
    ALLOWED,
    AWAITING_INVOICE_PAYMENT,
    CANCELLED,
    DISPATCHED,
    INVOICE_PENDING,
    INVOICE_UNSETTLED,
    INVOICE_VOID,
    INVOICED,
    PAID,
    PLACED,
    UNCOLLECTIBLE,
    StatusChange,
    label,
    transition,
)
from shop.payments import gateway
from shop.payments.gateway import (
    InvoiceCustomer,
    InvoiceInfo,
    InvoiceLine,
    InvoiceRequest,
    PostalAddress,
)
from shop.seller import Seller
from shop.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

# What the buyer types, as long as Stripe and our columns take it.
MAX_ORGANISATION = 200
MAX_PO_NUMBER = 100  # a Stripe custom field's value takes 140
MAX_NAME = 200
MAX_LINE = 200
MAX_CITY = 100
MAX_POSTCODE = 20
MAX_REASON = 300
AUTOMATIC = "automatic (INVOICE_APPROVAL=auto)"
# How staff may say an invoice was paid outside Stripe.
OUT_OF_BAND = {
    "cheque": "Cheque",
    "bank_transfer": "Bank transfer to our own account",
    "other": "Other (say what in the note)",
}
# What paid an invoice through Stripe, in words (gateway.payment_method_used).
PAID_BY = {"card": "Card (Stripe)", "customer_balance": "Bank transfer (Stripe)"}
# Stripe's invoice custom field names (at most 40 characters).
PO_FIELD, REFERENCE_FIELD, VAT_FIELD = "Purchase order", "Order reference", "Supplier VAT number"


class InvoiceError(ShopError):
    """An invoice action that was refused; nothing changed."""


@dataclass(frozen=True)
class Organisation:
    """Who pays, as the buyer typed it (checked by the form)."""

    name: str
    po_number: str
    contact_name: str
    contact_email: str
    finance_email: str
    billing: PostalAddress
    delivery_name: str
    delivery: PostalAddress


@dataclass(frozen=True)
class InvoiceTerms:
    """The shop's terms for invoices (INVOICE_* settings) and what an invoice says of the seller."""

    days_until_due: int
    approval: str  # auto | manual
    seller: Seller
    region_labels: dict[str, str]  # postage region key -> its words, for the postage line

    @classmethod
    def from_config(cls, config, seller: Seller) -> "InvoiceTerms":
        return cls(
            days_until_due=config["INVOICE_DAYS_UNTIL_DUE"],
            approval=config["INVOICE_APPROVAL"],
            seller=seller,
            region_labels={key: spec["label"] for key, spec in config["POSTAGE_REGIONS"].items()},
        )


def clean_po_number(text: str) -> str:
    """A purchase order number as the buyer's finance system writes it: kept exactly, but for
    spaces around it. ``InvoiceError`` when it is missing, too long or has a line break or a
    control character (it is matched character for character by the payer's system)."""
    value = (text or "").strip()
    if not value:
        raise InvoiceError("Enter your purchase order (PO) number, exactly as your finance system writes it.")
    if len(value) > MAX_PO_NUMBER:
        raise InvoiceError(f"A purchase order number can have at most {MAX_PO_NUMBER} characters.")
    if any(not ch.isprintable() for ch in value):
        raise InvoiceError("A purchase order number is one line, without tabs or line breaks.")
    return value


# -- placing an order -----------------------------------------------------------------------

def place_invoice_order(
    lines: Sequence[tuple[Publication, int, Offer]],
    region: str,
    postage_pence: int,
    organisation: Organisation,
    terms: InvoiceTerms,
    reference_prefix: str,
    request_token: str,
    holder: Holder | None = None,
    hold_limit: int | None = None,
) -> Order:
    """Record an order to be paid by invoice (``invoice_pending``): lines and copies as a card
    order's (prices from the database, volume prices applied, pre-orders waiting for stock),
    the copies held until the invoice is paid, voided or the order declined, the holder's unpaid
    invoices capped at ``hold_limit`` copies a title. The organisation's contact is the order's
    customer (the shop's emails go to them); delivery is to the address given. With automatic
    approval the order is approved at once (``issue`` then makes the invoice); otherwise the
    contact is told it waits for approval. ``CheckoutError`` says why it cannot be placed;
    a ``request_token`` used before (a double submission) raises ``DuplicateSubmission`` with
    the order it placed. (Two submissions at the very same moment: the second one's flush meets
    the token's unique index, ``IntegrityError``; the caller rolls back and finds the first's
    order with ``find_by_request_token``.)"""
    existing = find_by_request_token(request_token)
    if existing is not None:
        raise DuplicateSubmission(existing)
    order = orders.place_order(
        lines, region, postage_pence, reference_prefix, holder, hold_limit,
        status=INVOICE_PENDING, pays_by=models.INVOICE,
    )
    delivery = organisation.delivery
    order.customer_name = organisation.contact_name
    order.customer_email = organisation.contact_email
    order.ship_name = organisation.delivery_name
    order.ship_line1, order.ship_line2 = delivery.line1, delivery.line2
    order.ship_city, order.ship_postal_code, order.ship_country = delivery.city, delivery.postal_code, delivery.country
    billing = organisation.billing
    automatic = terms.approval == "auto"
    order.invoice = OrderInvoice(
        organisation=organisation.name,
        po_number=organisation.po_number,
        finance_email=organisation.finance_email.strip().lower(),
        billing_line1=billing.line1,
        billing_line2=billing.line2,
        billing_city=billing.city,
        billing_postal_code=billing.postal_code,
        billing_country=billing.country,
        request_token=request_token,
        approved_at=utcnow() if automatic else None,
        approved_by=AUTOMATIC if automatic else None,
    )
    db.session.flush()
    order.record("invoice_requested", "customer", organisation=organisation.name,
                 po_number=organisation.po_number, approval=terms.approval)
    if not automatic:
        queue_invoice_requested(order)
    db.session.flush()
    return order


class DuplicateSubmission(ShopError):
    """The invoice form was sent again: ``order`` is the one it placed the first time."""

    def __init__(self, order: Order):
        super().__init__(f"Your order {order.reference} was already placed.")
        self.order = order


def find_by_request_token(token: str) -> Order | None:
    return db.session.scalar(
        select(Order).join(OrderInvoice, OrderInvoice.order_id == Order.id).where(OrderInvoice.request_token == token)
    )


def find_by_invoice(invoice_id: str) -> Order | None:
    return db.session.scalar(
        select(Order).join(OrderInvoice, OrderInvoice.order_id == Order.id)
        .where(OrderInvoice.stripe_invoice_id == invoice_id)
    )


def find_unrecorded(reference: str) -> Order | None:
    """An invoice order whose Stripe invoice id was never recorded (the process stopped between
    Stripe's answer and the commit), by the reference in the invoice's metadata."""
    return db.session.scalar(
        select(Order).join(OrderInvoice, OrderInvoice.order_id == Order.id)
        .where(Order.reference == reference, OrderInvoice.stripe_invoice_id.is_(None))
    )


# -- issuing the invoice at Stripe ------------------------------------------------------------

def _key(order: Order) -> str:
    """Stable for one order: every step's idempotency key starts with it."""
    return f"invoice-{order.reference}-{int(as_utc(order.created_at).timestamp() * 1_000_000)}"


def _attempt(order: Order) -> int:
    """How many times issuing this order's invoice failed before. Each attempt keys its steps
    afresh: Stripe keeps a failure (a 500 included) under its key and would only repeat it;
    what an earlier attempt did make is found (the draft, its lines) and not made again."""
    return db.session.scalar(
        select(func.count()).select_from(OrderEvent)
        .where(OrderEvent.order_id == order.id, OrderEvent.kind == "invoice_not_issued")
    ) or 0


def footer(seller: Seller) -> str:
    """What the invoice says of the seller and of VAT (Stripe prints it at the foot)."""
    parts = [f"{seller.name}, {seller.address_one_line}. {seller.email}"
             + (f", {seller.phone}" if seller.phone else "") + "."]
    if seller.registration:
        parts.append(f"{seller.registration}.")
    if seller.vat_number:
        # A VAT invoice gives each line's rate: here one rate for all, and why.
        parts.append(f"VAT number {seller.vat_number}.")
        parts.append("VAT: printed books are zero-rated in the UK, and postage charged with them "
                     f"follows the goods, so every line carries VAT at 0% ({format_pence(0)}).")
    else:
        parts.append("No VAT is charged.")  # a seller not registered for VAT shows no rates
    parts.append("Please quote the invoice number with your payment.")
    return " ".join(parts)


def invoice_request(order: Order, terms: InvoiceTerms, customer_id: str, key: str) -> InvoiceRequest:
    """The invoice Stripe is asked for: a line for each order line at the price the order
    recorded (a volume price included), and the postage; its steps keyed from ``key``."""
    invoice = order.invoice
    assert invoice is not None
    lines = []
    for line in order.lines:
        note = ""
        if line.awaiting_stock:
            note = (f"; {'pre-order' if line.sold_as == models.PREORDER else 'back-order'}, posted when "
                    "copies arrive")
        lines.append(InvoiceLine(
            key=f"line-{line.id}",
            description=f"{line.title} (print copy, ISBN {hyphenate(line.isbn)}){note}",
            quantity=line.quantity,
            unit_amount=line.unit_price_pence,
        ))
    region = terms.region_labels.get(order.region, order.region)
    lines.append(InvoiceLine(key="postage", description=f"Postage to {region} ({order.copies} copies)",
                             quantity=1, unit_amount=order.postage_pence))
    fields = [(PO_FIELD, invoice.po_number), (REFERENCE_FIELD, order.reference or "")]
    if terms.seller.vat_number:
        fields.append((VAT_FIELD, terms.seller.vat_number))
    return InvoiceRequest(
        order_id=order.id,
        reference=order.reference or "",
        customer_id=customer_id,
        currency=order.currency,
        lines=tuple(line for line in lines if line.unit_amount > 0),
        days_until_due=terms.days_until_due,
        custom_fields=tuple(fields),
        footer=footer(terms.seller),
        shipping_name=order.ship_name or invoice.organisation,
        shipping_address=PostalAddress(order.ship_line1 or "", order.ship_line2, order.ship_city or "",
                                       order.ship_postal_code, order.ship_country or ""),
        idempotency_key=key,
    )


def needs_approval(order: Order) -> bool:
    invoice = order.invoice
    return order.status == INVOICE_PENDING and invoice is not None and invoice.approved_at is None


def approve(order: Order, actor: str) -> bool:
    """Record that ``actor`` approved the invoice, once (a compare-and-set); False when someone
    approved it first."""
    invoice = _invoice_of(order)
    if order.status != INVOICE_PENDING:
        raise InvoiceError(f"Order {order.reference} is {label(order.status).lower()}: there is nothing to approve.")
    approved = rows_changed(
        update(OrderInvoice).where(OrderInvoice.id == invoice.id, OrderInvoice.approved_at.is_(None))
        .values(approved_at=utcnow(), approved_by=actor).execution_options(synchronize_session=False)
    )
    db.session.refresh(invoice)
    if approved:
        order.record("invoice_approved", actor)
        db.session.flush()
    return bool(approved)


def to_finish(order: Order) -> bool:
    """Whether the invoice still has to be made at Stripe (approved, not open yet), or sent."""
    invoice = order.invoice
    if invoice is None:
        return False
    return (order.status == INVOICE_PENDING and invoice.approved_at is not None) or (
        order.status in AWAITING_INVOICE_PAYMENT and invoice.sent_at is None
    )


def issue(order: Order, terms: InvoiceTerms, actor: str) -> InvoiceInfo:
    """Make the approved invoice at Stripe, or finish making it, and have Stripe send it.

    Each step is recorded as it lands (the customer, the draft, the finalized invoice, the
    sending), and each is keyed from the order, so after a failure a second call picks up where
    the first stopped and makes nothing twice. On ``PaymentGatewayError`` the error is recorded
    for staff (the order stays ``invoice_pending``, or ``invoiced`` if only the sending failed)
    and raised for the caller, who commits either way."""
    invoice = _invoice_of(order)
    if not to_finish(order) and order.status != INVOICE_PENDING:
        raise InvoiceError(f"Order {order.reference} is {label(order.status).lower()}: its invoice was sent already.")
    if invoice.approved_at is None:
        raise InvoiceError(f"Order {order.reference} waits for approval before its invoice is sent.")
    attempt = _attempt(order)
    key = f"{_key(order)}-{attempt}"
    try:
        if invoice.stripe_customer_id is None:
            invoice.stripe_customer_id = gateway.find_or_create_customer(InvoiceCustomer(
                email=invoice.finance_email, name=invoice.organisation,
                address=PostalAddress(invoice.billing_line1, invoice.billing_line2, invoice.billing_city,
                                      invoice.billing_postal_code, invoice.billing_country),
            ), attempt)
            db.session.flush()
        request = invoice_request(order, terms, invoice.stripe_customer_id, key)
        if invoice.stripe_invoice_id is None:
            # An earlier attempt's create may have landed at Stripe after all: finish that one.
            found = gateway.find_draft_invoice(request.customer_id, request.reference) if attempt else None
            info = found or gateway.create_invoice_draft(request)
            invoice.stripe_invoice_id, invoice.stripe_status = info.id, info.status
            db.session.flush()
            present: set[str] = gateway.invoice_line_keys(info.id) if found else set()
        else:
            info = gateway.retrieve_invoice(invoice.stripe_invoice_id)
            present = gateway.invoice_line_keys(info.id) if info.status == "draft" else set()
        if info.status == "draft":
            gateway.add_invoice_lines(info.id, request, present)
            info = gateway.finalize_invoice(info.id, f"{key}-finalize")
        apply_invoice(order, info, actor)
        if order.status in AWAITING_INVOICE_PAYMENT and invoice.sent_at is None:
            info = gateway.send_invoice(info.id, f"{key}-send")
            invoice.sent_at = utcnow()
            order.record("invoice_sent", actor, invoice_number=info.number, to=invoice.finance_email)
        invoice.issue_error = None
        db.session.flush()
        return info
    except PaymentGatewayError as error:
        invoice.issue_error = error.message[:2000]
        order.record("invoice_not_issued", actor, error=error.message[:300])
        db.session.flush()
        log.warning("Order %s: invoice not issued: %s", order.reference, error.message)
        raise


def decline(order: Order, reason: str, actor: str) -> None:
    """Staff decline an order waiting for approval: a draft made at Stripe is deleted (an
    invoice already open there is voided), the copies go back in stock, the order is
    cancelled and the contact is told why, once."""
    reason = _reason(reason, "declining")
    invoice = _invoice_of(order)
    if order.status != INVOICE_PENDING:
        raise InvoiceError(f"Only an order whose invoice has not been sent can be declined; {order.reference} is "
                           f"{label(order.status).lower()}.")
    if invoice.stripe_invoice_id is not None:
        try:
            current = gateway.retrieve_invoice(invoice.stripe_invoice_id)
        except UnknownCheckout:
            current = None
        if current is not None and current.status == "draft":
            gateway.delete_draft_invoice(current.id)
        elif current is not None and current.status in ("open", "uncollectible"):
            gateway.void_invoice(current.id, f"{_key(order)}-decline")
    left = transition(order, CANCELLED, actor=actor, kind="invoice_declined", detail={"reason": reason},
                      closed_at=utcnow())
    if left is None:
        raise InvoiceError(f"Order {order.reference} was changed by someone else a moment ago: nothing was done.")
    invoice.closed_reason = reason
    stock.release(order.lines)
    queue_invoice_cancelled(order, reason)
    db.session.flush()


# -- Stripe's view of the invoice, applied -----------------------------------------------------

def apply_invoice(order: Order, info: InvoiceInfo, actor: str, event_type: str | None = None,
                  reason: str | None = None) -> None:
    """Bring ``order`` in line with Stripe's view of its invoice, repeat-safe: its number, links
    and due date; open (an ``invoice_pending`` order becomes ``invoiced``, with the contact's
    confirmation); paid; void or uncollectible; and, for ``event_type`` ``invoice.payment_failed``
    or ``invoice.overdue`` while it is unpaid, a flag for staff."""
    invoice = _invoice_of(order)
    if invoice.stripe_invoice_id is None:
        invoice.stripe_invoice_id = info.id
    invoice.stripe_status = info.status
    invoice.number = info.number or invoice.number
    invoice.hosted_url = info.hosted_url or invoice.hosted_url
    invoice.pdf_url = info.pdf_url or invoice.pdf_url
    invoice.due_at = info.due_at or invoice.due_at
    invoice.finalized_at = info.finalized_at or invoice.finalized_at
    if info.status in ("open", "paid", "uncollectible", "void") and order.status == INVOICE_PENDING:
        _record_issued(order, info, actor)
    if info.status == "paid":
        _record_paid(order, info, actor)
    elif info.status == "void":
        _record_closed(order, INVOICE_VOID, actor, reason)
    elif info.status == "uncollectible":
        _record_closed(order, UNCOLLECTIBLE, actor, reason)
    if info.status in ("open", "uncollectible"):
        if event_type == "invoice.payment_failed":
            invoice.payment_failed_at = utcnow()
            order.record("invoice_payment_failed", actor, invoice_number=info.number)
        elif event_type == "invoice.overdue" or (
            info.status == "open" and info.due_at is not None and as_utc(info.due_at) < utcnow()
        ):
            flag_overdue(order, actor)
    db.session.flush()


def _record_issued(order: Order, info: InvoiceInfo, actor: str) -> None:
    """The invoice is open at Stripe: the order is invoiced (once), and its total checked."""
    left = transition(order, INVOICED, actor=actor, kind="invoiced",
                      detail={"invoice_number": info.number, "stripe_invoice": info.id})
    if left is None:
        return
    if info.total != order.total_pence or info.currency != order.currency:
        order.amount_mismatch = True
        log.error("Order %s: invoice %s is for %s %s, the order is %s %s", order.reference, info.number,
                  info.total, info.currency, order.total_pence, order.currency)
        order.record("amount_mismatch", "system", expected_pence=order.total_pence, invoiced_pence=info.total,
                     charged_currency=info.currency)
    queue_invoice_issued(order)


def _record_paid(order: Order, info: InvoiceInfo, actor: str) -> None:
    """Paid, once: ``paid``, or ``dispatched`` for an order posted before payment. The
    transition's compare-and-set decides who records it, and only that caller queues the email."""
    invoice = _invoice_of(order)
    if order.status not in INVOICE_UNSETTLED:
        return
    to = DISPATCHED if order.dispatched_at is not None else PAID
    if to not in ALLOWED[order.status]:
        return
    method = gateway.payment_method_used(info.payment_intent_id) if info.payment_intent_id else None
    paid_by = PAID_BY.get(method or "", method) if info.payment_intent_id else None
    if info.paid_off_stripe and not paid_by:
        paid_by = invoice.paid_by or "Out of band (marked paid)"
    left = transition(
        order, to, actor=actor, kind="invoice_paid",
        detail={"invoice_number": info.number, "amount_paid_pence": info.amount_paid, "paid_by": paid_by},
        paid_at=info.paid_at or utcnow(),
        closed_at=None,
        amount_charged_pence=info.amount_paid,
        currency_charged=info.currency,
        payment_intent_id=info.payment_intent_id,
    )
    if left is None:
        return  # recorded a moment ago by another delivery, or the desk
    invoice.paid_by = paid_by
    order.amount_mismatch = order.amount_mismatch or info.amount_paid != order.total_pence or info.currency != order.currency
    if info.amount_paid != order.total_pence:
        order.record("amount_mismatch", "system", expected_pence=order.total_pence, charged_pence=info.amount_paid,
                     charged_currency=info.currency)
    if left == UNCOLLECTIBLE and order.dispatched_at is None:
        # Written off earlier, its copies went back to stock: take them again.
        for isbn in stock.take_late(order.lines):
            order.record("stock_short", "system", isbn=isbn)
    queue_invoice_paid(order)
    db.session.flush()


def _record_closed(order: Order, to: str, actor: str, reason: str | None) -> None:
    """Voided or written off: closed once; copies back in stock if they were still held."""
    if to not in ALLOWED.get(order.status, frozenset()):
        return
    left = transition(order, to, actor=actor, detail={"reason": reason} if reason else None, closed_at=utcnow())
    if left is None:
        return
    invoice = _invoice_of(order)
    if reason:
        invoice.closed_reason = reason
    if left == INVOICED and order.dispatched_at is None:
        stock.release(order.lines)
        order.record("restocked", "system", copies=order.copies)
    if to == INVOICE_VOID:
        queue_invoice_cancelled(order, reason)
    db.session.flush()


def flag_overdue(order: Order, actor: str) -> bool:
    """Flag an unpaid invoice overdue for staff, once (a compare-and-set)."""
    invoice = _invoice_of(order)
    flagged = rows_changed(
        update(OrderInvoice).where(OrderInvoice.id == invoice.id, OrderInvoice.overdue_flagged_at.is_(None))
        .values(overdue_flagged_at=utcnow()).execution_options(synchronize_session=False)
    )
    db.session.refresh(invoice)
    if flagged:
        order.record("invoice_overdue", actor, invoice_number=invoice.number,
                     due=invoice.due_at.date().isoformat() if invoice.due_at else None)
    return bool(flagged)


# -- the desk's actions -------------------------------------------------------------------------

def resend(order: Order, actor: str, request_token: str) -> InvoiceInfo:
    """Have Stripe email the open invoice to the organisation again."""
    invoice = _invoice_of(order)
    if order.status not in AWAITING_INVOICE_PAYMENT or invoice.stripe_invoice_id is None:
        raise InvoiceError(f"Only an unpaid invoice is sent again; order {order.reference} is "
                           f"{label(order.status).lower()}.")
    info = gateway.send_invoice(invoice.stripe_invoice_id, f"{_key(order)}-resend-{_token(request_token)}")
    invoice.sent_at = utcnow()
    order.record("invoice_resent", actor, invoice_number=info.number, to=invoice.finance_email)
    apply_invoice(order, info, actor)
    return info


def void(order: Order, reason: str, actor: str, request_token: str) -> InvoiceInfo:
    """Void the invoice at Stripe (nothing is owed), then record it: the order closes, its
    copies go back in stock unless it was dispatched, and the contact is told, once."""
    reason = _reason(reason, "voiding")
    invoice = _invoice_of(order)
    if order.status not in INVOICE_UNSETTLED or invoice.stripe_invoice_id is None:
        raise InvoiceError(f"Only an unpaid invoice can be voided; order {order.reference} is "
                           f"{label(order.status).lower()}.")
    info = gateway.void_invoice(invoice.stripe_invoice_id, f"{_key(order)}-void-{_token(request_token)}")
    order.record("invoice_void_requested", actor, reason=reason, invoice_number=info.number)
    apply_invoice(order, info, actor, reason=reason)
    return info


def mark_paid_out_of_band(order: Order, how: str, note: str, actor: str, request_token: str) -> InvoiceInfo:
    """Record a payment that did not come through Stripe (a cheque, a transfer to the seller's
    own account): Stripe marks the invoice paid out of band, then the order is paid as if
    Stripe had reported it."""
    invoice = _invoice_of(order)
    if how not in OUT_OF_BAND:
        raise InvoiceError("Choose how the invoice was paid.")
    note = " ".join((note or "").split())
    if how == "other" and not note:
        raise InvoiceError("Say in the note how it was paid.")
    if len(note) > MAX_REASON:
        raise InvoiceError(f"A note can have at most {MAX_REASON} characters.")
    if order.status not in INVOICE_UNSETTLED or invoice.stripe_invoice_id is None:
        raise InvoiceError(f"Only an unpaid invoice can be marked paid; order {order.reference} is "
                           f"{label(order.status).lower()}.")
    info = gateway.pay_invoice_out_of_band(invoice.stripe_invoice_id, f"{_key(order)}-paid-{_token(request_token)}")
    invoice.paid_by = f"Out of band: {OUT_OF_BAND[how].lower()}"
    invoice.paid_note = note or None
    order.record("invoice_marked_paid", actor, how=OUT_OF_BAND[how], note=note or None)
    apply_invoice(order, info, actor)
    return info


def _reason(reason: str, doing: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvoiceError(f"Say why you are {doing} it: the organisation is told.")
    if len(reason) > MAX_REASON:
        raise InvoiceError(f"A reason can have at most {MAX_REASON} characters.")
    return reason


def _token(request_token: str) -> str:
    return "".join(ch for ch in request_token or "" if ch.isalnum())[:64] or "none"


def _invoice_of(order: Order) -> OrderInvoice:
    if order.invoice is None:
        raise InvoiceError(f"Order {order.reference} is not paid by invoice.")
    return order.invoice


# -- the invoices view and reconciliation ---------------------------------------------------------

VIEWS = {
    "approval": "Waiting for approval or to be issued",
    "open": "Open, not yet due",
    "overdue": "Overdue",
    "paid": "Paid",
    "closed": "Void, uncollectible or declined",
}


class ListedInvoice(NamedTuple):
    reference: str
    organisation: str
    po_number: str
    number: str | None
    total_pence: int
    status_label: str
    due_at: datetime | None
    days_overdue: int
    flags: list[str]
    created_at: datetime


def _view_filter(view: str, now: datetime) -> ColumnElement[bool]:
    if view == "approval":
        return Order.status == INVOICE_PENDING
    if view == "open":
        return and_(Order.status.in_(AWAITING_INVOICE_PAYMENT),
                    or_(OrderInvoice.due_at.is_(None), OrderInvoice.due_at >= now))
    if view == "overdue":
        return and_(Order.status.in_(AWAITING_INVOICE_PAYMENT), OrderInvoice.due_at < now)
    if view == "paid":
        return Order.status.in_(PLACED)
    return Order.status.in_((INVOICE_VOID, UNCOLLECTIBLE, CANCELLED))


def invoices(view: str, now: datetime, page: int, per_page: int) -> tuple[list[ListedInvoice], int, dict[str, int]]:
    """One page of invoice orders in ``view`` (the most overdue first; open ones by due date;
    paid ones newest first), how many match, and how many each view has."""
    view = view if view in VIEWS else "open"
    base = select(Order, OrderInvoice).join(OrderInvoice, OrderInvoice.order_id == Order.id)
    ordering: tuple[Any, ...] = {
        "overdue": (OrderInvoice.due_at.asc(), Order.id),
        "open": (OrderInvoice.due_at.asc(), Order.id),
        "approval": (Order.created_at.asc(), Order.id),
        "paid": (Order.paid_at.desc(), Order.id.desc()),
        "closed": (Order.updated_at.desc(), Order.id.desc()),
    }[view]
    rows = db.session.execute(
        base.where(_view_filter(view, now)).order_by(*ordering).limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    listed = [
        ListedInvoice(
            reference=order.reference or "", organisation=invoice.organisation, po_number=invoice.po_number,
            number=invoice.number, total_pence=order.total_pence, status_label=label(order.status),
            due_at=invoice.due_at,
            days_overdue=invoice.days_overdue(now) if order.status in AWAITING_INVOICE_PAYMENT else 0,
            flags=([f"Payment failed {invoice.payment_failed_at:%-d %b}"] if invoice.payment_failed_at
                   and order.status in AWAITING_INVOICE_PAYMENT else [])
            + (["Not issued: " + invoice.issue_error[:80]] if invoice.issue_error and order.status == INVOICE_PENDING else [])
            + (["Dispatched"] if order.dispatched_at is not None and order.status in AWAITING_INVOICE_PAYMENT else []),
            created_at=order.created_at,
        )
        for order, invoice in rows
    ]
    counts = {
        key: db.session.scalar(
            select(func.count()).select_from(Order).join(OrderInvoice, OrderInvoice.order_id == Order.id)
            .where(_view_filter(key, now))
        ) or 0
        for key in VIEWS
    }
    return listed, counts[view], counts


def to_reconcile() -> list[int]:
    """Invoice orders Stripe may have news of: those to be issued (approved, not yet sent: a
    retry), and every unpaid or uncollectible invoice, however old."""
    return list(db.session.scalars(
        select(Order.id).join(OrderInvoice, OrderInvoice.order_id == Order.id).where(
            or_(
                and_(Order.status == INVOICE_PENDING, OrderInvoice.approved_at.is_not(None)),
                Order.status.in_(INVOICE_UNSETTLED),
            )
        ).order_by(Order.id)
    ))


def reconcile_one(order_id: int, terms: InvoiceTerms) -> Iterator[StatusChange]:
    """Ask Stripe about one invoice order and apply what it says (or finish issuing an approved
    invoice that is not out yet); yields what changed, or why it could not. Flags an open
    invoice past its due date as overdue (Stripe sends ``invoice.overdue`` only from a
    dashboard Automation)."""
    order = db.session.get(Order, order_id)
    if order is None or order.invoice is None:
        return
    before = order.status
    flagged_before = order.invoice.overdue_flagged_at
    if to_finish(order):
        try:
            issue(order, terms, "reconcile")
        except PaymentGatewayError as error:
            yield StatusChange(order.reference, before, order.status, f"invoice not issued: {error.message}")
            return
    elif order.invoice.stripe_invoice_id:
        apply_invoice(order, gateway.retrieve_invoice(order.invoice.stripe_invoice_id), "reconcile")
    if order.status != before:
        yield StatusChange(order.reference, before, order.status, f"Stripe says invoice {order.invoice.stripe_status}")
    elif order.invoice.overdue_flagged_at and not flagged_before:
        yield StatusChange(order.reference, before, order.status, "invoice overdue: flagged")


def delivery_countries(regions: dict, region: str) -> list[tuple[str, str]]:
    """(code, name) of the countries the basket's postage region delivers to, by name, the
    United Kingdom first."""
    codes = regions.get(region, {}).get("countries", [])
    named = sorted(((code, country_name(code) or code) for code in codes), key=lambda pair: pair[1])
    return sorted(named, key=lambda pair: pair[0] != "GB")


def billing_countries(regions: dict) -> list[tuple[str, str]]:
    """(code, name) of every country the shop posts to, the United Kingdom first."""
    codes = {code for spec in regions.values() for code in spec["countries"]}
    named = sorted(((code, country_name(code) or code) for code in codes), key=lambda pair: pair[1])
    return sorted(named, key=lambda pair: pair[0] != "GB")
