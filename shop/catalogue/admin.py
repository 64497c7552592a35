"""The one writer of the catalogue's details: creating, editing (by staff or by an import),
withdrawing and returning titles to sale, and adjusting stock; and listing them for staff.
Every change is checked by ``catalogue.rules`` and writes a ``CatalogueChange`` (who, when, what
it was, what it became, why).

Functions take explicit arguments, the acting staff member's email included, and flush; the view
commits once. Stock moves only through ``adjust_stock``'s conditional UPDATEs, never through the
edit form, so a form opened before a checkout reserved copies cannot write the old number back.
"""

import hashlib
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from shop import isbn as isbns
from shop.catalogue.models import CatalogueChange, Publication
from shop.catalogue.rules import (
    DETAIL_NAMES,
    PublicationDetails,
    RuleBroken,
    check_details,
    check_stock,
    check_stock_change,
    check_together,
)
from shop.catalogue.search import match_query, title_word
from shop.errors import ShopError
from shop.extensions import db, rows_changed

ACTION_LABELS = {
    "created": "Added to the catalogue",
    "edited": "Details edited",
    "withdrawn": "Withdrawn from sale",
    "returned": "Returned to sale",
    "stock": "Stock changed",
    "cover": "Cover changed",
}
# Field names as staff know them, for the history.
FIELD_LABELS = {
    "isbn": "ISBN",
    "title": "Title",
    "subtitle": "Subtitle",
    "publisher": "Publisher",
    "year": "Year",
    "pages": "Pages",
    "price_pence": "Price",
    "stock": "Stock",
    "summary": "Summary",
    "pdf_url": "PDF link",
    "cover_path": "Cover",
    "on_sale": "On sale",
    "publishing_status": "Publishing status",
    "availability": "Availability",
    "publication_date": "Publication date",
    "expected_ship_date": "Copies expected",
    "contributors": "Contributors",
    "subjects": "Thema subjects",
    "price_breaks": "Price breaks",
}
SORTS = {
    "title": (Publication.title, Publication.id),
    "isbn": (Publication.isbn,),
    "stock": (Publication.stock, Publication.title, Publication.id),  # lowest first
}
COUNT_RETRIES = 5
HISTORY_LIMIT = 200


class CatalogueError(ShopError):
    """A catalogue change that was refused; nothing was changed."""


@dataclass
class StaffCatalogue:
    query: str
    sort: str
    page: Pagination
    message: str | None = None  # e.g. an ISBN with a wrong check digit

    def as_args(self) -> dict[str, str]:
        """The search as query-string arguments, for the pagination and sort links."""
        args = {"q": self.query, "sort": self.sort if self.sort != "title" else ""}
        return {key: value for key, value in args.items() if value}


def _word(word: str):
    """A search word matches the title or subtitle, or (three or more digits) part of the ISBN."""
    digits = word.replace("-", "")
    if digits.isascii() and digits.isdigit() and len(digits) >= 3:
        return or_(title_word(word), Publication.isbn.contains(digits, autoescape=True))
    return title_word(word)


def list_publications(query: str, sort: str, page: int, per_page: int) -> StaffCatalogue:
    """Every publication, withdrawn ones too, matching ``query`` (a whole ISBN in any form, or
    words of the title or digits of the ISBN), sorted by ``sort`` (title, isbn or stock), one page.
    Two queries whatever the page size: the page and its count."""
    query = (query or "").strip()[:200]
    sort = sort if sort in SORTS else "title"
    statement, message = match_query(
        select(Publication), query, words_clause=lambda words: and_(*(_word(word) for word in words))
    )
    statement = statement.order_by(*SORTS[sort])
    pagination = db.paginate(statement, page=page, per_page=per_page, error_out=False)
    return StaffCatalogue(query=query, sort=sort, page=pagination, message=message)


def history(publication: Publication) -> list[CatalogueChange]:
    """The publication's changes, newest first."""
    return list(
        db.session.scalars(
            select(CatalogueChange)
            .where(CatalogueChange.publication_id == publication.id)
            .order_by(CatalogueChange.at.desc(), CatalogueChange.id.desc())
            .limit(HISTORY_LIMIT)
        )
    )


def _recorded(value: Any) -> Any:
    """A detail as the history's JSON keeps it: a date as 2027-03-01, contributors as A01:Name."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [item.coded() if hasattr(item, "coded") else item for item in value]
    return value


def _recorded_all(values: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if values is None else {name: _recorded(value) for name, value in values.items()}


def record_change(
    publication: Publication,
    actor: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None = None,
) -> CatalogueChange:
    change = CatalogueChange(
        publication_id=publication.id,
        actor=actor,
        action=action,
        before=_recorded_all(before),
        after=_recorded_all(after),
        reason=reason or None,
    )
    db.session.add(change)
    return change


def _snapshot(publication: Publication) -> dict[str, Any]:
    names = ["isbn", *DETAIL_NAMES, "stock", "on_sale"]
    if publication.cover_path:
        names.append("cover_path")
    return {name: getattr(publication, name) for name in names}


def _refuse_broken(values) -> None:
    """Raise ``CatalogueError`` with every rule ``values`` break (forms and imports check first;
    this keeps any other caller honest)."""
    problems = check_details(values)
    if problems:
        raise CatalogueError(" ".join(problems.values()))


def create_publication(
    isbn13: str, details: PublicationDetails, stock: int, actor: str, **extra: Any
) -> Publication:
    """Add a publication, on sale, with ``stock`` copies (``extra``: other columns an import
    sets, such as ``cover_path``); refuses an ISBN already catalogued."""
    existing = db.session.scalar(select(Publication).filter_by(isbn=isbn13))
    if existing is not None:
        raise CatalogueError(
            f"ISBN {isbns.hyphenate(isbn13)} is already in the catalogue, as “{existing.title}”."
        )
    _refuse_broken(details)
    _refuse_broken(extra)
    try:
        check_stock(stock)
    except RuleBroken as broken:
        raise CatalogueError(str(broken)) from None
    publication = Publication(isbn=isbn13, stock=stock, on_sale=True, **asdict(details), **extra)
    db.session.add(publication)
    try:
        db.session.flush()
    except IntegrityError as error:
        if not _is_isbn_clash(error):
            raise
        # Added between the check above and this insert; the caller rolls back, and the unique
        # index keeps one copy.
        raise CatalogueError(
            f"ISBN {isbns.hyphenate(isbn13)} was added to the catalogue a moment ago (by someone"
            " else, or by a second click), so nothing was saved. Search the catalogue to edit it."
        ) from None
    record_change(publication, actor, "created", None, _snapshot(publication))
    db.session.flush()
    return publication


def _is_isbn_clash(error: IntegrityError) -> bool:
    diagnosis = getattr(error.orig, "diag", None)  # psycopg names the constraint
    if diagnosis is not None:
        return diagnosis.constraint_name == "uq_publication_isbn"
    return "UNIQUE constraint failed: publication.isbn" in str(error.orig)  # SQLite


def details_of(publication: Publication) -> PublicationDetails:
    return PublicationDetails(**{name: getattr(publication, name) for name in DETAIL_NAMES})


def _field_digests(details: PublicationDetails) -> list[str]:
    # As the form sends a value back (stripped, LF line ends, blank for none), so an untouched
    # field whose stored text differs only in that way is not taken for an edit.
    texts = (
        str(getattr(details, name) or "").replace("\r\n", "\n").strip() for name in DETAIL_NAMES
    )
    return [hashlib.blake2s(text.encode(), digest_size=4).hexdigest() for text in texts]


def fingerprint(details: PublicationDetails) -> str:
    """A digest of each field, for the edit form to carry: what its user started from, so a save
    can tell the fields they changed from those someone else changed meanwhile."""
    return "-".join(_field_digests(details))


class EditConflict(CatalogueError):
    """Since the form was opened, someone else changed fields that this save changes too."""

    def __init__(self, current: PublicationDetails, clashes: list[str], edited: set[str]):
        super().__init__(
            "Someone else changed this publication while you were editing it, so nothing was saved."
        )
        self.current = current  # as it is now
        self.clashes = clashes  # changed by both
        self.edited = edited  # changed by this editor


SAVE_ATTEMPTS = 3


def update_publication(
    publication: Publication,
    details: PublicationDetails,
    actor: str,
    started_from: str | None = None,
) -> bool:
    """Apply the fields of ``details`` that its editor changed; records them, before and after.
    Returns False (and records nothing) when nothing changed. Never writes the stock.

    ``started_from`` is the ``fingerprint`` of what the editor saw. Fields they left alone keep
    whatever someone else saved meanwhile (an old form does not put back an old price); a field
    both changed raises ``EditConflict``. Without it, every field that differs is written."""
    _refuse_broken(details)
    names = list(DETAIL_NAMES)
    mine = _field_digests(details)
    for _ in range(SAVE_ATTEMPTS):
        current = details_of(publication)
        now = _field_digests(current)
        seen = (started_from or "").split("-")
        if [len(part) for part in seen] != [len(part) for part in now]:
            seen = now  # no fingerprint, or not one of ours: compare with the publication as it is
        edited = {name for name, digest, was in zip(names, mine, seen, strict=False) if digest != was}
        clashes = [
            name for name, was, is_ in zip(names, seen, now, strict=False)
            if was != is_ and name in edited and getattr(details, name) != getattr(current, name)
        ]
        if clashes:
            raise EditConflict(current, clashes, edited)
        after = {
            name: getattr(details, name) for name in names
            if name in edited and getattr(details, name) != getattr(current, name)
        }
        if not after:
            return False
        # A save that lands between the read and this write sends us round again.
        if _write_if_unchanged(publication, {name: getattr(current, name) for name in after}, after, actor):
            return True
    raise CatalogueError(
        "This publication kept changing while saving, so nothing was saved. Please try again."
    )


def _write_if_unchanged(
    publication: Publication, before: dict[str, Any], after: dict[str, Any], actor: str,
    follows: dict[str, Any] | None = None,
) -> bool:
    """Write ``after`` only while those fields still hold ``before`` (a compare-and-set: SQLite
    takes no row lock on reading), and record it; False when someone changed one meanwhile.
    ``follows``: columns that follow from ``after`` (a cover's size), written with it."""
    columns = Publication.__table__.c
    written = rows_changed(
        update(Publication)
        .where(Publication.id == publication.id)
        .where(*(columns[name].is_(None) if before[name] is None else columns[name] == before[name]
                 for name in after))
        .values(**after, **(follows or {}))
        .execution_options(synchronize_session=False)
    )
    db.session.expire(publication)
    if written:
        record_change(publication, actor, "edited", before, after)
        db.session.flush()
    return bool(written)


def import_changes(
    publication: Publication, before: dict[str, Any], after: dict[str, Any], actor: str
) -> None:
    """An import's update of one title, by the edit's rule: written only while the fields still
    hold what the import compared (``before``); otherwise nothing is written and
    ``CatalogueError`` says which title changed, for the caller to roll the import back."""
    _refuse_broken(after)
    # Rules between fields, with what the file leaves as it is (a lower price against the
    # volume prices the title keeps, say).
    together = check_together({**{name: getattr(publication, name) for name in DETAIL_NAMES}, **after})
    if together:
        raise CatalogueError(
            f"“{publication.title}” (ISBN {isbns.hyphenate(publication.isbn)}): "
            + " ".join(together.values()) + " Nothing was imported."
        )
    # A file the import names has not been measured: its size is unknown until covers-rebuild.
    follows = {"cover_width": None, "cover_height": None} if "cover_path" in after else None
    if not _write_if_unchanged(publication, before, after, actor, follows):
        raise CatalogueError(
            f"“{publication.title}” (ISBN {isbns.hyphenate(publication.isbn)}) "
            "was changed by someone else while importing, so nothing was imported. Run it again."
        )


def _set_on_sale(publication: Publication, on_sale: bool, actor: str, reason: str | None) -> None:
    # Conditional, so two clicks (or two members of staff) record one change, not two.
    changed = rows_changed(
        update(Publication)
        .where(Publication.id == publication.id, Publication.on_sale.is_(not on_sale))
        .values(on_sale=on_sale)
        .execution_options(synchronize_session=False)
    )
    if not changed:
        state = "on sale" if on_sale else "withdrawn from sale"
        raise CatalogueError(f"“{publication.title}” is already {state}.")
    db.session.expire(publication, ["on_sale", "updated_at"])
    record_change(
        publication,
        actor,
        "returned" if on_sale else "withdrawn",
        {"on_sale": not on_sale},
        {"on_sale": on_sale},
        (reason or "").strip()[:300],
    )
    db.session.flush()


def withdraw(publication: Publication, actor: str, reason: str | None = None) -> None:
    """Take a publication off sale: it leaves the public list and cannot be added to a basket
    or checked out. Orders already placed are untouched."""
    _set_on_sale(publication, False, actor, reason)


def return_to_sale(publication: Publication, actor: str, reason: str | None = None) -> None:
    _set_on_sale(publication, True, actor, reason)


def _copies(n: int) -> str:
    return "copy" if n == 1 else "copies"


def adjust_stock(publication: Publication, reason: str, quantity: int, actor: str) -> tuple[int, int]:
    """Change the stock, and record it; returns ``(before, after)``.

    ``goods_in`` adds ``quantity`` and ``damaged`` takes it away, by one conditional UPDATE
    (``stock = stock + delta WHERE stock + delta >= 0``) that never goes below zero, whatever
    checkouts are doing at the same moment. ``stock_count`` sets the stock to ``quantity``
    (what is on the shelf to sell), by a compare-and-set, so the recorded ``before`` is exactly
    the number it replaced.
    """
    try:
        check_stock_change(reason, quantity)
    except RuleBroken as broken:
        raise CatalogueError(str(broken)) from None
    if reason == "stock_count":
        before, after = _count(publication, quantity), quantity
    else:
        delta = quantity if reason == "goods_in" else -quantity
        moved: int | None = db.session.scalar(
            update(Publication)
            .where(Publication.id == publication.id, Publication.stock + delta >= 0)
            .values(stock=Publication.stock + delta)
            .returning(Publication.stock)
            .execution_options(synchronize_session=False)
        )
        if moved is None:
            left = db.session.scalar(select(Publication.stock).where(Publication.id == publication.id)) or 0
            raise CatalogueError(
                f"Only {left} {_copies(left)} of “{publication.title}” in stock: "
                f"{quantity} cannot be taken away. Count the shelf and record a stock count instead."
            )
        before, after = moved - delta, moved
    db.session.expire(publication, ["stock", "updated_at"])
    record_change(publication, actor, "stock", {"stock": before}, {"stock": after}, reason)
    db.session.flush()
    return before, after


def _count(publication: Publication, quantity: int) -> int:
    """Set the stock to ``quantity`` if it still holds the number just read; returns that number.
    A checkout that moves the stock in between makes the UPDATE match nothing, so read again."""
    for _ in range(COUNT_RETRIES):
        current = db.session.scalar(select(Publication.stock).where(Publication.id == publication.id))
        if current is None:
            raise CatalogueError("That publication is no longer in the catalogue.")
        matched = rows_changed(
            update(Publication)
            .where(Publication.id == publication.id, Publication.stock == current)
            .values(stock=quantity)
            .execution_options(synchronize_session=False)
        )
        if matched:
            return current
    raise CatalogueError(
        f"The stock of “{publication.title}” kept changing while the count was saved "
        "(customers are checking out); please save the count again."
    )
