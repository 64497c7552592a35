"""``flask --app wsgi …`` commands: one commit per command."""

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from shop.catalogue.models import Publication
from shop.extensions import db

catalogue_cli = AppGroup("catalogue", help="Manage the catalogue.")
orders_cli = AppGroup("orders", help="Inspect and repair orders.")

# The first title. Facts from the publication; the summary is our own wording.
SEED = [
    {
        "isbn": "9781857176407",
        "title": "Leadership and engagement for improvement in the NHS",
        "subtitle": "Together we can",
        "publisher": "The King's Fund",
        "year": 2012,
        "pages": 48,
        "price_pence": 850,
        "stock": 200,
        "summary": (
            "The final report of the 2012 review of leadership and management in the NHS. "
            "It considers how leadership, and the engagement of staff and patients, can drive "
            "improvement in NHS care. This is the 48-page print edition of the report."
        ),
        "pdf_url": None,
    }
]


@catalogue_cli.command("seed")
def seed_catalogue() -> None:
    """Load the first publication when the catalogue is empty (safe to run every start)."""
    if db.session.scalar(select(func.count()).select_from(Publication)):
        click.echo("Catalogue already has publications; nothing seeded.")
        return
    db.session.add_all(Publication(**row) for row in SEED)
    db.session.commit()
    click.echo(f"Seeded {len(SEED)} publication(s).")


@orders_cli.command("list")
@click.option("--limit", default=50, show_default=True, help="How many of the newest orders.")
def list_orders(limit: int) -> None:
    """Print the newest orders, one line each."""
    from shop.money import format_pence
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
    """Ask Stripe about a Checkout Session and record its payment (repeat-safe)."""
    from shop.checkout.services import confirm_checkout
    from shop.errors import ShopError

    try:
        order = confirm_checkout(session_id)
    except ShopError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"{order.reference}\t{order.status}")


def register(app: Flask) -> None:
    app.cli.add_command(catalogue_cli)
    app.cli.add_command(orders_cli)
