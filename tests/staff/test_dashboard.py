"""The dashboard: refunds counted properly, only low stock, flagged orders first, and the two
server-drawn charts with the same figures as tables and CSV."""

import csv
import io
from datetime import UTC, date, datetime, timedelta

from shop.orders import reports
from shop.staff.charts import daily_chart, nice_ceiling, title_chart
from shop.timeutil import local_today
from tests.conftest import ISBN, isbn13, make_order, make_publication


def test_a_fully_refunded_order_is_not_a_sale_and_revenue_is_net(staff_client, db):
    make_order(lines=[(ISBN, "Leadership", 850, 2)])  # £17 + £2.50
    part = make_order(lines=[(ISBN, "Leadership", 850, 1)])  # £8.50 + £2.50, £3 refunded
    part.refunded_pence = 300
    gone = make_order(status="refunded", lines=[(ISBN, "Leadership", 850, 4)])
    gone.refunded_pence = gone.amount_charged_pence
    db.session.commit()
    page = staff_client.get("/staff").get_data(as_text=True)
    today = '<th scope="row">Today</th><td class="num">2</td><td class="num">3</td><td class="num">£27.50</td>'
    assert today in page  # 2 orders, 3 copies, £19.50 + £11.00 - £3.00
    figures = reports.copies_by_title()
    assert figures == [(ISBN, "Leadership", 3, 2550)]


def test_only_low_stock_titles_are_listed(staff_client, db):
    make_publication(isbn=isbn13(1), title="Plenty left", stock=500)
    make_publication(isbn=isbn13(2), title="Nearly gone", stock=3)
    make_publication(isbn=isbn13(3), title="Sold out", stock=0)
    page = staff_client.get("/staff").get_data(as_text=True)
    low = page[page.index('id="stock-heading"'):]
    assert "Nearly gone" in low and "Sold out" in low and "Plenty left" not in low
    assert low.index("Sold out") < low.index("Nearly gone")


def test_flagged_orders_come_first_on_the_dashboard(staff_client, db):
    now = datetime.now(UTC)
    plain = make_order(created_at=now - timedelta(days=1))
    flagged = make_order(created_at=now - timedelta(hours=1))
    flagged.amount_mismatch = True
    db.session.commit()
    page = staff_client.get("/staff").get_data(as_text=True)
    assert page.index(flagged.reference) < page.index(plain.reference)
    assert "1 flagged" in page and "Amount mismatch" in page


def test_copies_per_day_by_uk_day_with_empty_days(db):
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (summer time)
    make_order(lines=[(ISBN, "A", 850, 2)], created_at=datetime(2026, 6, 30, 23, 30, tzinfo=UTC))
    make_order(lines=[(ISBN, "A", 850, 5)], created_at=datetime(2026, 6, 30, 22, 30, tzinfo=UTC))
    make_order(status="refunded", lines=[(ISBN, "A", 850, 9)], created_at=datetime(2026, 7, 1, 9, tzinfo=UTC))
    days = reports.copies_per_day(datetime(2026, 7, 2, 12, tzinfo=UTC), days=5)
    assert days == [(date(2026, 6, 28), 0), (date(2026, 6, 29), 0), (date(2026, 6, 30), 5), (date(2026, 7, 1), 2), (date(2026, 7, 2), 0)]


def test_the_charts_are_svg_with_a_table_and_csv(staff_client, db):
    make_order(lines=[(ISBN, "Leadership and engagement", 850, 3), (isbn13(9), "Another report", 900, 1)])
    page = staff_client.get("/staff").get_data(as_text=True)
    assert page.count('<svg class="chart"') == 2 and 'role="img"' in page
    assert '<title id="daily-chart-title">Copies sold per day, last 90 days</title>' in page
    assert "4 copies in the last 90 days" in page
    assert "<script" not in page
    assert "<summary>The figures as a table</summary>" in page
    daily = staff_client.get("/staff/dashboard/copies-per-day.csv")
    rows = list(csv.DictReader(io.StringIO(daily.get_data(as_text=True))))
    assert len(rows) == 90 and rows[-1] == {"date": local_today().isoformat(), "copies": "4"}
    titles = list(csv.DictReader(io.StringIO(staff_client.get("/staff/dashboard/copies-by-title.csv").get_data(as_text=True))))
    assert titles[0] == {"isbn": ISBN, "title": "Leadership and engagement", "copies": "3", "sales": "25.50"}


def test_chart_geometry():
    assert [nice_ceiling(n) for n in (0, 1, 3, 7, 10, 11, 45, 120)] == [1, 1, 5, 10, 10, 20, 50, 200]
    days = [(date(2026, 11, 1) + timedelta(days=n), n % 3) for n in range(30)]
    chart = daily_chart(days)
    assert len(chart.bars) == 30
    tallest = max(chart.bars, key=lambda bar: bar.value)
    assert tallest.height == chart.plot_height  # the axis tops at nice_ceiling(2) == 2
    assert [bar.height for bar in chart.bars[:3]] == [0, chart.plot_height / 2, chart.plot_height]
    assert all(bar.y + bar.height == chart.plot_top + chart.plot_height for bar in chart.bars)
    assert next(tick.label for tick in chart.category_ticks) == "1 Nov"
    bars = title_chart([("A report", 40), ("B report", 10)])
    assert bars.bars[0].width == bars.plot_width * 40 / 50 and bars.bars[1].width == bars.plot_width * 10 / 50
