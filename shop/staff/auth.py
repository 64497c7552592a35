"""Staff accounts: Argon2id password hashes (argon2-cffi), sign-in checks and session loading."""

from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app
from sqlalchemy import select

from shop.errors import ShopError
from shop.extensions import db, login_manager
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
    user.session_version += 1  # signs out every existing session
    db.session.flush()


def disable(user: StaffUser) -> None:
    user.active = False
    user.session_version += 1
    db.session.flush()


def authenticate(email: str, password: str) -> StaffUser | None:
    """The active account with this email and password, or None; the caller cannot tell which
    part was wrong, and neither can anyone timing it."""
    user = find_staff(email)
    hashing = _hashing()
    try:
        hashing.hasher.verify(user.password_hash if user else hashing.dummy_hash, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if hashing.hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hashing.hasher.hash(password)
    user.last_login_at = utcnow()
    db.session.flush()
    return user


@login_manager.user_loader
def load_staff(session_id: str) -> StaffUser | None:
    """``'<id>:<session_version>'`` -> the account, if still active and the version still holds."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(StaffUser, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user
