"""Staff accounts: Argon2id password hashes (argon2-cffi), sign-in checks, and loading the
signed-in account from its session record (shop.staff.sessions) for Flask-Login."""

from dataclasses import replace
from datetime import datetime, timedelta
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, Request, current_app, g
from flask_login import current_user
from sqlalchemy import select

from shop.errors import ShopError
from shop.extensions import db, login_manager
from shop.staff import roles, sessions
from shop.staff.models import StaffUser
from shop.timeutil import utcnow

MAX_EMAIL_LENGTH = 320
HASHER = "shop.password_hasher"


class _Hashing:
    """The app's Argon2id hasher, and a hash of nothing to verify when the email is unknown, so
    a wrong email costs as long as a wrong password."""

    def __init__(self, time_cost: int, memory_cost: int, parallelism: int):
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
        )

    @cached_property
    def dummy_hash(self) -> str:
        return self.hasher.hash("not a real password, only for timing")


def init_app(app: Flask) -> None:
    """Argon2id at the cost config says (ARGON2_*; production uses RFC 9106's low-memory
    profile, the tests a cheap one)."""
    config = app.config
    try:
        roles.parse(config["STAFF_REQUIRE_2FA_ROLES"])
    except ValueError as error:
        raise RuntimeError(f"STAFF_REQUIRE_2FA_ROLES: {error}") from None
    app.extensions[HASHER] = _Hashing(
        config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_KIB"], config["ARGON2_PARALLELISM"]
    )


def _hashing() -> _Hashing:
    return current_app.extensions[HASHER]


class StaffAccountError(ShopError):
    pass


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()[:MAX_EMAIL_LENGTH]


def check_password_rules(password: str, min_length: int) -> None:
    if len(password) < min_length:
        raise StaffAccountError(f"Passwords must have at least {min_length} characters.")
    if len(password) > 1024:
        raise StaffAccountError("Passwords may have at most 1024 characters.")


def find_staff(email: str) -> StaffUser | None:
    return db.session.scalar(select(StaffUser).filter_by(email=normalise_email(email)))


def create_staff(email: str, password: str, min_length: int) -> StaffUser:
    email = normalise_email(email)
    if "@" not in email:
        raise StaffAccountError(f"'{email}' is not an email address.")
    if find_staff(email) is not None:
        raise StaffAccountError(f"A staff account for {email} already exists.")
    check_password_rules(password, min_length)
    user = StaffUser(email=email, password_hash=_hashing().hasher.hash(password))
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: StaffUser, password: str, min_length: int) -> None:
    check_password_rules(password, min_length)
    user.password_hash = _hashing().hasher.hash(password)
    sessions.revoke_all(user, sessions.PASSWORD_CHANGED, utcnow())  # signs out every session
    db.session.flush()


def disable(user: StaffUser) -> None:
    user.active = False
    sessions.revoke_all(user, sessions.DISABLED, utcnow())
    db.session.flush()


def authenticate(email: str, password: str) -> StaffUser | None:
    """The active account with this email and password, or None; the caller cannot tell which
    part was wrong, and neither can anyone timing it."""
    user = find_staff(email)
    hashing = _hashing()
    usable = user is not None and user.has_password  # an invitation not yet taken up has none
    try:
        hashing.hasher.verify(user.password_hash if user and usable else hashing.dummy_hash, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not usable or not user.active:
        return None
    if hashing.hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hashing.hasher.hash(password)
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def password_matches(user: StaffUser, password: str) -> bool:
    """Whether ``password`` is ``user``'s (a signed-in member of staff confirming it)."""
    if not user.has_password:
        return False
    try:
        return _hashing().hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


ENDED = "staff_session_ended"  # flask.g: why this request's session just ended (idle, expired)


@login_manager.request_loader
def load_staff(request: Request) -> sessions.SignedIn | None:
    """Who the staff cookie signs in (``sessions.find``: plain values, not ORM objects), or None.
    Nothing but that cookie signs anyone in: the basket's session cookie plays no part."""
    config = current_app.config
    now = utcnow()
    signed_in, ended = sessions.find(
        request.cookies.get(config["STAFF_SESSION_COOKIE_NAME"]), now,
        idle=timedelta(minutes=config["STAFF_IDLE_MINUTES"]),
        lifetime=timedelta(hours=config["STAFF_SESSION_HOURS"]),
    )
    setattr(g, ENDED, ended)
    if ended is not None or (signed_in is not None and sessions.touch(signed_in, now)):
        db.session.commit()  # its own small write, whatever the page does next
    return signed_in


def signed_in() -> sessions.SignedIn:
    """The signed-in member of staff (behind the staff guard, there always is one)."""
    user = current_user._get_current_object()
    if not isinstance(user, sessions.SignedIn):
        raise RuntimeError("no member of staff is signed in")
    return user


def account() -> StaffUser:
    """The signed-in member of staff's account, as an ORM object, for a page that reads or
    changes more of it than ``SignedIn`` holds (a password, a second factor, the audit)."""
    return db.session.get_one(StaffUser, signed_in().id)


def second_factor_given(now: datetime) -> None:
    """This session has just given (or set up) its second factor: the rest of this request's
    pages (the menu drawn after it) see the desk open, as the next request will."""
    sessions.second_factor_passed(signed_in().session_id, now)
    setattr(g, _LOGIN_USER, replace(signed_in(), second_factor_at=now, two_factor=True))


_LOGIN_USER = "_login_user"  # where Flask-Login keeps the request's user (flask_login.utils)
