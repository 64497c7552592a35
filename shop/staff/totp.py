"""Two-factor sign-in: TOTP codes from an authenticator app (RFC 6238 through pyotp: 6 digits,
30-second steps), the QR code that enrols one, and recovery codes.

A code is accepted for its own step and the one either side (a phone's clock a little out),
and only for a step later than the last one accepted for the account: the compare-and-set on
``staff_user.totp_last_step`` makes a code, or any older one, unusable once it has been used,
even by two requests at once. Recovery codes carry 80 random bits; only their SHA-256 is kept,
and each is used once (a conditional UPDATE too). Every function takes ``now``: the clock is the
caller's.
"""

import base64
import hashlib
import hmac
import io
import re
import secrets
from datetime import datetime

import pyotp
import qrcode
import qrcode.image.svg
from sqlalchemy import delete, select, update

from shop.errors import ShopError
from shop.extensions import db, rows_changed
from shop.staff.models import StaffRecoveryCode, StaffUser

DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1  # a code of the previous or next step is accepted too
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I to misread
RECOVERY_LENGTH = 16  # 16 × 5 bits = 80 bits


class TwoFactorError(ShopError):
    pass


def new_secret() -> str:
    """A fresh TOTP secret: 160 random bits, base32 (what authenticator apps take)."""
    return pyotp.random_base32(length=32)


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)


def provisioning_uri(secret: str, email: str, issuer: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return _totp(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_data_url(uri: str) -> str:
    """The QR code of ``uri`` as an SVG ``data:`` URL, for an ``<img>`` (the CSP allows data:
    images; no script, no inline SVG to escape)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _digits(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "")


def is_totp_shaped(code: str) -> bool:
    return bool(re.fullmatch(rf"\d{{{DIGITS}}}", _digits(code)))


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is, within DRIFT_STEPS of ``now``; None if none."""
    code = _digits(code)
    if not is_totp_shaped(code):
        return None
    totp = _totp(secret)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def use_code(user: StaffUser, code: str, now: datetime) -> bool:
    """Whether ``code`` is the account's current code and was not used before (nor a later
    one). Records its step when it is. Flushes."""
    if not user.totp_secret:
        return False
    step = matching_step(user.totp_secret, code, now)
    if step is None:
        return False
    claimed = rows_changed(
        update(StaffUser)
        .where(
            StaffUser.id == user.id,
            (StaffUser.totp_last_step.is_(None)) | (StaffUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(user)
    return claimed == 1


def enrol(user: StaffUser, secret: str, code: str, now: datetime) -> list[str]:
    """Turn on two-factor sign-in with ``secret`` once ``code`` shows the app has it; returns
    the new recovery codes (to show once). Flushes."""
    if user.two_factor:
        raise TwoFactorError("Two-factor sign-in is already on for this account.")
    step = matching_step(secret, code, now)
    if step is None:
        raise TwoFactorError(
            "That code did not match. Check the phone's clock is right, and type the code the app "
            "shows now."
        )
    user.totp_secret = secret
    user.totp_enabled_at = now
    user.totp_last_step = step
    db.session.flush()
    return new_recovery_codes(user, now)


def turn_off(user: StaffUser) -> None:
    """Forget the account's TOTP secret and recovery codes. Flushes."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.user_id == user.id))
    db.session.flush()


# --- recovery codes ---------------------------------------------------------------------------

def _normalise_recovery(code: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", (code or "").upper())


def _hash(code: str) -> str:
    return hashlib.sha256(_normalise_recovery(code).encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, RECOVERY_LENGTH, 4))


def new_recovery_codes(user: StaffUser, now: datetime) -> list[str]:
    """Replace the account's recovery codes with RECOVERY_CODES new ones; returns them (they
    are shown once and never kept). Flushes."""
    db.session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    db.session.add_all(
        StaffRecoveryCode(user_id=user.id, code_hash=_hash(code), created_at=now) for code in codes
    )
    db.session.flush()
    return codes


def use_recovery_code(user: StaffUser, code: str, now: datetime) -> bool:
    """Whether ``code`` is one of the account's unused recovery codes; it is used up. Flushes."""
    normalised = _normalise_recovery(code)
    if len(normalised) != RECOVERY_LENGTH:
        return False
    return rows_changed(
        update(StaffRecoveryCode)
        .where(
            StaffRecoveryCode.user_id == user.id,
            StaffRecoveryCode.code_hash == _hash(normalised),
            StaffRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ) == 1


def recovery_codes_left(user: StaffUser) -> int:
    return len(db.session.scalars(
        select(StaffRecoveryCode.id).where(
            StaffRecoveryCode.user_id == user.id, StaffRecoveryCode.used_at.is_(None)
        )
    ).all())
