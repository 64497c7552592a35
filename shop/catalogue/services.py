"""Finding publications. Every function takes plain arguments and only reads or flushes."""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from math import ceil
from threading import Lock

from flask import Flask, current_app, has_app_context
from sqlalchemy import Select, and_, bindparam, event, func, inspect, literal_column, or_, select, text
from sqlalchemy.orm import Session

from shop import isbn as isbns
from shop.catalogue.models import Publication
from shop.errors import InvalidISBN, NotFound
from shop.extensions import db
from shop.textsearch import contains_text

MAX_SEARCH_WORDS = 8
# Ten or thirteen digits (the last of an ISBN-10 may be X) in any grouping: the query is an ISBN.
ISBN_SHAPE = re.compile(r"^[\d\s-]{9,}[\dXx]$")
# SQLite's FTS5 trigram index of titles and subtitles (migration 0008). PostgreSQL answers the
# same ILIKE '%word%' from its pg_trgm indexes instead (migration 0006).
SEARCH_TABLE = "publication_search"
TRIGRAM = 3  # the index cannot answer a word shorter than this: those go through LIKE
COUNTS = "shop.catalogue_counts"
SEARCH_INDEX = "shop.catalogue_search_index"


# What a catalogue card shows: plain Core rows (tuples), not ORM objects, which cost a fifth of
# the page.
_publication = Publication.__table__
CARD_COLUMNS = tuple(
    _publication.c[name]
    for name in ("id", "isbn", "title", "subtitle", "year", "pages", "price_pence", "stock")
)


@dataclass
class CataloguePage:
    """One page of results and the total they were cut from (Flask-SQLAlchemy's Pagination
    API, as the templates use it)."""

    items: list  # rows of CARD_COLUMNS
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return ceil(self.total / self.per_page) if self.total else 0

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None


@dataclass
class CatalogueSearch:
    query: str
    page: CataloguePage
    message: str | None = None  # shown above the results, e.g. a wrong check digit


class CatalogueCounts:
    """Totals of the public catalogue by search, reused for a few seconds.

    Counting 10,000 titles costs more than rendering the page, and a total moves only when staff
    add, withdraw or retitle a publication: this worker forgets its totals when it flushes such
    a change (see ``_forget_counts``); other workers recount within ``seconds``.
    """

    def __init__(self, seconds: int):
        self.seconds = seconds
        self._totals: dict[str, tuple[float, int]] = {}
        self._lock = Lock()

    def get(self, query: str) -> int | None:
        entry = self._totals.get(query)
        if entry is None or time.monotonic() - entry[0] > self.seconds:
            return None
        return entry[1]

    def put(self, query: str, total: int) -> None:
        with self._lock:
            if len(self._totals) > 10_000:  # searches are unbounded; keep the memory bounded
                self._totals.clear()
            self._totals[query] = (time.monotonic(), total)

    def clear(self) -> None:
        with self._lock:
            self._totals.clear()


def init_app(app: Flask) -> None:
    app.extensions[COUNTS] = CatalogueCounts(app.config["CATALOGUE_COUNT_SECONDS"])


@event.listens_for(Session, "after_flush")
def _forget_counts(session, _flush_context) -> None:
    if not has_app_context() or COUNTS not in current_app.extensions:
        return
    if any(isinstance(obj, Publication) for obj in (*session.new, *session.dirty, *session.deleted)):
        current_app.extensions[COUNTS].clear()


def title_word(word: str):
    """A search word matches the title or the subtitle, in any case."""
    return or_(
        contains_text(Publication.title, word),
        contains_text(Publication.subtitle, word),
    )


def is_search_index(kind: str, name: str) -> bool:
    """A database object of the search indexes, which the models do not describe (for
    Alembic's comparison of models and schema)."""
    return (kind == "index" and name.endswith("_trgm")) or (kind == "table" and name.startswith(SEARCH_TABLE))


def _search_index() -> str | None:
    """Which title index this database has: "fts5" (SQLite, migration 0008), "pg_trgm"
    (PostgreSQL, migrations 0006 and 0009) or None."""
    known = current_app.extensions.get(SEARCH_INDEX)
    if known is None:
        engine = db.engine
        if engine.dialect.name == "postgresql":
            known = "pg_trgm"
        elif engine.dialect.name == "sqlite" and inspect(engine).has_table(SEARCH_TABLE):
            known = "fts5"
        else:
            known = ""
        current_app.extensions[SEARCH_INDEX] = known
    return known or None


# Title and subtitle as one text, written exactly as migration 0009's trigram index is, so that
# PostgreSQL answers every word of a search from one index. A word has no space in it, so it
# matches this text exactly when it matches the title or the subtitle.
TITLE_TEXT = Publication.title.concat(literal_column("' '")).concat(
    func.coalesce(Publication.subtitle, literal_column("''"))
)


def title_words(words: list[str]):
    """Every word matches the title or the subtitle, in any case (``title_word`` for each), from
    the trigram index where there is one."""
    index = _search_index()
    if index == "pg_trgm":
        return and_(*(contains_text(TITLE_TEXT, word) for word in words))
    long_words = [word for word in words if len(word) >= TRIGRAM]
    if not long_words or index != "fts5":
        return and_(*(title_word(word) for word in words))
    # Each word a quoted FTS5 string: no operator or syntax in a query reaches the index.
    match = " ".join('"' + word.replace('"', '""') + '"' for word in long_words)
    in_index = Publication.id.in_(
        select(literal_column("rowid"))
        .select_from(text(SEARCH_TABLE))
        .where(text(f"{SEARCH_TABLE} MATCH :title_match").bindparams(title_match=match))
    )
    return and_(in_index, *(title_word(word) for word in words if len(word) < TRIGRAM))


def match_query(
    statement: Select, query: str, words_clause: Callable[[list[str]], object] = title_words
) -> tuple[Select, str | None]:
    """Narrow ``statement`` to ``query``: an ISBN in any form (exact match; a wrong check digit
    matches nothing and comes back as the message), else the words through ``words_clause``."""
    if ISBN_SHAPE.match(query):
        try:
            return statement.where(Publication.isbn == isbns.normalise(query)), None
        except InvalidISBN as error:
            return statement.where(False), error.message
    if query:
        statement = statement.where(words_clause(query.split()[:MAX_SEARCH_WORDS]))
    return statement, None


def _cards(page_ids: Select) -> Select:
    return (
        select(*CARD_COLUMNS)
        .where(_publication.c.id.in_(page_ids.scalar_subquery()))
        .order_by(_publication.c.title, _publication.c.id)
    )


ON_SALE = select(Publication.id).where(Publication.on_sale.is_(True))
# The whole catalogue, one page: built once, since it is the page most often asked for.
_CATALOGUE_PAGE = _cards(
    ON_SALE.order_by(Publication.title, Publication.id)
    .limit(bindparam("page_size"))
    .offset(bindparam("skip"))
)
_CATALOGUE_COUNT = select(func.count()).select_from(ON_SALE.subquery())


def search_catalogue(query: str, page: int, per_page: int) -> CatalogueSearch:
    """Publications on sale, by title, matching ``query``: an ISBN in any form, or title words.

    The page is rows of ``CARD_COLUMNS``. Its ids are read from the (on_sale, title, id) index
    alone, so a deep OFFSET skips index entries rather than rows, then those rows are loaded. A
    page that is not full is the last one, which gives the total; otherwise it comes from
    ``CatalogueCounts``, recounted when it contradicts the page.
    """
    query = (query or "").strip()[:200]
    offset = (page - 1) * per_page
    if query:
        matching, message = match_query(ON_SALE, query)
        rows_statement = _cards(
            matching.order_by(Publication.title, Publication.id).limit(per_page).offset(offset)
        )
        count_statement = select(func.count()).select_from(matching.subquery())
        items = list(db.session.execute(rows_statement))
    else:
        message, count_statement = None, _CATALOGUE_COUNT
        items = list(db.session.execute(_CATALOGUE_PAGE, {"page_size": per_page, "skip": offset}))
    counts: CatalogueCounts = current_app.extensions[COUNTS]
    if len(items) < per_page and (items or page == 1):
        total = offset + len(items)
        counts.put(query, total)
    else:
        total = counts.get(query)
        # Stale when the page shows more than it claims, or nothing where it claims rows.
        if total is None or (total < offset + len(items) if items else total > offset):
            total = db.session.scalar(count_statement)
            counts.put(query, total)
    return CatalogueSearch(query=query, page=CataloguePage(items, total, page, per_page), message=message)


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
