"""Registers each area's ``flask --app wsgi …`` command group."""

from flask import Flask


def register(app: Flask) -> None:
    from shop.catalogue.cli import catalogue_cli
    from shop.checkout.cli import payments_cli
    from shop.comments.cli import comments_cli
    from shop.emails.cli import outbox_cli
    from shop.notify.cli import notify_cli
    from shop.orders.cli import orders_cli
    from shop.staff.cli import staff_cli

    for group in (catalogue_cli, orders_cli, staff_cli, outbox_cli, payments_cli, comments_cli, notify_cli):
        app.cli.add_command(group)
