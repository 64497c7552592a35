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
from datetime import datetime, timedelta

from flask import Flask, Response
from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import joinedload

from shop.extensions import db, rows_changed
from shop.staff.models import StaffSession, StaffUser
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


@functools.cache
def _by_token_hash() -> Select:
    """Built once, on first use (at import it would configure the mappers before every model is
    imported): every staff page runs it. The account and its roles come in the same query."""
    return (
        select(StaffSession).where(StaffSession.token_hash == bindparam("token_hash"))
        .options(joinedload(StaffSession.user).joinedload(StaffUser.role_rows))
    )


def find(token: str | None, now: datetime, idle: timedelta, lifetime: timedelta) -> tuple[StaffSession | None, str | None]:
    """The live session the token names, or None and why it ended (``IDLE``, ``EXPIRED``, or
    None when there is nothing to say). A session found idle or expired is revoked (flushed)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None, None
    record = db.session.execute(_by_token_hash(), {"token_hash": _hash(token)}).unique().scalar_one_or_none()
    if record is None or record.revoked_at is not None or not record.user.active:
        return None, None
    if now - as_utc(record.created_at) > lifetime:
        revoke(record, EXPIRED, now)
        return None, EXPIRED
    if now - as_utc(record.last_seen_at) > idle:
        revoke(record, IDLE, now)
        return None, IDLE
    return record, None


def touch(record: StaffSession, now: datetime) -> bool:
    """Note that the session was used now, if the last note is over a minute old (so a busy
    session writes once a minute, not on every page). Returns whether it wrote. Flushes."""
    if now - as_utc(record.last_seen_at) < SEEN_PRECISION:
        return False
    record.last_seen_at = now
    db.session.flush()
    return True


def is_fresh(record: StaffSession, now: datetime, within: timedelta) -> bool:
    """Whether the password was typed in this session less than ``within`` ago."""
    return now - as_utc(record.password_at) <= within


def password_confirmed(record: StaffSession, now: datetime) -> None:
    record.password_at = now
    db.session.flush()


def second_factor_passed(record: StaffSession, now: datetime) -> None:
    """The session has given a second factor (or enrolled one): the desk opens. Flushes."""
    record.second_factor_at = now
    db.session.flush()


def revoke(record: StaffSession, reason: str, now: datetime) -> None:
    """End one session (if it is still live). Flushes."""
    rows_changed(
        update(StaffSession)
        .where(StaffSession.id == record.id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(record)


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
