"""The pending checkout kept in the session cookie: the Stripe Checkout Session this browser
was sent to, so that coming back (paid, or by the "back" link) can be matched to it. This module
is its one owner; the basket knows nothing of it."""

from flask import session

from shop.basket.cookie import empty_basket

KEY = "pending_checkout"


def remember(session_id: str) -> None:
    session[KEY] = session_id


def pending() -> str | None:
    value = session.get(KEY)
    return value if isinstance(value, str) else None


def is_pending(session_id: str) -> bool:
    return pending() == session_id


def forget() -> None:
    session.pop(KEY, None)


def paid() -> None:
    """The pending checkout was paid: the basket it bought is done with."""
    empty_basket()
    forget()
