"""``flask --app wsgi orders …``: one commit per command."""

import click
from flask.cli import AppGroup

from shop.extensions import db

orders_cli = AppGroup("orders", help="Inspect and repair orders.")


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
