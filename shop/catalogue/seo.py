"""What search engines read: schema.org JSON-LD for a publication, and the sitemap's entries.
Availability in both comes from ``availability.offer``, as the page's own buy form does."""

from datetime import date

from sqlalchemy import select

from shop.catalogue import codes
from shop.catalogue.availability import Offer, last_changed
from shop.catalogue.models import Publication
from shop.extensions import db
from shop.money import decimal_pounds
from shop.text import plain_summary
from shop.timeutil import local


def public_url(path: str, base_url: str) -> str:
    """An absolute address on the shop's public host (not whatever Host a request carried)."""
    return base_url + path


def book_structured_data(
    publication: Publication, page_url: str, offer: Offer, image_url: str | None = None
) -> dict:
    """schema.org ``Book`` with its ``Offer`` (availability and, for a pre-order or a back-order,
    ``availabilityStarts``: the day copies are due), for search engines (JSON-LD); ``image_url``:
    the cover's largest copy, when it has one."""
    offer_data: dict[str, str] = {
        "@type": "Offer",
        "url": page_url,
        "price": decimal_pounds(publication.price_pence),
        "priceCurrency": "GBP",
        "availability": offer.schema_availability,
        "itemCondition": "https://schema.org/NewCondition",
    }
    if offer.available_from and offer.waits_for_stock:
        offer_data["availabilityStarts"] = offer.available_from.isoformat()
    data: dict = {
        "@context": "https://schema.org",
        "@type": "Book",
        "@id": page_url,
        "url": page_url,
        "name": publication.title,
        "isbn": publication.isbn,
        "numberOfPages": publication.pages,
        "datePublished": (
            publication.publication_date.isoformat() if publication.publication_date
            else str(publication.year)
        ),
        "bookFormat": "https://schema.org/Paperback",
        "inLanguage": "en-GB",
        "publisher": {"@type": "Organization", "name": publication.publisher},
        "offers": offer_data,
    }
    for role, key in ((codes.AUTHOR, "author"), (codes.EDITOR, "editor")):
        people = [{"@type": "Person", "name": c.name} for c in publication.contributors if c.role == role]
        if people:
            data[key] = people
    if publication.subtitle:
        data["alternativeHeadline"] = publication.subtitle
    if publication.summary:
        data["description"] = plain_summary(publication.summary)
    if image_url:
        data["image"] = image_url
    return data


def sitemap_entries(today: date) -> list[tuple[str, date]]:
    """(ISBN, day last modified) of every publication on sale, in one narrow query. A page
    changes when it is edited, and when a day its offer depends on comes (``last_changed``)."""
    rows = db.session.execute(
        select(
            Publication.isbn, Publication.updated_at, Publication.publication_date,
            Publication.expected_ship_date,
        )
        .where(Publication.on_sale.is_(True))
        .order_by(Publication.isbn)
    )
    return [(row.isbn, last_changed(row, local(row.updated_at).date(), today)) for row in rows]
