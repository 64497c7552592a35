"""The basket: ``{isbn13: quantity}`` kept by the caller (the session cookie), priced from the
database on every read so a price can never come from the browser."""

from dataclasses import dataclass, field
from datetime import date

from shop.basket.postage import Region
from shop.catalogue.availability import BUY, Offer, offer
from shop.catalogue.models import Publication
from shop.catalogue.queries import publications_by_isbn
from shop.errors import BasketError
from shop.isbn import hyphenate
from shop.money import format_pence
from shop.timeutil import local_today

Items = dict[str, int]

# The largest amount Stripe takes in one payment or invoice in pounds (£999,999.99: eight
# digits of pence), well inside the 32-bit order total column.
MAX_ORDER_PENCE = 99_999_999

# Stripe Checkout takes at most 100 line items in payment mode, and each title is one. A basket
# of 100 titles at the most copies each keeps the session cookie well under browsers' 4 KB
# (tests/basket/test_limits.py measures it).
MAX_TITLES = 100


@dataclass
class BasketLine:
    publication: Publication
    quantity: int
    offer: Offer  # what may be done with the title today (catalogue.availability)

    @property
    def unit_price_pence(self) -> int:
        """A copy's price at this quantity: the title's volume price that applies, if any."""
        return self.publication.unit_price_pence(self.quantity)

    @property
    def line_total_pence(self) -> int:
        return self.unit_price_pence * self.quantity

    @property
    def saved_pence(self) -> int:
        """What the volume price takes off this line, against one copy's price."""
        return (self.publication.price_pence - self.unit_price_pence) * self.quantity

    @property
    def next_break(self):
        """The next volume price this line could reach (a ``PriceBreak``), if any."""
        return next((b for b in self.publication.price_breaks if b.min_quantity > self.quantity), None)

    @property
    def problem(self) -> str | None:
        """Why this line cannot be bought as it stands, if it cannot."""
        if not self.offer.can_order:
            return f"{self.offer.label}: please remove it."
        left = self.offer.copies_left
        if self.offer.action == BUY and left is not None and self.quantity > left:
            return f"Only {left} {_copies(left)} left: please lower the quantity."
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
    def saved_pence(self) -> int:
        """What volume prices take off the basket."""
        return sum(line.saved_pence for line in self.lines)

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
    def too_large(self) -> str | None:
        """Why the basket's total cannot be paid in one payment (Stripe's largest), if so."""
        if self.total_pence <= MAX_ORDER_PENCE:
            return None
        return (
            f"This basket comes to {format_pence(self.total_pence)}, and one order can be at most "
            f"{format_pence(MAX_ORDER_PENCE)}. Please split it into smaller orders."
        )

    @property
    def problems(self) -> list[str]:
        found = [
            f"{line.publication.title}: {line.problem}" for line in self.lines if line.problem
        ]
        return found + [whole for whole in (self.too_many_titles, self.too_large) if whole]

    def card_problems(self, card_maximum: int) -> list[str]:
        """Why this basket cannot be paid at Stripe Checkout, beyond ``problems``: a line over
        the most copies card checkouts take (larger ones are for invoices)."""
        return [
            f"{line.publication.title}: {line.quantity} copies; paying by card takes up to "
            f"{card_maximum} {_copies(card_maximum)} of a title."
            for line in self.lines if line.quantity > card_maximum
        ]

    def invoice_problems(self, minimum_pence: int, maximum: int) -> list[str]:
        """Why this basket cannot be paid by invoice, beyond ``problems``: under the minimum
        value (of the copies, before postage) or a line over the most copies an invoice takes."""
        found = [
            f"{line.publication.title}: {line.quantity} copies; an invoice takes up to {maximum} "
            f"{_copies(maximum)} of a title."
            for line in self.lines if line.quantity > maximum
        ]
        if self.subtotal_pence < minimum_pence:
            found.append(
                f"Paying by invoice is for orders of {format_pence(minimum_pence)} or more (before "
                f"postage); this one is {format_pence(self.subtotal_pence)}."
            )
        return found

    @property
    def waits_for_stock(self) -> bool:
        """Some line is a pre-order or a back-order: the order is posted when all have come."""
        return any(line.offer.waits_for_stock for line in self.lines)


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


def price_basket(items: Items, region: Region, today: date | None = None) -> PricedBasket:
    """Price ``items`` from the database in one query, each line with what it offers on
    ``today`` (the shop's own today if not given); unknown ISBNs are dropped and reported."""
    publications = publications_by_isbn(list(items))
    today = today or local_today()
    lines = [
        BasketLine(publications[isbn], quantity, offer(publications[isbn], today))
        for isbn, quantity in items.items()
        if isbn in publications
    ]
    dropped = [isbn for isbn in items if isbn not in publications]
    return PricedBasket(lines=lines, region=region, dropped=dropped)


def line_maximum(card_maximum: int, invoice_maximum: int) -> int:
    """The most copies of a title a basket holds: what card checkouts take, or more where an
    invoice takes more (the basket then offers only the invoice)."""
    return max(card_maximum, invoice_maximum)


def check_quantity(quantity: int, maximum: int) -> None:
    if quantity < 1 or quantity > maximum:
        raise BasketError(f"Please choose a quantity from 1 to {maximum}.")


def _copies(n: int) -> str:
    return "copy" if n == 1 else "copies"


def _check_available(publication: Publication, quantity: int, today: date | None) -> None:
    """Refuse, with the offer's own words, a title that cannot be ordered today, and more copies
    than are left of one sold from stock. Pre-orders and back-orders take any quantity."""
    title = publication.title
    offered = offer(publication, today or local_today())
    if not publication.on_sale:
        raise BasketError(f"“{title}” is not on sale.")
    if not offered.can_order:
        raise BasketError(f"“{title}” cannot be ordered now: {offered.note[0].lower()}{offered.note[1:]}")
    left = offered.copies_left
    if offered.action == BUY and left is not None and quantity > left:
        raise BasketError(
            f"Only {left} {_copies(left)} of “{title}” left: you asked for {quantity}."
        )


def add_item(
    items: Items, publication: Publication, quantity: int, maximum: int, contact_email: str = "",
    today: date | None = None,
) -> Items:
    """A new basket with ``quantity`` more copies of ``publication``; refuses rather than clips
    (naming ``contact_email`` for larger orders)."""
    check_quantity(quantity, maximum)
    if publication.isbn not in items and len(items) >= MAX_TITLES:
        where = f"email us at {contact_email}" if contact_email else "use the contact page"
        raise BasketError(
            f"Your basket already holds {MAX_TITLES} different titles, the most one order can "
            f"have. Please check out these first; for a larger order, {where}."
        )
    total = items.get(publication.isbn, 0) + quantity
    if total > maximum:
        where = f"email us at {contact_email}" if contact_email else "use the contact page"
        raise BasketError(
            f"You can order up to {maximum} copies of one title; your basket already has "
            f"{items.get(publication.isbn, 0)}. For larger orders, {where}."
        )
    _check_available(publication, total, today)
    return {**items, publication.isbn: total}


def set_quantity(
    items: Items, publication: Publication, quantity: int, maximum: int, today: date | None = None
) -> Items:
    """A new basket with the line for ``publication`` set to ``quantity``."""
    if publication.isbn not in items:
        raise BasketError(f"ISBN {hyphenate(publication.isbn)} is not in your basket.")
    check_quantity(quantity, maximum)
    _check_available(publication, quantity, today)
    return {**items, publication.isbn: quantity}


def remove_item(items: Items, isbn13: str) -> Items:
    return {key: value for key, value in items.items() if key != isbn13}
