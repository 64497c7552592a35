"""Writing emails into the outbox. Called inside the transaction that changes the order (or, for
an email about no order, the notify-me request), so an email exists exactly when the change does.
Rendering happens here, once; sending is elsewhere.

``order`` is an ``orders.models.Order``; this package does not import orders (orders import
it), so it is typed loosely here."""

import logging
import re
from typing import Any

from flask import current_app, render_template
from sqlalchemy import select

from shop import delivery
from shop.carriers import known_carrier, tracking_url
from shop.catalogue.models import Publication
from shop.emails.headers import header_text
from shop.emails.models import (
    CANCELLATION,
    CONFIRMATION,
    DISPATCH,
    DISPATCH_CORRECTION,
    INVOICE_CANCELLED,
    INVOICE_ISSUED,
    INVOICE_PAID,
    INVOICE_REQUESTED,
    NEW_DATE,
    PAYMENT_FAILED,
    REFUND,
    OutboxEmail,
)
from shop.errors import ShopError
from shop.extensions import db
from shop.orderlinks import order_page_url
from shop.seller import seller_from_config
from shop.timeutil import local

log = logging.getLogger(__name__)

SUBJECTS = {
    CONFIRMATION: "Your order {reference} is confirmed",
    DISPATCH: "Your order {reference} is on its way",
    REFUND: "A refund for your order {reference}",
    CANCELLATION: "Your order {reference} is cancelled and refunded",
    DISPATCH_CORRECTION: "Corrected tracking details for your order {reference}",
    PAYMENT_FAILED: "Your payment for order {reference} did not go through",
    NEW_DATE: "Your order {reference}: a new date for your copies",
    INVOICE_REQUESTED: "We have your order {reference}: the invoice follows",
    INVOICE_ISSUED: "Your order {reference} is confirmed: invoice sent",
    INVOICE_PAID: "Payment received for your order {reference}",
    INVOICE_CANCELLED: "Your order {reference} is cancelled: nothing is owed",
}
# Deliberately strict: one address, no spaces, no line breaks (nothing to smuggle a header in).
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def clean_name(name: str | None) -> str | None:
    """A display name on one line, fit for a header (``emails.headers.header_text``): encoded
    words decoded, line breaks and control characters become spaces."""
    return header_text(name) or None


def usable_address(address: str) -> bool:
    return bool(ADDRESS.match(address)) and len(address) <= 320


def queue(order: Any, kind: str, resend_of: OutboxEmail | None = None, *, key: str | None = None,
          topic: str | None = None, extra: dict[str, Any] | None = None) -> OutboxEmail | None:
    """Render and queue one email about ``order``; None when the order has no usable address.

    ``key`` makes the email one of its kind: queued once per key, however often this is called
    (a second call returns the first email). ``topic`` names what it is about when an order may
    have several of ``kind`` (one for each change of date; unique with the recipient). ``extra``
    goes into the templates' context (the refund's amount, say)."""
    if key is not None:
        existing = db.session.scalar(select(OutboxEmail).filter_by(dedupe_key=key))
        if existing is not None:
            return existing
    recipient = (order.customer_email or "").strip()
    if not usable_address(recipient):
        log.warning("Order %s: no usable email address, %s not queued", order.reference, kind)
        order.record("email_not_queued", "system", email=kind, reason="no usable email address")
        return None
    pdf_links = _pdf_links(order)
    config = current_app.config
    days = delivery.estimate(config["DELIVERY_ESTIMATES"], order.region)
    context = {
        "order": order,
        "name": clean_name(order.customer_name),
        "pdf_links": pdf_links,
        "shop_name": config["SHOP_NAME"],
        "shop_url": config["SHOP_BASE_URL"],
        "seller": seller_from_config(config),
        "order_url": order_page_url(order.id, config),
        "terms_url": config["SHOP_BASE_URL"] + "/terms",
        "returns_url": config["SHOP_BASE_URL"] + "/delivery-and-returns",
        "estimate": delivery.describe(days),
        "expected": delivery.expected_between(local(order.paid_at).date(), days) if order.paid_at else None,
        "carrier": known_carrier(order.carrier, config["CARRIERS"]) or order.carrier,
        "tracking_url": tracking_url(order.carrier, order.tracking_number, config["CARRIERS"]),
        **(extra or {}),
    }
    email = OutboxEmail(
        order=order,
        kind=kind,
        topic=topic if resend_of is None else resend_of.topic,
        resend_of_id=resend_of.id if resend_of else None,
        dedupe_key=key,
        recipient=recipient,
        recipient_name=clean_name(order.customer_name),
        subject=SUBJECTS[kind].format(reference=order.reference),
        text_body=render_template(f"emails/{kind}.txt", **context),
        html_body=render_template(f"emails/{kind}.html", **context),
    )
    db.session.add(email)
    db.session.flush()
    return email


def queue_message(
    kind: str, recipient: str, topic: str, subject: str, list_unsubscribe: str | None = None,
    **context: Any,
) -> OutboxEmail:
    """Render and queue one email about no order (``emails/<kind>.txt`` and ``.html``), once per
    recipient, ``kind`` and ``topic`` (a unique index: a second call in another transaction fails
    on commit, so callers claim what the email announces first). ``list_unsubscribe`` is the
    one-click unsubscribe address, sent as a List-Unsubscribe header and shown in the email."""
    context = {
        "shop_name": current_app.config["SHOP_NAME"],
        "shop_url": current_app.config["SHOP_BASE_URL"],
        "unsubscribe_url": list_unsubscribe,
        **context,
    }
    email = OutboxEmail(
        order_id=None,
        kind=kind,
        topic=topic,
        recipient=recipient,
        subject=subject,
        text_body=render_template(f"emails/{kind}.txt", **context),
        html_body=render_template(f"emails/{kind}.html", **context),
        list_unsubscribe=list_unsubscribe,
    )
    db.session.add(email)
    db.session.flush()
    return email


def queue_confirmation(order: Any) -> OutboxEmail | None:
    return queue(order, CONFIRMATION)


def queue_dispatch_notice(order: Any) -> OutboxEmail | None:
    return queue(order, DISPATCH)


def queue_refund_notice(order: Any, refund_id: str, amount_pence: int, *, cancelled: bool = False,
                        restocked: bool = False) -> OutboxEmail | None:
    """The customer's email about one refund (or the cancellation it made), once per Stripe
    refund id."""
    return queue(
        order, CANCELLATION if cancelled else REFUND, key=f"refund:{refund_id}",
        extra={"amount_pence": amount_pence, "cancelled": cancelled, "restocked": restocked},
    )


def queue_dispatch_correction(order: Any, correction_event_id: int) -> OutboxEmail | None:
    """The corrected dispatch email for one tracking correction (an ``OrderEvent`` id), once."""
    return queue(order, DISPATCH_CORRECTION, key=f"dispatch_correction:{correction_event_id}")


def queue_payment_failed(order: Any) -> OutboxEmail | None:
    return queue(order, PAYMENT_FAILED)


def queue_invoice_requested(order: Any) -> OutboxEmail | None:
    """An invoice order is recorded and waits for staff to approve its invoice."""
    return queue(order, INVOICE_REQUESTED)


def queue_invoice_issued(order: Any) -> OutboxEmail | None:
    """The shop's own confirmation of an invoice order, once its invoice is open at Stripe."""
    return queue(order, INVOICE_ISSUED)


def queue_invoice_paid(order: Any) -> OutboxEmail | None:
    """The invoice is paid: thanks, and the receipt."""
    return queue(order, INVOICE_PAID)


def queue_invoice_cancelled(order: Any, reason: str | None) -> OutboxEmail | None:
    """The order was declined, or its invoice voided: nothing is owed. Once per order, keyed,
    so a resend repeats it as it was (with the reason it gave)."""
    return queue(order, INVOICE_CANCELLED, key=f"invoice_cancelled:{order.id}", extra={"reason": reason})


def queue_new_date(order: Any, line: Any, told: Any, topic: str) -> OutboxEmail | None:
    """Tell the customer a waiting line has a new expected date (``line.expected_on``, was
    ``told``), once per ``topic`` (one change of that line)."""
    return queue(order, NEW_DATE, topic=topic, extra={"line": line, "told": told})


def resend(email: OutboxEmail, actor: str) -> OutboxEmail | None:
    """Queue a fresh copy of ``email`` on purpose, and audit it. Rendered anew, except a keyed
    email (a refund's), whose figures belong to its moment: that is copied as it was."""
    if email.kind == NEW_DATE:
        # It says what the date was then; resending it now could say something no longer true.
        raise ShopError(
            "A new-date email is not resent: send the current date to everyone waiting from the "
            "title's waiting list instead."
        )
    if email.dedupe_key is not None:
        copy = _copy(email)
    else:
        copy = queue(email.order, email.kind, resend_of=email)
    if copy is not None:
        email.order.record("email_resent", actor, email=email.kind, of_email=email.id, new_email=copy.id)
        db.session.flush()
    return copy


def _copy(email: OutboxEmail) -> OutboxEmail | None:
    recipient = (email.order.customer_email or "").strip()
    if not usable_address(recipient):
        return None
    copy = OutboxEmail(
        order=email.order, kind=email.kind, resend_of_id=email.id, recipient=recipient,
        recipient_name=clean_name(email.order.customer_name), subject=email.subject,
        text_body=email.text_body, html_body=email.html_body,
    )
    db.session.add(copy)
    db.session.flush()
    return copy


def emails_for(order: Any) -> list[OutboxEmail]:
    return list(db.session.scalars(select(OutboxEmail).filter_by(order_id=order.id).order_by(OutboxEmail.id)))


def _pdf_links(order: Any) -> dict[str, str]:
    ids = [line.publication_id for line in order.lines if line.publication_id]
    if not ids:
        return {}
    rows = db.session.execute(
        select(Publication.isbn, Publication.pdf_url).where(Publication.id.in_(ids), Publication.pdf_url.is_not(None))
    )
    return {isbn: url for isbn, url in rows if url}
