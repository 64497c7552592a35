"""Reading comments: the publication page's, the moderation queue, one comment and its history,
and the dashboard's count of those waiting. Reads only."""

from dataclasses import dataclass
from datetime import datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload

from shop.catalogue.models import Publication
from shop.comments.models import APPROVED, PENDING, STATUSES, Comment, CommentEvent
from shop.errors import NotFound
from shop.extensions import db
from shop.prepared import PREPARE

# What the publication page shows of each comment: plain rows, in one statement built once and
# prepared on PostgreSQL (shop.prepared).
_c = Comment.__table__.c
_PUBLISHED = (
    select(_c.number, _c.name, _c.job_title, _c.organisation, _c.posted_at, _c.text)
    .where(_c.publication_id == bindparam("publication_id"), _c.status == APPROVED)
    .order_by(_c.posted_at, _c.number)
    .execution_options(**PREPARE)
)
# Queue filters: a status, or every comment.
QUEUE_FILTERS = {PENDING: "Waiting", APPROVED: "Published", "rejected": "Rejected", "spam": "Spam", "all": "All"}
HISTORY_LIMIT = 200


def published(publication_id: int) -> list:
    """The publication's approved comments, oldest first: rows of number, name, job_title,
    organisation, posted_at, text. One statement, however many there are."""
    return list(db.session.execute(_PUBLISHED, {"publication_id": publication_id}))


def queue(status: str, page: int, per_page: int, publication_id: int | None = None) -> Pagination:
    """Comments with ``status`` (or all), newest first, each with its publication loaded; two
    statements (the page and its count)."""
    statement = select(Comment).options(joinedload(Comment.publication))
    if status in STATUSES:
        statement = statement.where(Comment.status == status)
    if publication_id is not None:
        statement = statement.where(Comment.publication_id == publication_id)
    statement = statement.order_by(Comment.posted_at.desc(), Comment.id.desc())
    return db.paginate(statement, page=page, per_page=per_page, error_out=False)


def by_number(number: int) -> Comment:
    comment = db.session.scalar(
        select(Comment).options(joinedload(Comment.publication)).where(Comment.number == number)
    )
    if comment is None:
        raise NotFound(f"There is no comment #{number}: it may have been purged.")
    return comment


def history(comment_id: int) -> list[CommentEvent]:
    """The comment's events, newest first."""
    return list(
        db.session.scalars(
            select(CommentEvent)
            .where(CommentEvent.comment_id == comment_id)
            .order_by(CommentEvent.at.desc(), CommentEvent.id.desc())
            .limit(HISTORY_LIMIT)
        )
    )


def publication_history(publication_id: int) -> list[CommentEvent]:
    """When the publication's comments were opened and closed, and by whom, newest first."""
    return list(
        db.session.scalars(
            select(CommentEvent)
            .where(CommentEvent.publication_id == publication_id, CommentEvent.comment_id.is_(None))
            .order_by(CommentEvent.at.desc(), CommentEvent.id.desc())
            .limit(HISTORY_LIMIT)
        )
    )


@dataclass
class Waiting:
    """For the dashboard: comments waiting for moderation, the oldest's posting time, and the
    publications with the most waiting (title, ISBN, count)."""

    count: int
    oldest: datetime | None
    by_publication: list[tuple[str, str, int]]


def waiting(limit: int = 10) -> Waiting:
    """Two statements, whatever the number waiting."""
    count, oldest = db.session.execute(
        select(func.count(Comment.id), func.min(Comment.posted_at)).where(Comment.status == PENDING)
    ).one()
    by_publication = []
    if count:
        by_publication = [
            (title, isbn, int(n))
            for title, isbn, n in db.session.execute(
                select(Publication.title, Publication.isbn, func.count(Comment.id))
                .join(Comment, Comment.publication_id == Publication.id)
                .where(Comment.status == PENDING)
                .group_by(Publication.id, Publication.title, Publication.isbn)
                .order_by(func.count(Comment.id).desc(), Publication.title)
                .limit(limit)
            )
        ]
    return Waiting(int(count or 0), oldest, by_publication)
