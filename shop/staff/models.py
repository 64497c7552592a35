"""Staff accounts for the order desk, and their sign-ins."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import DateTime, ForeignKey, String
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

    @property
    def is_active(self) -> bool:
        return self.active

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
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip_address: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[StaffUser] = relationship()

    def __repr__(self) -> str:
        return f"<StaffSession {self.id} of user {self.user_id}>"
