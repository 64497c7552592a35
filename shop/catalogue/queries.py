"""Looking publications up by ISBN. Reads only."""

from sqlalchemy import bindparam, select

from shop import isbn as isbns
from shop.catalogue.models import Publication
from shop.errors import NotFound
from shop.extensions import db

_BY_ISBN = select(Publication).where(Publication.isbn == bindparam("isbn13"))  # built once


def get_by_isbn(isbn13: str) -> Publication:
    """The publication with these 13 digits, on sale or not; ``NotFound`` otherwise."""
    publication = db.session.scalar(_BY_ISBN, {"isbn13": isbn13})
    if publication is None:
        raise NotFound(f"We have no publication with ISBN {isbns.hyphenate(isbn13)}.")
    return publication


def publications_by_isbn(isbn_list: list[str]) -> dict[str, Publication]:
    """Load many publications in one query, keyed by ISBN-13."""
    if not isbn_list:
        return {}
    rows = db.session.scalars(select(Publication).where(Publication.isbn.in_(isbn_list)))
    return {publication.isbn: publication for publication in rows}
