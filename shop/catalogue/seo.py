"""What search engines read: schema.org JSON-LD for a publication, and the sitemap's entries."""

from sqlalchemy import select

from shop.catalogue.models import Publication
from shop.extensions import db
from shop.money import decimal_pounds


def public_url(path: str, base_url: str) -> str:
    """An absolute address on the shop's public host (not whatever Host a request carried)."""
    return base_url + path


def book_structured_data(publication: Publication, page_url: str, image_url: str | None = None) -> dict:
    """schema.org ``Book`` with its ``Offer``, for search engines (JSON-LD); ``image_url``: the
    cover's largest copy, when it has one."""
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
            "price": decimal_pounds(publication.price_pence),
            "priceCurrency": "GBP",
            "availability": availability,
            "itemCondition": "https://schema.org/NewCondition",
        },
    }
    if publication.subtitle:
        data["alternativeHeadline"] = publication.subtitle
    if publication.summary:
        data["description"] = publication.summary
    if image_url:
        data["image"] = image_url
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
