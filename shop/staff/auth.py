"""Staff accounts: Argon2id password hashes (argon2-cffi), sign-in checks, and loading the
signed-in account from its session record (shop.staff.sessions) for Flask-Login."""

from datetime import timedelta
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, Request, current_app, g
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


SESSION = "staff_session"  # flask.g: the live StaffSession of this request, once loaded
ENDED = "staff_session_ended"  # flask.g: why this request's session just ended (idle, expired)


@login_manager.request_loader
def load_staff(request: Request) -> StaffUser | None:
    """The account whose live session the staff cookie names (``sessions.find``), or None.
    Nothing but that cookie signs anyone in: the basket's session cookie plays no part."""
    config = current_app.config
    now = utcnow()
    record, ended = sessions.find(
        request.cookies.get(config["STAFF_SESSION_COOKIE_NAME"]), now,
        idle=timedelta(minutes=config["STAFF_IDLE_MINUTES"]),
        lifetime=timedelta(hours=config["STAFF_SESSION_HOURS"]),
    )
    setattr(g, ENDED, ended)
    if ended is not None or (record is not None and sessions.touch(record, now)):
        db.session.commit()  # its own small write, whatever the page does next
    if record is None:
        return None
    setattr(g, SESSION, record)
    return record.user
