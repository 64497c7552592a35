"""Telling the moderators that comments wait (COMMENTS_NOTIFY): one email listing every comment
that waits and has not been announced yet, sent by ``flask --app wsgi comments notify`` (cron,
every few minutes).

Why not the outbox: its emails belong to an order (``order_id`` is required, and its pages and
resend work through the order). Here the pattern is the same, kept in the comment itself: a post
records the comment and, in the same transaction, leaves ``notified_at`` empty; the command sends
and then marks what it announced. A failed send marks nothing, so the next run sends again
(at least once). A wave of posts makes one email, not one each.

The email says which comments wait (number, publication, time) and links to the queue; it
carries no reader's name, address or text, so erasing a person's data never has to reach into
the moderators' mailboxes.
"""

import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select, update

from shop.catalogue.models import Publication
from shop.comments.models import PENDING, Comment
from shop.comments.rules import EMAIL
from shop.emails.sender import deliver
from shop.extensions import db
from shop.timeutil import local

MOST_LISTED = 200


def recipients(setting: str) -> list[str]:
    """The addresses in COMMENTS_NOTIFY (commas or semicolons between them); ``ValueError``
    naming one that is not an address."""
    addresses = [part.strip() for part in re.split(r"[,;]", setting or "") if part.strip()]
    for address in addresses:
        if not EMAIL.match(address) or len(address) > 320:
            raise ValueError(f"COMMENTS_NOTIFY: {address!r} is not an email address.")
    return addresses


def notify_moderators(to: list[str], sender: str, shop_url: str, now: datetime) -> int:
    """Email ``to`` about the comments waiting unannounced, then mark them announced (flushes;
    the caller commits). Returns how many it announced; 0 sends nothing."""
    waiting = db.session.execute(
        select(Comment.id, Comment.number, Comment.posted_at, Publication.title)
        .join(Publication, Publication.id == Comment.publication_id)
        .where(Comment.status == PENDING, Comment.notified_at.is_(None))
        .order_by(Comment.id)
        .limit(MOST_LISTED)
        .with_for_update(of=Comment, skip_locked=True)  # two runs never announce one comment twice
    ).all()
    if not waiting:
        return 0
    count = len(waiting)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = f"{count} reader comment{'s' * (count != 1)} waiting for moderation"
    message["Message-ID"] = make_msgid(idstring="comments-waiting")
    lines = [
        f"#{row.number} on “{row.title}”, posted {local(row.posted_at).strftime('%-d %b %Y %H:%M')}"
        for row in waiting
    ]
    message.set_content(
        f"{'This comment waits' if count == 1 else 'These comments wait'} for moderation:\n\n"
        + "\n".join(lines)
        + f"\n\nModerate them at {shop_url}/staff/comments\n"
    )
    deliver(message)
    db.session.execute(
        update(Comment)
        .where(Comment.id.in_([row.id for row in waiting]))
        .values(notified_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    return count
