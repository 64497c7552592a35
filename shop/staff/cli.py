"""``flask --app wsgi staff …``: manage staff accounts. One commit per command."""

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from shop.extensions import db
from shop.staff import auth
from shop.staff.models import StaffUser

staff_cli = AppGroup("staff", help="Manage staff accounts.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _account(email: str) -> StaffUser:
    user = auth.find_staff(email)
    if user is None:
        raise click.ClickException(f"No staff account for {auth.normalise_email(email)}.")
    return user


def _min_length() -> int:
    return current_app.config["STAFF_PASSWORD_MIN_LENGTH"]


@staff_cli.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create(email: str, password_stdin: bool) -> None:
    """Create a staff account; asks for the password twice."""
    try:
        user = auth.create_staff(email, _read_password(password_stdin), _min_length())
    except auth.StaffAccountError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Created staff account {user.email}.")


@staff_cli.command("list")
def list_staff() -> None:
    """Print every staff account."""
    for user in db.session.scalars(select(StaffUser).order_by(StaffUser.email)):
        state = "active" if user.active else "disabled"
        last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        click.echo(f"{user.email}\t{state}\tlast sign-in {last}")


@staff_cli.command("disable")
@click.argument("email")
def disable(email: str) -> None:
    """Disable an account and sign out its sessions."""
    auth.disable(_account(email))
    db.session.commit()
    click.echo(f"Disabled {auth.normalise_email(email)}.")


@staff_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password(email: str, password_stdin: bool) -> None:
    """Set a new password (signs out the account's sessions)."""
    user = _account(email)
    try:
        auth.set_password(user, _read_password(password_stdin), _min_length())
    except auth.StaffAccountError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Password changed for {user.email}.")
