"""Delivering the outbox: over SMTP, or into ``instance/mail/`` as .eml files when no mail server
is configured (development). Each email is claimed, sent and marked in its own transaction; a
failure is retried with exponential back-off, and after ``MAX_ATTEMPTS`` it is left for staff."""

import logging
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from shop.emails.headers import header_text
from shop.emails.models import OutboxEmail
from shop.extensions import db
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=2)


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    gave_up: int = 0


def build_message(email: OutboxEmail, sender: str, reply_to: str | None = None) -> EmailMessage:
    """A multipart text + HTML message. Every header value is cleaned here, at the last moment
    (``headers.header_text``: encoded words decoded, control characters gone), so nothing a
    customer typed can add a header, whatever the row holds or the Python patch level.
    ``reply_to``: the seller's address, so a customer's reply reaches a person even when
    ``sender`` is a no-reply mailbox."""
    message = EmailMessage()
    message["From"] = header_text(sender, 400)
    message["To"] = Address(display_name=header_text(email.recipient_name), addr_spec=email.recipient)
    message["Subject"] = header_text(email.subject)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(idstring=f"outbox-{email.id}", domain=_domain_of(sender))
    if reply_to:
        message["Reply-To"] = header_text(reply_to, 400)
    if email.list_unsubscribe:
        # RFC 2369 and RFC 8058: mail programs show an unsubscribe button that POSTs here.
        message["List-Unsubscribe"] = f"<{header_text(email.list_unsubscribe, 500)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text_body)
    message.add_alternative(email.html_body, subtype="html")
    return message


def _domain_of(address: str) -> str | None:
    """The domain of the sender's address, for Message-ID (None: this machine's name)."""
    domain = parseaddr(address)[1].rpartition("@")[2]
    return domain if SAFE_FILE_NAME.fullmatch(domain) else None


def file_name(email: OutboxEmail) -> str:
    """``KF-2026-000123-confirmation-7.eml``: by order reference and kind (and the outbox id,
    so a resend sits beside the first rather than over it)."""
    reference = (email.order.reference if email.order else None) or f"order-{email.order_id}"
    name = f"{reference}-{email.kind}-{email.id}"
    return (name if SAFE_FILE_NAME.fullmatch(name) else f"email-{email.id}") + ".eml"


def deliver(message: EmailMessage, name: str | None = None) -> None:
    """Hand one message to the configured mail server, or write it to the mail folder (as
    ``name``, or named by its Message-ID)."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        folder = Path(config["MAIL_FOLDER"])
        folder.mkdir(parents=True, exist_ok=True)
        if name is None:
            name = message["Message-ID"].strip("<>").replace("@", "_").replace("/", "_") + ".eml"
        (folder / name).write_bytes(bytes(message))
        return
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT_SECONDS"]) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)


def send_due(now: datetime | None = None, limit: int = 100) -> SendReport:
    """Send up to ``limit`` emails that are due; commits after each one."""
    report = SendReport()
    for _ in range(limit):
        now_ = now or utcnow()
        email = db.session.scalar(
            select(OutboxEmail)
            .where(
                OutboxEmail.sent_at.is_(None),
                OutboxEmail.failed_at.is_(None),
                OutboxEmail.next_attempt_at <= now_,
            )
            .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # two senders never take the same email
        )
        if email is None:
            break
        email.attempts += 1
        try:
            deliver(
                build_message(email, current_app.config["MAIL_FROM"], current_app.config.get("SELLER_EMAIL")),
                file_name(email),
            )
        except (OSError, smtplib.SMTPException, ValueError) as error:
            email.last_error = f"{type(error).__name__}: {error}"[:2000]
            if email.attempts >= MAX_ATTEMPTS:
                email.failed_at = now_
                report.gave_up += 1
                log.error("Email %s (%s, order %s) failed %s times; giving up: %s", email.id, email.kind, email.order_id, email.attempts, error)
            else:
                email.next_attempt_at = now_ + min(FIRST_RETRY * 2 ** (email.attempts - 1), LONGEST_WAIT)
                report.retrying += 1
                log.warning("Email %s: attempt %s failed (%s); next at %s", email.id, email.attempts, error, email.next_attempt_at)
            db.session.commit()
            continue
        email.sent_at = utcnow()
        email.last_error = None
        db.session.commit()
        report.sent += 1
    return report
