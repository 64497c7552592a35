"""When the comment form was shown, signed into the form itself: no session, so no cookie.

A person takes a while to write a comment; a spam robot posts the moment it has the page. The
form carries a timestamp signed with the app's key (itsdangerous), and a post whose timestamp is
younger than ``COMMENTS_MIN_SECONDS`` is refused, as is one older than
``COMMENTS_FORM_MAX_AGE_HOURS`` (a form copied once and replayed for ever) or one not signed by us.

The publication page is one cached page for every reader (shop.web.pagecache), and a timestamp
baked into it would be the moment it was rendered, perhaps hours before this reader arrived: a
robot posting at once would pass. So the page carries a hole (``page_hole``), and the page cache
fills it with ``issue()`` on every response, cached or not: the timestamp is always the moment
this reader was sent the form. Signing costs a few microseconds.
"""

import time

from flask import Flask, current_app, has_request_context, request
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from shop.errors import ShopError
from shop.web import pagecache

HOLE = "comment-form-shown"
SALT = "comment-form-shown"
EXTENSION = "shop.comment_form_stamp"


def clock() -> float:
    """Seconds since the epoch; tests replace it to move time."""
    return time.time()


class _Signer(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(clock())


class StampRefused(ShopError):
    """A post whose form timestamp does not pass; the message says what the reader can do."""


class TooFast(StampRefused):
    pass


class FormExpired(StampRefused):
    pass


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = _Signer(app.config["SECRET_KEY"], salt=SALT)
    pagecache.register_hole(app, HOLE, issue)


def _signer() -> TimestampSigner:
    return current_app.extensions[EXTENSION]


def _page_isbn() -> str:
    """The publication whose page (or comment form) is being sent: the ISBN in its address."""
    raw = (request.view_args or {}).get("isbn_text", "") if has_request_context() else ""
    return "".join(ch for ch in str(raw) if ch.isdigit() or ch in "Xx")[:13]


def issue(isbn: str | None = None) -> str:
    """A token naming this moment and the publication (``isbn``, else the page's own), for a
    form being sent now: a token fetched from one title's page posts to no other."""
    return _signer().sign(isbn if isbn is not None else _page_isbn()).decode()


def check(token: str | None, isbn: str, min_seconds: int, max_hours: int) -> None:
    """Raise ``TooFast``, ``FormExpired`` or ``StampRefused`` unless ``token`` was issued for
    ``isbn`` at least ``min_seconds`` and at most ``max_hours`` ago."""
    try:
        value, signed_at = _signer().unsign(
            token or "", max_age=max_hours * 3600, return_timestamp=True
        )
        if value.decode() != isbn:
            raise BadSignature("issued for another publication")
    except SignatureExpired:
        raise FormExpired(
            "This form was opened too long ago to send. Your comment is below: please check it "
            "and send it again."
        ) from None
    except BadSignature:
        raise StampRefused(
            "We could not tell when this form was opened. Your comment is below: please send it "
            "again from this page."
        ) from None
    if clock() - signed_at.timestamp() < min_seconds:
        raise TooFast(
            "That was sent a moment after the form was opened, as robots do. Your comment is "
            "below: please check it and send it again."
        )
