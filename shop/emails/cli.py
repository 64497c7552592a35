"""``flask --app wsgi outbox …``: deliver queued customer emails."""

import time

import click
from flask.cli import AppGroup

from shop.emails.sender import send_due

outbox_cli = AppGroup("outbox", help="Deliver queued customer emails.")


def _echo(report) -> None:
    if report.sent or report.retrying or report.gave_up:
        click.echo(f"sent {report.sent}, will retry {report.retrying}, gave up on {report.gave_up}")


@outbox_cli.command("send")
def send() -> None:
    """One pass over the due emails (for cron)."""
    report = send_due()
    _echo(report)
    if not (report.sent or report.retrying or report.gave_up):
        click.echo("Nothing to send.")


@outbox_cli.command("run")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between passes.")
@click.option("--passes", default=0, help="Stop after this many passes (0: run until stopped).")
def run(interval: float, passes: int) -> None:
    """Deliver due emails every few seconds until stopped."""
    done = 0
    while True:
        _echo(send_due())
        done += 1
        if passes and done >= passes:
            return
        time.sleep(interval)
