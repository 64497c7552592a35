"""Looking publications up by ISBN. Reads only."""

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import make_transient_to_detached

from shop import isbn as isbns
from shop.catalogue.models import Publication
from shop.errors import NotFound
from shop.extensions import db
from shop.prepared import PREPARE

_BY_ISBN = select(Publication).where(Publication.isbn == bindparam("isbn13"))  # built once
_TABLE = Publication.__table__
# Every public publication page runs it: prepared on PostgreSQL (shop.prepared).
_ROW_BY_ISBN = select(_TABLE).where(_TABLE.c.isbn == bindparam("isbn13")).execution_options(**PREPARE)


def get_by_isbn(isbn13: str) -> Publication:
    """The publication with these 13 digits, on sale or not; ``NotFound`` otherwise."""
    publication = db.session.scalar(_BY_ISBN, {"isbn13": isbn13})
    if publication is None:
        raise NotFound(f"We have no publication with ISBN {isbns.hyphenate(isbn13)}.")
    return publication


def row_by_isbn(isbn13: str) -> Row:
    """Every column of the publication with these 13 digits as a plain row, on sale or not;
    ``NotFound`` otherwise. A third cheaper than ``get_by_isbn``'s object (no identity map, no
    instance state): what a page served from the cache needs for its key (shop.web.pagecache)."""
    row = db.session.execute(_ROW_BY_ISBN, {"isbn13": isbn13}).first()
    if row is None:
        raise NotFound(f"We have no publication with ISBN {isbns.hyphenate(isbn13)}.")
    return row


def as_publication(row: Row) -> Publication:
    """``row_by_isbn``'s row as the session's ``Publication``, without asking the database again
    (``merge(load=False)``, SQLAlchemy's way to attach values read earlier)."""
    publication = Publication(**row._mapping)
    make_transient_to_detached(publication)  # as if loaded, and since detached
    return db.session.merge(publication, load=False)


def publications_by_isbn(isbn_list: list[str]) -> dict[str, Publication]:
    """Load many publications in one query, keyed by ISBN-13."""
    if not isbn_list:
        return {}
    rows = db.session.scalars(select(Publication).where(Publication.isbn.in_(isbn_list)))
    return {publication.isbn: publication for publication in rows}
