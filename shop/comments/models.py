"""Reader comments and their history.

A comment's ``number`` (``#123``) is its public name: unique across the whole shop, not per
publication, because the comments imported from the publisher's own site already carry numbers
from one series. New comments continue after the highest number in use (services.post_comment).
Only the highest number can come round again, and only if its comment was rejected or spam and
was purged before any newer comment arrived: a number no reader ever saw.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.catalogue.models import Publication
from shop.extensions import Model
from shop.timeutil import utcnow

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
SPAM = "spam"
STATUSES = (PENDING, APPROVED, REJECTED, SPAM)
STATUS_LABELS = {
    PENDING: "Waiting",
    APPROVED: "Published",
    REJECTED: "Rejected",
    SPAM: "Spam",
}
# Deleted COMMENTS_RETENTION_DAYS after they were moderated (``comments purge``).
NOT_PUBLISHED = (REJECTED, SPAM)


class Comment(Model):
    __tablename__ = "comment"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'spam')", name="status_known"
        ),
        CheckConstraint("number > 0", name="number_positive"),
        # The publication page: its approved comments, oldest first.
        Index("ix_comment_publication_status_posted", "publication_id", "status", "posted_at"),
        # The moderation queue (newest first, by status) and the purge.
        Index("ix_comment_status_posted", "status", "posted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publication.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    name: Mapped[str] = mapped_column(String(100))
    job_title: Mapped[str | None] = mapped_column(String(150))
    organisation: Mapped[str | None] = mapped_column(String(150))
    # For the moderators only, never shown; imported comments have none, erasure removes it.
    email: Mapped[str | None] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text)  # as typed (line ends made LF); escaped when shown
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The last change of status, and by whom: a purge counts its retention from here.
    moderated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    moderated_by: Mapped[str | None] = mapped_column(String(320))
    # Counts changes of what is published (edits, erasure), so a staff edit is written only over
    # the version its editor saw; a change of status leaves an open edit form valid.
    revision: Mapped[int] = mapped_column(default=1)
    # When the moderators were emailed about it (COMMENTS_NOTIFY); None: not yet, or never.
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When its author's details were removed at their request (``comments erase``).
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    publication: Mapped[Publication] = relationship(lazy="raise")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    def __repr__(self) -> str:
        return f"<Comment #{self.number} {self.status}>"


class CommentEvent(Model):
    """One entry in the moderation history: who did what to a comment (or, with no comment, to a
    publication's comments: opened or closed), when, and the values before and after.

    ``before`` and ``after`` hold only what changed. Erasing a person's comments also blanks
    their details here, so the history keeps no copy of what was erased.
    """

    __tablename__ = "comment_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comment.id", ondelete="CASCADE"), index=True
    )
    publication_id: Mapped[int] = mapped_column(
        ForeignKey("publication.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(30))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<CommentEvent {self.action} comment={self.comment_id} by {self.actor}>"
