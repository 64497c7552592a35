"""The pending checkout kept in the session cookie (and the browser's id for checkouts): the
Stripe Checkout Session this browser was sent to, so that coming back (paid, or by the "back" link) can be matched to it. This module
is its one owner; the basket knows nothing of it."""

import secrets

from flask import session

from shop.basket.cookie import empty_basket

KEY = "pending_checkout"
BROWSER_KEY = "checkout_browser"
INVOICE_KEY = "invoice_order"  # the order this browser last placed by invoice


def browser_id() -> str:
    """A random id for this browser's session, made at its first checkout: the basket that
    unpaid checkouts are counted against (shop.orders.holds)."""
    value = session.get(BROWSER_KEY)
    if not isinstance(value, str):
        value = session[BROWSER_KEY] = secrets.token_urlsafe(16)
    return value


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


def remember_invoice_order(order_id: int) -> None:
    """An order placed by invoice: its basket is done with, and its confirmation page is this
    browser's to see."""
    empty_basket()
    session[INVOICE_KEY] = order_id


def invoice_order() -> int | None:
    value = session.get(INVOICE_KEY)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
