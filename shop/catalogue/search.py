"""Searching the public catalogue: title words or an ISBN, one page of cards at a time.

Each worker keeps recent searches' ordered ids (``Listings``) for as long as the catalogue
version they were read at holds, so any page is one statement by primary key. Reads only."""

import re
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from math import ceil
from typing import Any

from flask import Flask, current_app
from sqlalchemy import (
    ARRAY,
    CompoundSelect,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    column,
    false,
    func,
    inspect,
    literal_column,
    null,
    or_,
    select,
    table,
    text,
    union_all,
)

from shop import isbn as isbns
from shop.catalogue.models import Publication
from shop.errors import InvalidISBN
from shop.extensions import db
from shop.prepared import PREPARE
from shop.textsearch import contains_text
from shop.web.lru import BoundedLRU

MAX_SEARCH_WORDS = 8
# Ten or thirteen digits (the last of an ISBN-10 may be X) in any grouping: the query is an ISBN.
ISBN_SHAPE = re.compile(r"^[\d\s-]{9,}[\dXx]$")
# SQLite's FTS5 trigram index of titles, subtitles and contributors' names (migrations 0008,
# 0016). PostgreSQL answers the same ILIKE '%word%' from its pg_trgm indexes instead (0006, 0016).
SEARCH_TABLE = "publication_search"
# PostgreSQL: the contributors' names out of their JSON text, IMMUTABLE so it can be indexed.
NAMES_FUNCTION = "publication_contributor_names"
TRIGRAM = 3  # the index cannot answer a word shorter than this: those go through LIKE
LISTINGS = "shop.catalogue_listings"
SEARCH_INDEX = "shop.catalogue_search_index"

# One row, bumped by triggers whenever the listing can change (migration 0010); not a model,
# like the search indexes.
VERSION_TABLE = "catalogue_version"
_version = table(VERSION_TABLE, column("version"))


# What a catalogue card shows: plain Core rows (tuples), not ORM objects, which cost a fifth of
# the page.
_publication = Publication.__table__
CARD_COLUMNS = tuple(
    _publication.c[name]
    for name in (
        "id", "isbn", "title", "subtitle", "year", "pages", "price_pence", "stock",
        # The cover's file and size.
        "publisher", "cover_path", "cover_width", "cover_height",
        # What availability.offer() reads, and the names shown under the title.
        "on_sale", "publishing_status", "availability", "publication_date", "expected_ship_date",
        "pdf_url", "contributors",
    )
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


@dataclass(frozen=True)
class Listing:
    """The ids of a search's matches on sale, in title order, as of catalogue ``version``."""

    version: int
    ids: array
    message: str | None  # e.g. a wrong check digit


class Listings(BoundedLRU[str, Listing]):
    """Recent listings by query, for as long as the catalogue version they were read at holds.

    A page is then its slice of ids, read by primary key together with the current version: one
    statement, as cheap for page 200 as for page 1, and a total that is never stale (a changed
    version means the listing is read again). Bounded by the number of ids held.
    """

    def __init__(self, max_ids: int):
        super().__init__(max_ids, weight=lambda listing: len(listing.ids))


def init_app(app: Flask) -> None:
    app.extensions[LISTINGS] = Listings(app.config["CATALOGUE_LISTING_IDS"])


def contributor_names():
    """The contributors' names as one text, separated by spaces (an expression). PostgreSQL has
    a function for it (migration 0016); SQLite reads them out of the JSON with json_each."""
    if db.engine.dialect.name == "postgresql":
        return getattr(func, NAMES_FUNCTION)(Publication.contributors)
    each = func.json_each(Publication.contributors).table_valued("value")
    names = func.group_concat(func.json_extract(each.c.value, "$[1]"), " ")
    return select(func.coalesce(names, "")).scalar_subquery()


def title_word(word: str):
    """A search word matches the title, the subtitle or a contributor's name, in any case. On
    PostgreSQL as one text (``SEARCH_TEXT``), which migration 0016's trigram index answers: an
    OR over the three would read every row, the names having no index of their own."""
    if db.engine.dialect.name == "postgresql":
        return contains_text(SEARCH_TEXT, word)
    return or_(
        contains_text(Publication.title, word),
        contains_text(Publication.subtitle, word),
        contains_text(contributor_names(), word),
    )


def is_outside_models(kind: str, name: str) -> bool:
    """A database object the models do not describe (for Alembic's comparison of models and
    schema): the search indexes, the catalogue version table their triggers keep, and indexes
    that one database alone has (``…_sqlite``, ``…_pg``: migrations 0022, 0023)."""
    if kind == "index":
        return name.endswith(("_trgm", "_sqlite", "_pg"))
    return kind == "table" and (name.startswith(SEARCH_TABLE) or name == VERSION_TABLE)


# Title, subtitle and names as one text, written exactly as migration 0016's trigram index is,
# so that PostgreSQL answers every word of a search from one index. A word has no space in it,
# so it matches this text exactly when it matches the title, the subtitle or a name.
def _search_text():
    return (
        Publication.title.concat(literal_column("' '"))
        .concat(func.coalesce(Publication.subtitle, literal_column("''")))
        .concat(literal_column("' '"))
        .concat(getattr(func, NAMES_FUNCTION)(Publication.contributors))
    )


SEARCH_TEXT = _search_text()


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


def title_words(words: list[str]):
    """Every word matches the title, the subtitle or a contributor's name, in any case
    (``title_word`` for each), from the trigram index where there is one."""
    index = _search_index()
    if index == "pg_trgm":
        return and_(*(contains_text(SEARCH_TEXT, word) for word in words))
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
    statement: Select, query: str, words_clause: Callable[[list[str]], Any] = title_words
) -> tuple[Select, str | None]:
    """Narrow ``statement`` to ``query``: an ISBN in any form (exact match; a wrong check digit
    matches nothing and comes back as the message), else the words through ``words_clause``."""
    if ISBN_SHAPE.match(query):
        try:
            return statement.where(Publication.isbn == isbns.normalise(query)), None
        except InvalidISBN as error:
            return statement.where(false()), error.message
    if query:
        statement = statement.where(words_clause(query.split()[:MAX_SEARCH_WORDS]))
    return statement, None


ON_SALE = select(Publication.id, Publication.title).where(Publication.on_sale.is_(True))


def _and_version(statement: Select) -> CompoundSelect:
    """``statement``'s rows by title, and one more: the catalogue version, every other column NULL.

    One statement, so one snapshot: the version says whether the rows are still current. A UNION
    rather than a join, so that neither planner can take the one-row table for a big one (SQLite,
    without statistics for it, built an index on every call).
    """
    nulls = (null().label(selected.name) for selected in statement.selected_columns)
    union: CompoundSelect = union_all(statement.add_columns(null().label("version")), select(*nulls, _version.c.version))
    return union.order_by(union.selected_columns.title, union.selected_columns.id)


def _page_of_cards(ids_clause) -> CompoundSelect:
    return _and_version(select(*CARD_COLUMNS).where(ids_clause, _publication.c.on_sale.is_(True)))


# A page of cards by id, built once per database. PostgreSQL takes the ids as one array: the
# statement stays the same text, prepared once (shop.prepared), where IN (...) is rendered again
# for each call.
_PAGES_OF_CARDS = {
    "postgresql": _page_of_cards(_publication.c.id == any_(bindparam("ids", type_=ARRAY(Integer))))
    .execution_options(**PREPARE),
    "sqlite": _page_of_cards(_publication.c.id.in_(bindparam("ids", expanding=True))),
}


def _split(rows) -> tuple[list, int]:
    """The rows of ``_and_version``'s statement, and the version."""
    items = [row for row in rows if row.id is not None]
    return items, next(row.version for row in rows if row.id is None)


def _read_listing(query: str) -> Listing:
    matching, message = match_query(ON_SALE, query)
    rows, version = _split(db.session.execute(_and_version(matching)).all())
    return Listing(version=version, ids=array("q", (row.id for row in rows)), message=message)


def search_catalogue(query: str, page: int, per_page: int) -> CatalogueSearch:
    """Publications on sale, by title, matching ``query``: an ISBN in any form, or title words.

    The page is rows of ``CARD_COLUMNS``, cut from the query's ``Listing``: one statement when
    this worker holds the listing at the current catalogue version, else one more to read it.
    """
    query = (query or "").strip()[:200]
    offset = (page - 1) * per_page
    listings: Listings = current_app.extensions[LISTINGS]
    listing = listings.get(query)
    page_of_cards = _PAGES_OF_CARDS.get(db.engine.dialect.name, _PAGES_OF_CARDS["sqlite"])
    for attempt in range(3):  # a listing the catalogue changed under is read again
        if listing is None:
            listing = _read_listing(query)
            listings.put(query, listing)
        page_ids = listing.ids[offset:offset + per_page].tolist()
        items, version = _split(db.session.execute(page_of_cards, {"ids": page_ids}).all())
        # After three changes in a row, show this page: its rows are fresh, its order and
        # total a moment old.
        if version == listing.version or attempt == 2:
            break
        listing = None
    assert listing is not None  # the last attempt always keeps its listing
    page_of = CataloguePage(items, len(listing.ids), page, per_page)
    return CatalogueSearch(query=query, page=page_of, message=listing.message)
