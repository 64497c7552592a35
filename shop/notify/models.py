"""A reader's request to be told when a title can be ordered."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import Model
from shop.timeutil import utcnow


class NotifyRequest(Model):
    """An email address and a title: all that is kept. Unconfirmed until the reader follows the
    link emailed to them; deleted when the one "you can order it now" email is queued, when they
    unsubscribe, or when it expires (``notify purge``)."""

    __tablename__ = "notify_request"
    __table_args__ = (
        UniqueConstraint("publication_id", "email", name="uq_notify_request_publication_email"),
        Index("ix_notify_request_email", "email"),
        Index("ix_notify_request_created_at", "created_at"),
        # Ids are never used again (SQLite would reuse a deleted highest id otherwise): each
        # request's emails are keyed by its id in the outbox.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publication.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))  # lower case
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"<NotifyRequest {self.id} publication={self.publication_id}>"
