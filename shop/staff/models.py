"""Staff accounts for the order desk: their roles, second factor, sign-ins, one-time links
(invites and resets) and the audit trail of what was done to them."""

from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import Model
from shop.timeutil import utcnow


class StaffUser(UserMixin, Model):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-case
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Two-factor sign-in (shop.staff.totp): the TOTP secret (base32) once enrolled, when, and the
    # last time step whose code was accepted, so no code is accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totp_last_step: Mapped[int | None]

    role_rows: Mapped[list["StaffRole"]] = relationship(
        cascade="all, delete-orphan", order_by="StaffRole.role", lazy="selectin"
    )

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(row.role for row in self.role_rows)

    @property
    def has_password(self) -> bool:
        """False for an invited account whose link has not been used yet, and after a reset."""
        return bool(self.password_hash)

    @property
    def two_factor(self) -> bool:
        return self.totp_enabled_at is not None

    def __repr__(self) -> str:
        return f"<StaffUser {self.email}>"


class StaffSession(Model):
    """One sign-in (shop.staff.sessions). The browser holds a random token; this row holds its
    SHA-256, so a copy of the table opens nothing. A session is live until ``revoked_at`` is set
    (signing out, a new password, disabling, expiry, too many wrong passwords) and only within
    the idle and absolute lifetimes. What a later step of signing in proves (a second factor,
    say) belongs here beside ``password_at``, as a time of its own."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When the password was last typed in this session: at sign-in, and when confirmed again
    # before a large refund (STAFF_REAUTH_*).
    password_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When this session passed the second factor (a TOTP or recovery code, or enrolling one);
    # None: only the two-factor pages are open to it, if the account has or needs one.
    second_factor_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip_address: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[StaffUser] = relationship()

    def __repr__(self) -> str:
        return f"<StaffSession {self.id} of user {self.user_id}>"


class StaffRole(Model):
    """One role of one account (shop.staff.roles.ROLES); an account may have several."""

    __tablename__ = "staff_role"
    __table_args__ = (CheckConstraint("role IN ('admin', 'desk', 'finance', 'catalogue')", name="known_role"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)


class StaffRecoveryCode(Model):
    """A recovery code, for signing in without the authenticator app: only its SHA-256 is kept
    (the codes carry 80 random bits), and each is used once."""

    __tablename__ = "staff_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


INVITE = "invite"
RESET = "reset"


class StaffLink(Model):
    """A one-time link to set a password: an invitation, or a reset. The email holds a random
    token; this row its SHA-256. Usable once, until ``expires_at``."""

    __tablename__ = "staff_link"
    __table_args__ = (CheckConstraint("purpose IN ('invite', 'reset')", name="known_purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[StaffUser] = relationship()


class StaffAudit(Model):
    """Who did what to which staff account: invitations, roles, disabling, resets, second
    factors. ``subject_email`` keeps the account's address as it was."""

    __tablename__ = "staff_audit"
    __table_args__ = (Index("ix_staff_audit_subject_at", "subject_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))  # an email, or "command line"
    action: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    subject_email: Mapped[str] = mapped_column(String(320))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<StaffAudit {self.action} {self.subject_email} by {self.actor}>"
