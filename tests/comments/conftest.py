"""Comment fixtures: a clock the form's signed time reads, a reader who uses the publication
page's form as a browser would (no cookie, no token but the form's own), and comments made
straight in the database."""

import re
import time

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shop.comments import stamp
from shop.comments.models import APPROVED, Comment
from shop.extensions import db as _db
from shop.timeutil import utcnow
from tests.conftest import ISBN
from tests.emails.conftest import smtp  # noqa: F401 (the real SMTP server, for the notify tests)

SHOWN = re.compile(r'name="shown" value="([^"]+)"')
GOOD = {
    "name": "Ada Nurse",
    "job_title": "Practice nurse",
    "organisation": "Leeds PCT",
    "email": "ada.nurse@example.org",
    "text": "A clear report.\n\nThe section on engagement is the one to read first.",
}


class Clock:
    """The time comments.stamp reads: moved by hand, so a test waits without sleeping."""

    def __init__(self, monkeypatch):
        self.now = time.time()
        monkeypatch.setattr(stamp, "clock", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch)


def form_token(page: str) -> str:
    match = SHOWN.search(page)
    assert match, "no comment form on the page"
    return match.group(1)


class Reader:
    """A reader at the publication page: reads it, waits ``wait`` seconds, posts the form."""

    def __init__(self, client: FlaskClient, clock: Clock):
        self.client = client
        self.clock = clock

    def page(self, isbn: str = ISBN):
        return self.client.get(f"/publications/{isbn}")

    def post(self, isbn: str = ISBN, wait: float = 30, headers: dict | None = None, **fields):
        data = {**GOOD, **fields}
        if "shown" not in data:
            data["shown"] = form_token(self.page(isbn).get_data(as_text=True))
        self.clock.advance(wait)
        return self.client.post(f"/publications/{isbn}/comments", data=data, headers=headers or {})


@pytest.fixture
def reader(client, clock) -> Reader:
    return Reader(client, clock)


def make_comment(publication, *, status: str = APPROVED, number: int | None = None, **fields) -> Comment:
    """A comment straight in the database (no form), committed."""
    values = {**GOOD, "posted_at": utcnow(), **fields}
    if number is None:
        number = (_db.session.scalar(select(func.max(Comment.number))) or 0) + 1
    comment = Comment(publication_id=publication.id, number=number, status=status, **values)
    _db.session.add(comment)
    _db.session.commit()
    return comment


def comments_in_db() -> list[Comment]:
    _db.session.expire_all()
    return list(_db.session.scalars(select(Comment).order_by(Comment.number)))
