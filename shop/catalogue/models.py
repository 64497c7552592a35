"""Publications on sale."""

import json
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import true
from sqlalchemy.types import BigInteger, TypeDecorator

from shop.catalogue import codes
from shop.catalogue.rules import Contributor, PriceBreak, unit_price
from shop.extensions import Model
from shop.isbn import hyphenate
from shop.timeutil import utcnow


def _canonical_json(value: Any) -> str:
    # One text for one value (no spaces, characters as themselves): the compare-and-set of an
    # edit (catalogue.admin) compares this text, and the search indexes read names from it.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# Decoding a list column is a JSON parse per row (twenty per catalogue page); the same text always
# decodes to the same immutable tuple, so each decoder keeps its recent answers.
@lru_cache(maxsize=4096)
def _contributors(text: str) -> tuple[Contributor, ...]:
    return tuple(Contributor(role, name) for role, name in json.loads(text))


@lru_cache(maxsize=1024)
def _codes(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


@lru_cache(maxsize=1024)
def _price_breaks(text: str) -> tuple[PriceBreak, ...]:
    return tuple(PriceBreak(copies, pence) for copies, pence in json.loads(text))


class ContributorList(TypeDecorator):
    """Contributors in order, as a tuple of ``Contributor`` (hashable, so a page's cache key can
    hold it), stored as canonical JSON ``[["A01","Chris Ham"],...]``. The search indexes read the
    names from this text (migration 0016), so its shape is part of the schema."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return _canonical_json([[c.role, c.name] for c in value or ()])

    def process_result_value(self, value, dialect):
        return _contributors(value or "[]")


class CodeList(TypeDecorator):
    """Codes in order (Thema subjects, the first the main one), as a tuple of str, stored as
    canonical JSON ``["MBP","MBPM"]``."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return _canonical_json(list(value or ()))

    def process_result_value(self, value, dialect):
        return _codes(value or "[]")


class PriceBreakList(TypeDecorator):
    """Volume prices in order of quantity, as a tuple of ``PriceBreak`` (hashable, so the page
    cache's key, every column of the row, covers them), stored as canonical JSON
    ``[[10,750],[50,600]]`` (copies, pence), one text for one value (the edit's compare-and-set
    compares it)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return _canonical_json([[b.min_quantity, b.price_pence] for b in value or ()])

    def process_result_value(self, value, dialect):
        return _price_breaks(value or "[]")


class Publication(Model):
    __tablename__ = "publication"
    __table_args__ = (
        CheckConstraint("price_pence > 0", name="price_positive"),
        CheckConstraint("pages > 0", name="pages_positive"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        # The public catalogue's order: a page's ids come from this index alone (migration 0008).
        Index("ix_publication_on_sale_title", "on_sale", "title", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    isbn: Mapped[str] = mapped_column(String(13), unique=True)  # the 13 digits, no hyphens
    title: Mapped[str] = mapped_column(String(300), index=True)
    subtitle: Mapped[str | None] = mapped_column(String(300))
    publisher: Mapped[str] = mapped_column(String(200))
    year: Mapped[int]
    pages: Mapped[int]
    price_pence: Mapped[int]
    stock: Mapped[int] = mapped_column(default=0)
    summary: Mapped[str] = mapped_column(Text, default="")
    pdf_url: Mapped[str | None] = mapped_column(String(500))
    cover_path: Mapped[str | None] = mapped_column(String(500))  # under the covers folder
    # The stored cover's pixel size; its resized copies follow from it (shop.catalogue.covers).
    cover_width: Mapped[int | None]
    cover_height: Mapped[int | None]
    on_sale: Mapped[bool] = mapped_column(default=True)
    # The lifecycle in the book trade's own codes (ONIX lists 64 and 65); what a reader may do
    # follows from them in one place, catalogue.availability.offer().
    publishing_status: Mapped[str] = mapped_column(
        String(2), default=codes.ACTIVE, server_default=codes.ACTIVE
    )
    availability: Mapped[str] = mapped_column(
        String(2), default=codes.IN_STOCK, server_default=codes.IN_STOCK
    )
    publication_date: Mapped[date | None] = mapped_column(Date)
    expected_ship_date: Mapped[date | None] = mapped_column(Date)  # when copies are due in
    contributors: Mapped[tuple[Contributor, ...]] = mapped_column(
        ContributorList, default=(), server_default="[]"
    )
    subjects: Mapped[tuple[str, ...]] = mapped_column(CodeList, default=(), server_default="[]")
    # Volume prices (issue 17): from so many copies on one line, each copy costs less.
    price_breaks: Mapped[tuple[PriceBreak, ...]] = mapped_column(
        PriceBreakList, default=(), server_default="[]"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    # Reader comments (shop.comments, migration 0015): whether new ones are taken (written by
    # comments.services.set_comments_open, audited there), and a token that triggers change
    # whenever the approved comments change, so the page cache's key (this row) covers them.
    comments_open: Mapped[bool] = mapped_column(default=True, server_default=true())
    comments_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    @property
    def isbn_hyphenated(self) -> str:
        return hyphenate(self.isbn)

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    def unit_price_pence(self, quantity: int) -> int:
        """What one copy costs when ``quantity`` copies are bought on one line (the price
        break that applies, else the price)."""
        return unit_price(self.price_pence, self.price_breaks, quantity)

    @property
    def full_title(self) -> str:
        return f"{self.title}: {self.subtitle}" if self.subtitle else self.title

    def __repr__(self) -> str:
        return f"<Publication {self.isbn} {self.title!r}>"


class CatalogueChange(Model):
    """One entry in a publication's audit trail: who changed what, when, and why.

    ``before`` and ``after`` hold only the fields that changed (prices in pence); a creation has
    no ``before``. Stock changes record the numbers the conditional UPDATE actually moved between.
    """

    __tablename__ = "catalogue_change"
    __table_args__ = (Index("ix_catalogue_change_publication_at", "publication_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(
        ForeignKey("publication.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(300))

    def __repr__(self) -> str:
        return f"<CatalogueChange {self.action} publication={self.publication_id} by {self.actor}>"
