"""Writing emails into the outbox. Called inside the transaction that changes the order, so an
email exists exactly when the change does. Rendering happens here, once; sending is elsewhere.

``order`` is an ``orders.models.Order``; this package does not import orders (orders import
it), so it is typed loosely here."""

import logging
import re
from typing import Any

from flask import current_app, render_template
from sqlalchemy import select

from shop.catalogue.models import Publication
from shop.emails.headers import header_text
from shop.emails.models import CONFIRMATION, DISPATCH, OutboxEmail
from shop.extensions import db

log = logging.getLogger(__name__)

SUBJECTS = {
    CONFIRMATION: "Your order {reference} is confirmed",
    DISPATCH: "Your order {reference} is on its way",
}
# Deliberately strict: one address, no spaces, no line breaks (nothing to smuggle a header in).
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def clean_name(name: str | None) -> str | None:
    """A display name on one line, fit for a header (``emails.headers.header_text``): encoded
    words decoded, line breaks and control characters become spaces."""
    return header_text(name) or None


def queue(order: Any, kind: str, resend_of: OutboxEmail | None = None) -> OutboxEmail | None:
    """Render and queue one email about ``order``; None when the order has no usable address."""
    recipient = (order.customer_email or "").strip()
    if not ADDRESS.match(recipient) or len(recipient) > 320:
        log.warning("Order %s: no usable email address, %s not queued", order.reference, kind)
        order.record("email_not_queued", "system", email=kind, reason="no usable email address")
        return None
    pdf_links = _pdf_links(order)
    context = {
        "order": order,
        "name": clean_name(order.customer_name),
        "pdf_links": pdf_links,
        "shop_name": current_app.config["SHOP_NAME"],
        "shop_url": current_app.config["SHOP_BASE_URL"],
    }
    email = OutboxEmail(
        order=order,
        kind=kind,
        resend_of_id=resend_of.id if resend_of else None,
        recipient=recipient,
        recipient_name=clean_name(order.customer_name),
        subject=SUBJECTS[kind].format(reference=order.reference),
        text_body=render_template(f"emails/{kind}.txt", **context),
        html_body=render_template(f"emails/{kind}.html", **context),
    )
    db.session.add(email)
    db.session.flush()
    return email


def queue_confirmation(order: Any) -> OutboxEmail | None:
    return queue(order, CONFIRMATION)


def queue_dispatch_notice(order: Any) -> OutboxEmail | None:
    return queue(order, DISPATCH)


def resend(email: OutboxEmail, actor: str) -> OutboxEmail | None:
    """Queue a fresh copy of ``email`` on purpose (rendered anew), and audit it."""
    copy = queue(email.order, email.kind, resend_of=email)
    if copy is not None:
        email.order.record("email_resent", actor, email=email.kind, of_email=email.id, new_email=copy.id)
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
