"""Guard for the staff order list's kept statements (shop.orders.desk._kept_list_statements):
one statement per status and choice of dates, run again with each request's dates, moment and
page as bound values, answers every request as a statement built for it would."""

from datetime import UTC, date, datetime, timedelta

from shop.orders import desk
from tests.conftest import make_order

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _references(filters: desk.OrderFilters, page: int, per_page: int = 2) -> tuple[list[str], int]:
    found = desk.search_orders(filters, page=page, per_page=per_page, now=NOW, overdue_days=3)
    return [order.reference for order in found.orders], found.total


def test_one_kept_statement_answers_each_date_page_and_moment(db):
    days = [make_order(created_at=datetime(2026, 2, day, 9, tzinfo=UTC)) for day in (1, 10, 20, 27, 28)]
    refs = [order.reference for order in days]
    db.session.commit()
    desk._kept_list_statements.cache_clear()

    placed = desk.OrderFilters(status="placed", date_from=date(2026, 2, 10))
    assert _references(placed, 1) == (refs[4:2:-1], 4)  # newest first
    assert _references(placed, 2) == ([refs[2], refs[1]], 4)
    later = desk.OrderFilters(status="placed", date_from=date(2026, 2, 20), date_to=date(2026, 2, 27))
    assert _references(later, 1) == ([refs[3], refs[2]], 2)

    # "To pack": oldest first, the overdue ones (ready over three whole days before NOW) flagged
    # first; the page's statement counts them all.
    to_pack = desk.OrderFilters(status=desk.TO_PACK, date_from=date(2026, 2, 10))
    assert _references(to_pack, 1) == ([refs[1], refs[2]], 4)
    assert _references(to_pack, 2) == ([refs[3], refs[4]], 4)
    assert _references(desk.OrderFilters(status=desk.TO_PACK), 3) == ([refs[4]], 5)
    found = desk.search_orders(to_pack, page=1, per_page=5, now=NOW + timedelta(days=30), overdue_days=3)
    assert len(found.orders) == 4 and all(
        [flag.text[:8] for flag in order.flags] == ["Waiting "] for order in found.orders)

    # Built once per status and choice of dates (four here), whatever the dates, pages and
    # moments were: seven lists, three of them from a statement built before.
    kept = desk._kept_list_statements.cache_info()
    assert (kept.currsize, kept.misses, kept.hits) == (4, 4, 3)
