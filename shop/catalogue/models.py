"""Publications on sale."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import true
from sqlalchemy.types import BigInteger

from shop.extensions import Model
from shop.isbn import hyphenate
from shop.timeutil import utcnow


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
