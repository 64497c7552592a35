"""Copies that unpaid checkouts hold, capped per title for each client address and each basket.

Every checkout reserves its copies for up to half an hour while the buyer is at Stripe, so a
client that keeps checking out without paying could hold a title's whole stock. The invariant:
an order is placed only if, counting it, the copies of each of its titles in unpaid orders
(``status.UNPAID_HOLDS``) from the same client address, and from the same basket (a random id
in the browser's session), are each at most the cap (CHECKOUT_HOLD_LIMIT).

Orders paid by invoice hold their copies until the invoice is paid or closed: weeks, not half an
hour, and organisations order in larger numbers. They are counted apart, by the same rule with
their own statuses (``status.INVOICE_HOLDS``) and their own cap (INVOICE_HOLD_LIMIT): a card
checkout is never refused because its office has invoices open, nor the other way round.

The count runs after the order's INSERT, under a lock per holder: PostgreSQL advisory
transaction locks, SQLite's database write lock (which the INSERT took), held until the order
is committed. So simultaneous checkouts from one holder are counted one after another, never
both against the same total. Addresses and basket ids are stored as keyed hashes
(``holder_key``), never as they are.
"""

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from sqlalchemy import func, select, text

from shop.errors import CheckoutError
from shop.extensions import db
from shop.orders.models import Order, OrderLine
from shop.orders.status import INVOICE_HOLDS, UNPAID_HOLDS


@dataclass(frozen=True)
class Holder:
    """Who a checkout is for, as keyed hashes; None where unknown."""

    address: str | None
    basket: str | None


def network_of(address: str | None) -> str | None:
    """The part of a client address one holder controls: an IPv4 address itself, an IPv6
    address's /64 (a home or office gets a whole /64, and can use any address in it)."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def holder_key(secret: str, kind: str, value: str | None) -> str | None:
    """A 128-bit HMAC-SHA256 of ``value`` under ``secret``: equal for equal values, and not the
    address itself. (Pseudonymous, not anonymous: with the secret, IPv4's 2**32 addresses can
    be tried one by one.)"""
    if not value:
        return None
    digest = hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def _lock(keys: list[str]) -> None:
    if db.session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the order's INSERT already holds the one write lock
    for key in sorted(keys):  # one order for every caller, so two cannot deadlock
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": int.from_bytes(bytes.fromhex(key[:16]), "big", signed=True)},
        )


def check(order: Order, holder: Holder, limit: int, by_invoice: bool = False) -> None:
    """Raise ``CheckoutError`` if ``order`` (flushed, not committed) takes its holder over
    ``limit`` copies of any title in unpaid checkouts (``by_invoice``: in unpaid invoice
    orders). Call it after the order's INSERT."""
    columns = {"address": Order.checkout_address, "basket": Order.checkout_basket}
    keys = {name: getattr(holder, name) for name in columns if getattr(holder, name)}
    _lock(list(keys.values()))
    titles = {line.publication_id: line.title for line in order.lines}
    for name, key in keys.items():
        held = db.session.execute(
            select(OrderLine.publication_id, func.sum(OrderLine.quantity))
            .join(Order, Order.id == OrderLine.order_id)
            .where(
                Order.status.in_(INVOICE_HOLDS if by_invoice else UNPAID_HOLDS),
                columns[name] == key,
                OrderLine.publication_id.in_(list(titles)),
            )
            .group_by(OrderLine.publication_id)
        ).all()
        for publication_id, copies in held:
            if copies > limit:
                before = copies - sum(
                    line.quantity for line in order.lines if line.publication_id == publication_id
                )
                where = "from this address" if name == "address" else "from this browser"
                if by_invoice:
                    raise CheckoutError(
                        f"Invoices not yet paid {where} already hold {before} copies of "
                        f"“{titles[publication_id]}”, and at most {limit} can be held at once. "
                        "Please write to us about a larger order."
                    )
                raise CheckoutError(
                    f"You already have {before} copies of “{titles[publication_id]}” waiting in "
                    f"unpaid checkouts {where}, and at most {limit} can be held at once. Finish "
                    "paying for those, or wait for them to lapse (within half an hour), and try "
                    "again."
                )
