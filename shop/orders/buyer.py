"""What a buyer's order page needs beyond the order itself: the catalogue rows of its lines,
for their covers. Reads only."""

from sqlalchemy import select

from shop.catalogue.models import Publication
from shop.extensions import db
from shop.orders.models import Order


def line_publications(order: Order) -> dict[int, Publication]:
    """The publications the order's lines came from, by id, in one query (a line whose title
    has since left the catalogue has none)."""
    ids = {line.publication_id for line in order.lines if line.publication_id}
    if not ids:
        return {}
    return {p.id: p for p in db.session.scalars(select(Publication).where(Publication.id.in_(ids)))}
