"""Notify-me requests: asking, confirming (double opt-in), telling once, unsubscribing, expiry.

Functions take explicit arguments (today, now, the links to put in emails) and flush; the view or
command commits once. Each email goes into the outbox in the transaction that changes the
request it announces, and is keyed in the outbox by the request's id, so it is sent once."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from shop.catalogue.availability import NOTIFY, offer
from shop.catalogue.models import Publication
from shop.emails.models import NOTIFY_AVAILABLE, NOTIFY_CONFIRM
from shop.emails.outbox import queue_message, usable_address
from shop.errors import ShopError
from shop.extensions import db, rows_changed
from shop.notify.models import NotifyRequest

LIFETIME = timedelta(days=365)  # a request lapses a year after it was made


class NotifyError(ShopError):
    pass


class Links(Protocol):
    """Absolute addresses for emails (shop.notify.links builds them from the shop's base URL)."""

    def page(self, isbn: str) -> str: ...
    def confirm(self, request: NotifyRequest) -> str: ...
    def unsubscribe(self, email: str) -> str: ...


def normalise_address(text: str) -> str:
    """The address as stored (trimmed, lower case), or ``NotifyError`` saying what to type."""
    address = (text or "").strip().lower()
    if not usable_address(address):
        raise NotifyError("Enter your email address, such as name@example.org.")
    return address


@dataclass
class Asked:
    publication: Publication
    email_sent: bool  # False when a request was already there (the reader is told the same)


def ask(publication: Publication, address: str, today: date, now: datetime, confirm_days: int,
        links: Links) -> Asked:
    """Record an unconfirmed request and queue the email asking to confirm it. Only a title that
    offers "notify me" today takes requests. A request already there is not made again, and its
    confirmation is not sent again while it can still be confirmed (so the form cannot be used
    to fill someone's inbox); one that lapsed unconfirmed starts afresh."""
    offered = offer(publication, today)
    if offered.action != NOTIFY:
        raise NotifyError(f"“{publication.title}” can be ordered now, or not at all: {offered.note}")
    email = normalise_address(address)
    existing = db.session.scalar(
        select(NotifyRequest).filter_by(publication_id=publication.id, email=email)
    )
    if existing is not None:
        unconfirmed_lapsed = existing.confirmed_at is None and _as_utc(existing.created_at) < now - timedelta(days=confirm_days)
        if not unconfirmed_lapsed and _as_utc(existing.created_at) >= now - LIFETIME:
            return Asked(publication, email_sent=False)
        db.session.delete(existing)
        db.session.flush()
    request = NotifyRequest(publication_id=publication.id, email=email, created_at=now)
    try:
        with db.session.begin_nested():  # two clicks at once: the unique pair keeps one
            db.session.add(request)
    except IntegrityError:
        return Asked(publication, email_sent=False)
    queue_message(
        NOTIFY_CONFIRM,
        email,
        topic=f"request-{request.id}",
        subject=f"Confirm: email me when “{_short(publication.title)}” can be ordered",
        list_unsubscribe=links.unsubscribe(email),
        title=publication.full_title,
        page_url=links.page(publication.isbn),
        confirm_url=links.confirm(request),
        confirm_days=confirm_days,
    )
    return Asked(publication, email_sent=True)


def confirm(request_id: int, now: datetime, today: date, links: Links) -> Publication | None:
    """Confirm the request (from the link in its email); the title, or None when the request is
    gone (unsubscribed, told, lapsed). If the title can already be ordered, it is told at once."""
    request = db.session.get(NotifyRequest, request_id)
    if request is None or _as_utc(request.created_at) < now - LIFETIME:
        return None
    rows_changed(
        update(NotifyRequest)
        .where(NotifyRequest.id == request.id, NotifyRequest.confirmed_at.is_(None))
        .values(confirmed_at=now)
        .execution_options(synchronize_session=False)
    )
    publication = db.session.get(Publication, request.publication_id)
    assert publication is not None  # the request goes with its publication (ON DELETE CASCADE)
    announce(publication, today, now, links)
    return publication


def announce(publication: Publication, today: date, now: datetime, links: Links) -> int:
    """If ``publication`` can be ordered today, queue one "you can order it now" email for each
    confirmed request of the last year and delete those requests, in this transaction; returns
    how many. Each request is deleted by its id before its email is queued, and the email is
    keyed by that id: of two callers at once, only the one whose DELETE removed it sends."""
    offered = offer(publication, today)
    if not offered.can_order:
        return 0
    waiting = db.session.execute(
        select(NotifyRequest.id, NotifyRequest.email).where(
            NotifyRequest.publication_id == publication.id,
            NotifyRequest.confirmed_at.is_not(None),
            NotifyRequest.created_at >= now - LIFETIME,
        ).order_by(NotifyRequest.id)
    ).all()
    told = 0
    for request_id, email in waiting:
        if not rows_changed(delete(NotifyRequest).where(NotifyRequest.id == request_id)):
            continue  # told (or unsubscribed) a moment ago
        queue_message(
            NOTIFY_AVAILABLE,
            email,
            topic=f"request-{request_id}",
            subject=f"“{_short(publication.title)}” can be ordered now",
            list_unsubscribe=links.unsubscribe(email),
            title=publication.full_title,
            offer_note=offered.note,
            page_url=links.page(publication.isbn),
        )
        told += 1
    db.session.flush()
    return told


def announce_all(today: date, now: datetime, links: Links) -> int:
    """``announce`` for every title with confirmed requests (for a scheduled job: it catches
    titles made orderable by an import, or by copies a closed checkout gave back)."""
    ids = db.session.scalars(
        select(NotifyRequest.publication_id)
        .where(NotifyRequest.confirmed_at.is_not(None))
        .distinct()
    ).all()
    told = 0
    for publication_id in ids:
        publication = db.session.get(Publication, publication_id)
        if publication is not None:
            told += announce(publication, today, now, links)
    return told


def unsubscribe(address: str) -> int:
    """Delete every request of this address (one click, from any of our emails); how many."""
    deleted = rows_changed(delete(NotifyRequest).where(NotifyRequest.email == address.lower()))
    db.session.flush()
    return deleted


def purge(now: datetime, confirm_days: int) -> int:
    """Delete requests that lapsed: a year old, or never confirmed within ``confirm_days``."""
    deleted = rows_changed(
        delete(NotifyRequest).where(
            or_(
                NotifyRequest.created_at < now - LIFETIME,
                (NotifyRequest.confirmed_at.is_(None))
                & (NotifyRequest.created_at < now - timedelta(days=confirm_days)),
            )
        )
    )
    db.session.flush()
    return deleted


@dataclass
class TitleRequests:
    publication_id: int
    isbn: str
    title: str
    confirmed: int
    unconfirmed: int


def counts_by_title(now: datetime) -> list[TitleRequests]:
    """How many readers wait to be told about each title (the current ones), most first."""
    confirmed = func.count(NotifyRequest.confirmed_at)
    rows = db.session.execute(
        select(
            Publication.id, Publication.isbn, Publication.title, confirmed.label("confirmed"),
            (func.count(NotifyRequest.id) - confirmed).label("unconfirmed"),
        )
        .join(NotifyRequest, NotifyRequest.publication_id == Publication.id)
        .where(NotifyRequest.created_at >= now - LIFETIME)
        .group_by(Publication.id, Publication.isbn, Publication.title)
        .order_by(confirmed.desc(), Publication.title)
    )
    return [TitleRequests(*row) for row in rows]


def count_for(publication: Publication, now: datetime) -> int:
    """Confirmed, current requests for one title."""
    return db.session.scalar(
        select(func.count(NotifyRequest.id)).where(
            NotifyRequest.publication_id == publication.id,
            NotifyRequest.confirmed_at.is_not(None),
            NotifyRequest.created_at >= now - LIFETIME,
        )
    ) or 0


def _short(title: str) -> str:
    return title if len(title) <= 80 else title[:79] + "…"


def _as_utc(moment: datetime) -> datetime:
    from shop.timeutil import as_utc

    return as_utc(moment)
