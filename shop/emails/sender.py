"""Delivering the outbox: over SMTP, or into ``instance/mail/`` as .eml files when no mail server
is configured (development). Each email is claimed, sent and marked in its own transaction; a
failure is retried with exponential back-off, and after ``MAX_ATTEMPTS`` it is left for staff."""

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from shop.emails.models import OutboxEmail
from shop.extensions import db
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=2)


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    gave_up: int = 0


def build_message(email: OutboxEmail, sender: str) -> EmailMessage:
    """A multipart text + HTML message. The email package refuses header values with line
    breaks, so nothing a customer typed can add a header."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = Address(display_name=email.recipient_name or "", addr_spec=email.recipient)
    message["Subject"] = email.subject
    message["Message-ID"] = make_msgid(idstring=f"outbox-{email.id}")
    if email.list_unsubscribe:
        # RFC 2369 and RFC 8058: mail programs show an unsubscribe button that POSTs here.
        message["List-Unsubscribe"] = f"<{email.list_unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text_body)
    message.add_alternative(email.html_body, subtype="html")
    return message


def deliver(message: EmailMessage) -> None:
    """Hand one message to the configured mail server, or write it to the mail folder."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        folder = Path(config["MAIL_FOLDER"])
        folder.mkdir(parents=True, exist_ok=True)
        name = message["Message-ID"].strip("<>").replace("@", "_").replace("/", "_")
        (folder / f"{name}.eml").write_bytes(bytes(message))
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
            deliver(build_message(email, current_app.config["MAIL_FROM"]))
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
