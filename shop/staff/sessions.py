"""Staff sign-ins: a record per session in the database, and the cookie that names it.

The browser holds a random 256-bit token in a cookie of its own (STAFF_SESSION_COOKIE_NAME),
apart from the session cookie that holds the basket: path ``/staff``, HttpOnly, SameSite=Lax,
Secure whenever the shop's cookies are, and no expiry date, so it ends when the browser closes
and a basket can never make it last. The ``staff_session`` row holds the token's SHA-256, the
account, when the session began, was last used, and last had the password typed.

A session is live while it is not revoked, began less than STAFF_SESSION_HOURS ago, was used
less than STAFF_IDLE_MINUTES ago, and its account is active. Signing out revokes its row; a new
password or disabling the account revokes all of the account's rows; a row found expired or idle
is revoked as it is found. Every server reads the same table, so a session works whichever
server answers, and ends everywhere at once.
"""

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, Response
from flask_login import UserMixin
from sqlalchemy import Select, bindparam, select, update

from shop.extensions import db, rows_changed
from shop.prepared import PREPARE
from shop.staff.models import StaffRole, StaffSession, StaffUser
from shop.timeutil import as_utc

MAX_TOKEN_LENGTH = 100
SEEN_PRECISION = timedelta(minutes=1)  # last_seen_at is rewritten at most this often

SIGNED_OUT = "signed out"
PASSWORD_CHANGED = "password changed"
DISABLED = "account disabled"
EXPIRED = "expired"
IDLE = "idle"
TOO_MANY_PASSWORDS = "too many wrong passwords"
TOO_MANY_CODES = "too many wrong codes"
RESET = "account reset"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: StaffUser, user_agent: str | None, ip_address: str | None, now: datetime) -> str:
    """Record a new session for ``user`` (who has just given the password); returns the token
    for the cookie. Flushes."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        StaffSession(
            token_hash=_hash(token), user_id=user.id, created_at=now, last_seen_at=now,
            password_at=now, user_agent=(user_agent or "")[:300] or None,
            ip_address=(ip_address or "")[:45] or None,
        )
    )
    db.session.flush()
    return token


@dataclass(frozen=True, eq=False)
class SignedIn(UserMixin):
    """The signed-in member of staff as this request found them (``current_user`` on staff
    pages): plain values of their live session, their account and its roles, read in one
    statement, not ORM objects. Every staff page asks for them; building three ORM objects and
    their relationship for it took twice the CPU. A page that changes the account or the session
    loads the account itself (``shop.staff.auth.account``) and changes the session by its id."""

    id: int  # the account's (Flask-Login's ``get_id``)
    email: str
    roles: frozenset[str]
    two_factor: bool  # the account has two-factor sign-in on
    session_id: int
    created_at: datetime
    last_seen_at: datetime
    password_at: datetime  # when the password was last typed in this session
    second_factor_at: datetime | None  # when this session gave its second factor


@functools.cache
def _by_token_hash() -> Select:
    """Built once, on first use: every staff page runs it. One row per role (at least one row:
    an account may have none), only the columns a page needs."""
    return (
        select(
            StaffSession.id, StaffSession.user_id, StaffSession.created_at, StaffSession.last_seen_at,
            StaffSession.password_at, StaffSession.second_factor_at, StaffSession.revoked_at,
            StaffUser.email, StaffUser.active, StaffUser.totp_enabled_at, StaffRole.role,
        )
        .join_from(StaffSession, StaffUser, StaffUser.id == StaffSession.user_id)
        .outerjoin(StaffRole, StaffRole.user_id == StaffUser.id)
        .where(StaffSession.token_hash == bindparam("token_hash"))
        .execution_options(**PREPARE)  # PostgreSQL plans it once per connection (shop.prepared)
    )


def find(token: str | None, now: datetime, idle: timedelta, lifetime: timedelta) -> tuple[SignedIn | None, str | None]:
    """Who the token signs in, or None and why their session ended (``IDLE``, ``EXPIRED``, or
    None when there is nothing to say). A session found idle or expired is revoked (flushed)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None, None
    rows = db.session.connection().execute(_by_token_hash(), {"token_hash": _hash(token)}).all()
    if not rows:
        return None, None
    row = rows[0]
    if row.revoked_at is not None or not row.active:
        return None, None
    if now - as_utc(row.created_at) > lifetime:
        revoke(row.id, EXPIRED, now)
        return None, EXPIRED
    if now - as_utc(row.last_seen_at) > idle:
        revoke(row.id, IDLE, now)
        return None, IDLE
    return SignedIn(
        id=row.user_id, email=row.email, roles=frozenset(role_row.role for role_row in rows if role_row.role is not None),
        two_factor=row.totp_enabled_at is not None, session_id=row.id, created_at=row.created_at,
        last_seen_at=row.last_seen_at, password_at=row.password_at, second_factor_at=row.second_factor_at,
    ), None


def touch(signed_in: SignedIn, now: datetime) -> bool:
    """Note that the session was used now, if the last note is over a minute old (so a busy
    session writes once a minute, not on every page). Returns whether it wrote. Flushes."""
    if now - as_utc(signed_in.last_seen_at) < SEEN_PRECISION:
        return False
    _write(signed_in.session_id, last_seen_at=now)
    return True


def is_fresh(signed_in: SignedIn, now: datetime, within: timedelta) -> bool:
    """Whether the password was typed in this session less than ``within`` ago."""
    return now - as_utc(signed_in.password_at) <= within


def _write(session_id: int, **values: object) -> None:
    rows_changed(
        update(StaffSession).where(StaffSession.id == session_id).values(**values)
        .execution_options(synchronize_session=False)
    )


def password_confirmed(session_id: int, now: datetime) -> None:
    """The password was typed again in this session. Flushes."""
    _write(session_id, password_at=now)


def second_factor_passed(session_id: int, now: datetime) -> None:
    """The session has given a second factor (or enrolled one): the desk opens. Flushes."""
    _write(session_id, second_factor_at=now)


def revoke(session_id: int, reason: str, now: datetime) -> None:
    """End one session (if it is still live). Flushes."""
    rows_changed(
        update(StaffSession)
        .where(StaffSession.id == session_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )


def revoke_all(user: StaffUser, reason: str, now: datetime) -> int:
    """End every live session of ``user``; returns how many. Flushes."""
    return rows_changed(
        update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )


def set_cookie(app: Flask, response: Response, token: str) -> None:
    response.set_cookie(
        app.config["STAFF_SESSION_COOKIE_NAME"], token, path="/staff", httponly=True,
        samesite="Lax", secure=app.config["SESSION_COOKIE_SECURE"],
    )


def delete_cookie(app: Flask, response: Response) -> None:
    response.delete_cookie(
        app.config["STAFF_SESSION_COOKIE_NAME"], path="/staff", httponly=True, samesite="Lax",
        secure=app.config["SESSION_COOKIE_SECURE"],
    )
