"""``flask --app wsgi staff …``: manage staff accounts. One commit per command."""

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from shop.extensions import db
from shop.staff import auth, roles, totp
from shop.staff.accounts import services
from shop.staff.models import StaffUser
from shop.timeutil import utcnow

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


def _warn_if_no_admin() -> None:
    """The desk cannot leave the shop without an admin; the command line can, and says so."""
    if services.active_admins() == 0:
        click.echo("No active admin is left: nobody can manage staff accounts on the desk. "
                   "Make one with: flask --app wsgi staff roles EMAIL admin", err=True)


def _roles(names) -> frozenset[str]:
    try:
        return roles.parse(names)
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@staff_cli.command("create")
@click.argument("email")
@click.option("--role", "role_names", multiple=True, metavar="ROLE",
              help=f"A role to give ({', '.join(roles.ROLES)}); repeat for several.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create(email: str, role_names: tuple[str, ...], password_stdin: bool) -> None:
    """Create a staff account; asks for the password twice."""
    wanted = _roles(role_names)
    try:
        user = services.create(email, _read_password(password_stdin), wanted, _min_length(), None, utcnow())
    except auth.StaffAccountError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    held = ", ".join(roles.ordered(user.roles)) or "none"
    click.echo(f"Created staff account {user.email} (roles: {held}).")
    if not wanted:
        click.echo(f"It can use no page until it has a role: flask --app wsgi staff roles {user.email} desk")


@staff_cli.command("roles")
@click.argument("email")
@click.argument("role_names", nargs=-1, metavar="[ROLE]...")
def set_roles(email: str, role_names: tuple[str, ...]) -> None:
    """Give an account exactly these roles (admin, desk, finance, catalogue); with none named,
    print its roles."""
    user = _account(email)
    if role_names:
        services.set_roles(user, _roles(role_names), None, utcnow(), last_admin_ok=True)
        db.session.commit()
        _warn_if_no_admin()
    click.echo(f"{user.email}\t{' '.join(roles.ordered(user.roles)) or '(no roles)'}")


@staff_cli.command("list")
def list_staff() -> None:
    """Print every staff account, its roles and whether it uses two-factor sign-in."""
    for user in db.session.scalars(select(StaffUser).order_by(StaffUser.email)):
        state = "active" if user.active else "disabled"
        if user.active and not user.has_password:
            state = "invited"
        last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        held = ",".join(roles.ordered(user.roles)) or "-"
        click.echo(f"{user.email}\t{state}\t{held}\t2fa {'on' if user.two_factor else 'off'}\tlast sign-in {last}")


@staff_cli.command("disable")
@click.argument("email")
def disable(email: str) -> None:
    """Disable an account and sign out its sessions."""
    try:
        services.disable(_account(email), None, utcnow(), last_admin_ok=True)
    except auth.StaffAccountError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Disabled {auth.normalise_email(email)}.")
    _warn_if_no_admin()


@staff_cli.command("two-factor-off")
@click.argument("email")
def two_factor_off(email: str) -> None:
    """Turn off an account's two-factor sign-in (a lost phone and lost recovery codes); if its
    roles need it, it is set up again at the next sign-in."""
    user = _account(email)
    totp.turn_off(user)
    services.audit(None, "two_factor_off", user, utcnow())
    db.session.commit()
    click.echo(f"Two-factor sign-in is off for {user.email}.")


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
    services.audit(None, "password_set", user, utcnow())
    db.session.commit()
    click.echo(f"Password changed for {user.email}.")
