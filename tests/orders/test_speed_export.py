"""Guard for the streamed CSV export (docs/performance.md): it is written a batch at a time from
plain column tuples, never from ORM objects, with which it ran at about half the speed."""

from sqlalchemy import event

from shop.orders import export
from shop.orders.desk import OrderFilters
from shop.orders.models import Order, OrderLine
from tests.conftest import isbn13, make_order


def test_the_export_streams_batches_of_plain_rows(app, db, monkeypatch):
    for n in range(4):
        make_order(lines=[(isbn13(n), f"Report {n}", 900, 1), (isbn13(n + 10), "Another", 500, 2)])
    db.session.expunge_all()
    loaded = []

    def count(target, _context) -> None:
        loaded.append(target)

    monkeypatch.setattr(export, "BATCH", 3)
    for model in (Order, OrderLine):
        event.listen(model, "load", count)
    try:
        chunks = list(export.order_lines_csv(OrderFilters(status="all")))
    finally:
        for model in (Order, OrderLine):
            event.remove(model, "load", count)
    assert len("".join(chunks).splitlines()) == 1 + 8
    assert len(chunks) == 3  # header and rows 1-3, rows 4-6, rows 7-8: sent as they come
    assert loaded == []
