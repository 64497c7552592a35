"""The basket: ``{isbn13: quantity}`` kept by the caller (the session cookie), priced from the
database on every read so a price can never come from the browser."""

from dataclasses import dataclass, field

from shop.basket.postage import Region
from shop.catalogue.models import Publication
from shop.catalogue.queries import publications_by_isbn
from shop.errors import BasketError
from shop.isbn import hyphenate

Items = dict[str, int]

# Stripe Checkout takes at most 100 line items in payment mode, and each title is one. A basket
# of 100 titles at the most copies each keeps the session cookie well under browsers' 4 KB
# (tests/basket/test_limits.py measures it).
MAX_TITLES = 100


@dataclass
class BasketLine:
    publication: Publication
    quantity: int

    @property
    def line_total_pence(self) -> int:
        return self.publication.price_pence * self.quantity

    @property
    def problem(self) -> str | None:
        """Why this line cannot be bought as it stands, if it cannot."""
        pub = self.publication
        if not pub.on_sale:
            return "No longer on sale: please remove it."
        if pub.stock <= 0:
            return "Out of stock: please remove it."
        if self.quantity > pub.stock:
            return f"Only {pub.stock} {_copies(pub.stock)} left: please lower the quantity."
        return None


@dataclass
class PricedBasket:
    lines: list[BasketLine]
    region: Region
    dropped: list[str] = field(default_factory=list)  # ISBNs no longer in the catalogue

    @property
    def copies(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def subtotal_pence(self) -> int:
        return sum(line.line_total_pence for line in self.lines)

    @property
    def postage_pence(self) -> int:
        return self.region.postage_pence(self.copies)

    @property
    def total_pence(self) -> int:
        return self.subtotal_pence + self.postage_pence

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def too_many_titles(self) -> str | None:
        """Why the basket as a whole cannot be bought (one from before the limit), if so."""
        if len(self.lines) <= MAX_TITLES:
            return None
        return (
            f"An order can have at most {MAX_TITLES} different titles; this basket has "
            f"{len(self.lines)}. Please remove some before paying."
        )

    @property
    def problems(self) -> list[str]:
        found = [
            f"{line.publication.title}: {line.problem}" for line in self.lines if line.problem
        ]
        return found + ([self.too_many_titles] if self.too_many_titles else [])


def clean_items(raw: object) -> Items:
    """Whatever the cookie held, keep only ``{13-digit str: positive int}`` entries."""
    if not isinstance(raw, dict):
        return {}
    return {
        key: value
        for key, value in raw.items()
        if isinstance(key, str) and len(key) == 13 and key.isdigit()
        and isinstance(value, int) and not isinstance(value, bool) and value > 0
    }


def price_basket(items: Items, region: Region) -> PricedBasket:
    """Price ``items`` from the database in one query; unknown ISBNs are dropped and reported."""
    publications = publications_by_isbn(list(items))
    lines = [
        BasketLine(publications[isbn], quantity)
        for isbn, quantity in items.items()
        if isbn in publications
    ]
    dropped = [isbn for isbn in items if isbn not in publications]
    return PricedBasket(lines=lines, region=region, dropped=dropped)


def check_quantity(quantity: int, maximum: int) -> None:
    if quantity < 1 or quantity > maximum:
        raise BasketError(f"Please choose a quantity from 1 to {maximum}.")


def _copies(n: int) -> str:
    return "copy" if n == 1 else "copies"


def _check_available(publication: Publication, quantity: int) -> None:
    title = publication.title
    if not publication.on_sale:
        raise BasketError(f"“{title}” is not on sale.")
    if publication.stock <= 0:
        raise BasketError(f"“{title}” is out of stock.")
    if quantity > publication.stock:
        raise BasketError(
            f"Only {publication.stock} {_copies(publication.stock)} of “{title}” left: "
            f"you asked for {quantity}."
        )


def add_item(
    items: Items, publication: Publication, quantity: int, maximum: int, contact_email: str = ""
) -> Items:
    """A new basket with ``quantity`` more copies of ``publication``; refuses rather than clips
    (naming ``contact_email`` for larger orders)."""
    check_quantity(quantity, maximum)
    if publication.isbn not in items and len(items) >= MAX_TITLES:
        raise BasketError(
            f"Your basket already holds {MAX_TITLES} different titles, the most one order can "
            "have. Please check out these first, or contact us for a larger order."
        )
    total = items.get(publication.isbn, 0) + quantity
    if total > maximum:
        where = f"email us at {contact_email}" if contact_email else "use the contact page"
        raise BasketError(
            f"You can order up to {maximum} copies of one title; your basket already has "
            f"{items.get(publication.isbn, 0)}. For larger orders, {where}."
        )
    _check_available(publication, total)
    return {**items, publication.isbn: total}


def set_quantity(items: Items, publication: Publication, quantity: int, maximum: int) -> Items:
    """A new basket with the line for ``publication`` set to ``quantity``."""
    if publication.isbn not in items:
        raise BasketError(f"ISBN {hyphenate(publication.isbn)} is not in your basket.")
    check_quantity(quantity, maximum)
    _check_available(publication, quantity)
    return {**items, publication.isbn: quantity}


def remove_item(items: Items, isbn13: str) -> Items:
    return {key: value for key, value in items.items() if key != isbn13}
