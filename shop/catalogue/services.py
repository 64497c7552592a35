"""Finding publications. Every function takes plain arguments and only reads or flushes."""

import re
from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, and_, or_, select

from shop import isbn as isbns
from shop.catalogue.models import Publication
from shop.errors import InvalidISBN, NotFound
from shop.extensions import db

MAX_SEARCH_WORDS = 8
# Ten or thirteen digits (the last of an ISBN-10 may be X) in any grouping: the query is an ISBN.
ISBN_SHAPE = re.compile(r"^[\d\s-]{9,}[\dXx]$")


@dataclass
class CatalogueSearch:
    query: str
    page: Pagination
    message: str | None = None  # shown above the results, e.g. a wrong check digit


def title_word(word: str):
    """A search word matches the title or the subtitle, in any case."""
    return or_(
        Publication.title.icontains(word, autoescape=True),
        Publication.subtitle.icontains(word, autoescape=True),
    )


def match_query(statement: Select, query: str, word_clause=title_word) -> tuple[Select, str | None]:
    """Narrow ``statement`` to ``query``: an ISBN in any form (exact match; a wrong check digit
    matches nothing and comes back as the message), else every word through ``word_clause``."""
    if ISBN_SHAPE.match(query):
        try:
            return statement.where(Publication.isbn == isbns.normalise(query)), None
        except InvalidISBN as error:
            return statement.where(False), error.message
    if query:
        words = query.split()[:MAX_SEARCH_WORDS]
        statement = statement.where(and_(*(word_clause(word) for word in words)))
    return statement, None


def search_catalogue(query: str, page: int, per_page: int) -> CatalogueSearch:
    """Publications on sale, by title, matching ``query``: an ISBN in any form, or title words."""
    query = (query or "").strip()[:200]
    statement, message = match_query(select(Publication).where(Publication.on_sale.is_(True)), query)
    statement = statement.order_by(Publication.title, Publication.id)
    pagination = db.paginate(statement, page=page, per_page=per_page, error_out=False)
    return CatalogueSearch(query=query, page=pagination, message=message)


def get_by_isbn(isbn13: str) -> Publication:
    """The publication with these 13 digits, on sale or not; ``NotFound`` otherwise."""
    publication = db.session.scalar(select(Publication).filter_by(isbn=isbn13))
    if publication is None:
        raise NotFound(f"We have no publication with ISBN {isbns.hyphenate(isbn13)}.")
    return publication


def publications_by_isbn(isbn_list: list[str]) -> dict[str, Publication]:
    """Load many publications in one query, keyed by ISBN-13."""
    if not isbn_list:
        return {}
    rows = db.session.scalars(select(Publication).where(Publication.isbn.in_(isbn_list)))
    return {publication.isbn: publication for publication in rows}


def public_url(path: str, base_url: str) -> str:
    """An absolute address on the shop's public host (not whatever Host a request carried)."""
    return base_url + path


def book_structured_data(publication: Publication, page_url: str) -> dict:
    """schema.org ``Book`` with its ``Offer``, for search engines (JSON-LD)."""
    if not publication.on_sale:
        availability = "https://schema.org/Discontinued"
    elif publication.in_stock:
        availability = "https://schema.org/InStock"
    else:
        availability = "https://schema.org/OutOfStock"
    data = {
        "@context": "https://schema.org",
        "@type": "Book",
        "@id": page_url,
        "url": page_url,
        "name": publication.title,
        "isbn": publication.isbn,
        "numberOfPages": publication.pages,
        "datePublished": str(publication.year),
        "bookFormat": "https://schema.org/Paperback",
        "inLanguage": "en-GB",
        "publisher": {"@type": "Organization", "name": publication.publisher},
        "offers": {
            "@type": "Offer",
            "url": page_url,
            "price": f"{publication.price_pence // 100}.{publication.price_pence % 100:02d}",
            "priceCurrency": "GBP",
            "availability": availability,
            "itemCondition": "https://schema.org/NewCondition",
        },
    }
    if publication.subtitle:
        data["alternativeHeadline"] = publication.subtitle
    if publication.summary:
        data["description"] = publication.summary
    return data


def sitemap_entries() -> list[tuple[str, object]]:
    """(ISBN, last modified) of every publication on sale, in one narrow query."""
    return list(
        db.session.execute(
            select(Publication.isbn, Publication.updated_at)
            .where(Publication.on_sale.is_(True))
            .order_by(Publication.isbn)
        )
    )
