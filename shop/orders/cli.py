"""``flask --app wsgi orders …``: one commit per command."""

import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TypeVar

import click
from flask import current_app
from flask.cli import AppGroup

from shop.errors import ShopError
from shop.extensions import db
from shop.money import format_pence
from shop.timeutil import utcnow

orders_cli = AppGroup("orders", help="Inspect and repair orders.")
T = TypeVar("T")


def _commit_or_fail(action: Callable[[], T]) -> T:
    """Run ``action`` and commit; on a ``ShopError`` roll back and exit with its message."""
    try:
        result = action()
    except ShopError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    return result


def _commit_each(changes: Iterator) -> int:
    """Commit after each change a job yields, echoing it; a failure keeps what was committed."""
    done = 0
    try:
        for change in changes:
            db.session.commit()
            # On a terminal, over the progress bar's line (it draws itself again below).
            click.echo(("\r\x1b[K" if sys.stderr.isatty() else "") + str(change))
            done += 1
    except ShopError as error:
        db.session.rollback()
        raise click.ClickException(f"{error.message} ({done} change(s) kept)") from None
    db.session.commit()
    return done


def _duration(text: str) -> timedelta:
    """``7d``, ``12h`` or ``30m``."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise click.BadParameter("use a number and a unit, such as 7d, 12h or 30m")
    return timedelta(**{units[text[-1]]: int(text[:-1])})


@orders_cli.command("list")
@click.option("--limit", default=50, show_default=True, help="How many of the newest orders.")
def list_orders(limit: int) -> None:
    """Print the newest orders, one line each."""
    from shop.orders.services import recent_orders

    orders = recent_orders(limit)
    if not orders:
        click.echo("No orders yet.")
        return
    for order in orders:
        flags = ",".join(order.flags) or "-"
        click.echo(
            f"{order.reference}\t{order.status}\t{flags}\t{order.customer_email or '-'}\t"
            f"{format_pence(order.total_pence)}\t{order.created_at:%Y-%m-%d %H:%M}"
        )


@orders_cli.command("fulfil")
@click.argument("session_id")
def fulfil(session_id: str) -> None:
    """Ask Stripe about a Checkout Session and record what it says (repeat-safe)."""
    from shop.orders.fulfilment import fulfil_checkout
    from shop.payments import gateway

    order = _commit_or_fail(lambda: fulfil_checkout(gateway.retrieve_session(session_id), actor="cli"))
    click.echo(f"{order.reference}\t{order.status}")


@orders_cli.command("reconcile")
@click.option("--since", "since_text", default="7d", show_default=True, help="How far back: 7d, 12h, 30m.")
def reconcile(since_text: str) -> None:
    """Record completed Stripe Checkout Sessions whose orders missed it (paid, processing,
    failed, or without their address), re-check every payment still processing and every
    invoice not yet paid, and send approved invoices Stripe could not be asked for before."""
    from shop.orders.invoicing import InvoiceTerms
    from shop.orders.recovery import Progress, checkouts_since
    from shop.orders.recovery import reconcile as run
    from shop.progress import progress_bar
    from shop.seller import seller_from_config

    since = utcnow() - _duration(since_text)
    progress = Progress()
    # Stripe's list has no total: the checkouts we started since then bound it.
    with progress_bar(checkouts_since(since), "Asking Stripe") as advance:
        progress.advance = advance
        terms = InvoiceTerms.from_config(current_app.config, seller_from_config(current_app.config))
        changed = _commit_each(run(since, progress, terms))
    click.echo(
        f"Looked at {progress.sessions_seen} completed session(s), {progress.processing_checked} "
        f"older payment(s) processing and {progress.invoices_checked} invoice(s) not yet paid; "
        f"changed {changed} order(s)."
    )


@orders_cli.command("expire-stale")
def expire_stale() -> None:
    """Settle pending orders whose checkout should have expired, as Stripe says."""
    from shop.orders.recovery import expire_stale as run

    changed = _commit_each(run(utcnow(), current_app.config["CHECKOUT_EXPIRY_MINUTES"]))
    click.echo(f"Settled {changed} stale order(s).")
