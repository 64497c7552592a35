"""``flask --app wsgi notify …``: scheduled jobs for notify-me requests. One commit per command."""

import click
from flask import current_app
from flask.cli import AppGroup

from shop.extensions import db
from shop.timeutil import local_today, utcnow

notify_cli = AppGroup("notify", help="Notify-me requests: tell readers, and forget lapsed requests.")


@notify_cli.command("announce")
def announce() -> None:
    """Email everyone waiting for a title that can now be ordered, once, and delete their
    requests (staff catalogue changes do this at once; this catches imports and the like)."""
    from shop.notify.links import shop_links
    from shop.notify.services import announce_all

    with current_app.test_request_context():  # to build the links in the emails
        told = announce_all(local_today(), utcnow(), shop_links())
        db.session.commit()
    click.echo(f"Told {told} reader(s) that a title can be ordered.")


@notify_cli.command("purge")
def purge() -> None:
    """Delete requests a year old, and those never confirmed in NOTIFY_CONFIRM_DAYS."""
    from shop.notify.services import purge as run

    deleted = run(utcnow(), current_app.config["NOTIFY_CONFIRM_DAYS"])
    db.session.commit()
    click.echo(f"Deleted {deleted} lapsed request(s).")
