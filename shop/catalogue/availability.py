"""What a reader sees and may do with a title, from its lifecycle codes: the one rule.

``offer(publication, today)`` reads the publishing status (ONIX list 64), the availability (list
65), the dates and the stock, and says which action the page offers (buy, pre-order, order now,
notify me, or none), the words around it, and the schema.org availability search engines read.
The publication page, the catalogue cards, the basket, checkout, the JSON-LD and the sitemap all
ask it, so they cannot disagree; nothing else looks at the codes to decide what may be sold.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from shop.catalogue import codes

BUY = "buy"  # from stock: copies are reserved at checkout
PREORDER = "preorder"  # not yet published: paid now, posted on publication
BACKORDER = "backorder"  # out of stock for now with copies due: paid now, posted when they come
NOTIFY = "notify"  # cannot be bought now, nor a date given: a reader may ask to be told
NONE = "none"  # out of print, or withdrawn from sale: nothing to buy in paper

ORDERABLE = frozenset({BUY, PREORDER, BACKORDER})
WAITS_FOR_STOCK = frozenset({PREORDER, BACKORDER})  # paid orders that queue for copies

SCHEMA = "https://schema.org/"


@dataclass(frozen=True)
class Offer:
    """What to show about buying a title now. Hashable: part of a cached page's key."""

    action: str  # BUY, PREORDER, BACKORDER, NOTIFY or NONE
    label: str  # a word or two, as on a catalogue card: "Pre-order"
    note: str  # a sentence for the page, the basket and emails
    schema_availability: str  # schema.org ItemAvailability, for the JSON-LD offer
    available_from: date | None = None  # when copies are due (availabilityStarts)
    copies_left: int | None = None  # the most one order may take, when sold from stock
    free_pdf: bool = False  # out of print in paper, but the PDF is free

    @property
    def can_order(self) -> bool:
        return self.action in ORDERABLE

    @property
    def waits_for_stock(self) -> bool:
        """A paid order for it waits in a queue until staff allocate copies."""
        return self.action in WAITS_FOR_STOCK

    @property
    def button(self) -> str | None:
        return {BUY: "Add to basket", PREORDER: "Pre-order", BACKORDER: "Order now"}.get(self.action)

    @property
    def css_class(self) -> str:
        return {BUY: "in", PREORDER: "soon", BACKORDER: "soon"}.get(self.action, "out")


def long_date(day: date) -> str:
    """``3 March 2027``."""
    return f"{day.day} {day:%B %Y}"


def _due(day: date | None, today: date) -> str | None:
    """``on 3 March 2027`` for a date to come; None for no date or one already past."""
    return f"on {long_date(day)}" if day is not None and day > today else None


def offer(publication: Any, today: date) -> Offer:
    """The offer for ``publication`` (a ``Publication`` or a row with its ``on_sale``,
    ``publishing_status``, ``availability``, ``publication_date``, ``expected_ship_date``,
    ``stock`` and ``pdf_url``) on ``today``, in the shop's time zone.

    In order: withdrawn by staff; out of print (an ended status, or no longer supplied);
    postponed or temporarily withdrawn: notify me; not yet published (forthcoming, or not yet
    available): pre-order; temporarily unavailable: order now
    when reprinting or when copies have a date, else notify me; sold from stock: buy while
    copies last, then order now if more are due on a date or the title is made to order (to
    order, print on demand), else notify me. Any other code
    (availability unknown, postponed indefinitely): notify me.
    """
    status, availability = publication.publishing_status, publication.availability
    free_pdf = bool(publication.pdf_url)
    if not publication.on_sale:
        return Offer(NONE, "No longer on sale", "This publication is no longer on sale in print.",
                     SCHEMA + "Discontinued", free_pdf=free_pdf)
    if status in codes.ENDED_STATUSES or availability in codes.NO_LONGER_SUPPLIED:
        note = "Out of print in paper — the PDF is free." if free_pdf else "Out of print in paper."
        return Offer(NONE, "Out of print", note, SCHEMA + "Discontinued", free_pdf=free_pdf)
    if status in codes.PAUSED_STATUSES:
        return _notify()
    published = publication.publication_date
    expected = publication.expected_ship_date
    if status == codes.FORTHCOMING or availability in codes.NOT_YET_AVAILABLE:
        ships = expected or published
        when = _due(published, today)
        note = (
            f"Published {when}. Pre-order now: you pay today and we post your copy on publication."
            if when
            else "Being published now. Pre-order: you pay today and we post your copy as soon as "
            "we have it."
        )
        return Offer(PREORDER, "Pre-order", note, SCHEMA + "PreOrder", available_from=ships)
    if availability in codes.TEMPORARILY_UNAVAILABLE:
        if availability == codes.REPRINTING or expected is not None:
            what = "Reprinting" if availability == codes.REPRINTING else "Out of stock"
            return _backorder(what, expected, today)
        return _notify()
    if availability in codes.SOLD_FROM_STOCK:
        if publication.stock > 0:
            return Offer(BUY, "In stock", "In stock.", SCHEMA + "InStock",
                         copies_left=publication.stock)
        if _due(expected, today):
            return _backorder("Out of stock", expected, today)
        if availability in codes.MADE_TO_ORDER:
            return Offer(
                BACKORDER, "Order now",
                "Printed to order: you pay today and we post your copy as soon as it is printed.",
                SCHEMA + "BackOrder", available_from=expected,
            )
        return _notify()
    return _notify()


def _backorder(what: str, expected: date | None, today: date) -> Offer:
    when = _due(expected, today)
    note = (
        f"{what}: ships from {long_date(expected)}. Order now: you pay today and we post your "
        "copy as soon as copies arrive."
        if when and expected is not None
        else f"{what}: copies are due shortly. Order now: you pay today and we post your copy as "
        "soon as they arrive."
    )
    return Offer(BACKORDER, "Order now", note, SCHEMA + "BackOrder", available_from=expected)


def _notify() -> Offer:
    return Offer(
        NOTIFY,
        "Out of stock",
        "Out of stock, and we have no date for new copies yet. Leave your email address and we "
        "will tell you when you can order it.",
        SCHEMA + "OutOfStock",
    )


def may_ship(publication: Any, today: date) -> bool:
    """Whether copies may be sent out now: not before publication (forthcoming, or not yet
    available, or a publication date still to come). The desk allocates waiting orders only
    then, so no pre-order leaves before its publication day."""
    if publication.publishing_status == codes.FORTHCOMING:
        return False
    if publication.availability in codes.NOT_YET_AVAILABLE:
        return False
    published = publication.publication_date
    return published is None or published <= today


def last_changed(publication: Any, updated: date, today: date) -> date:
    """When the page last changed: its last edit, or a date of its lifecycle that has since come
    (a publication day or a due date changes what ``offer`` says). For the sitemap."""
    dates = [updated]
    dates += [day for day in (publication.publication_date, publication.expected_ship_date)
              if day is not None and day <= today]
    return max(dates)
