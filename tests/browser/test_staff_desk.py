"""A morning's packing in a real browser: twenty orders to pack, all ticked, their packing slips
printed, exported for Royal Mail Click & Drop, the tracking numbers Click & Drop gives back
imported, and every order dispatched. Then the careful refund and cancel pages, the dashboard's
charts and a batch dispatch. Every step is checked as in the journey (screenshot at desktop and
375 px, axe-core, console errors)."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from shop.orders.models import Order
from tests.conftest import STAFF_EMAIL, STAFF_PASSWORD, make_order

pytestmark = pytest.mark.browser


def _sign_in(open_tab):
    from playwright.sync_api import expect

    tab = open_tab()
    tab.goto("/staff/login")
    tab.page.get_by_label("Email").fill(STAFF_EMAIL)
    tab.page.get_by_label("Password").fill(STAFF_PASSWORD)
    tab.page.get_by_role("button", name="Sign in").click()
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    return tab


def _orders(count: int) -> list[Order]:
    start = datetime.now(UTC) - timedelta(days=2)
    return [
        make_order(name=f"Reader {n:02d}", email=f"reader{n}@example.org", postcode=f"LS{n % 9 + 1} 1AA",
                   created_at=start + timedelta(minutes=n))
        for n in range(count)
    ]


def test_a_mornings_packing(open_tab, shop, db, tmp_path):
    from playwright.sync_api import expect

    orders = _orders(20)
    tab = _sign_in(open_tab)
    page = tab.page
    tab.step("dashboard")
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="To pack").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("To pack")
    expect(page.get_by_role("status").first).to_contain_text("20 orders to pack")
    tab.step("to-pack")

    page.get_by_role("link", name="Tick every order on this page", exact=True).click()
    boxes = page.locator('input[name="ref"]')
    expect(boxes).to_have_count(20)
    assert all(boxes.nth(n).is_checked() for n in range(20))
    tab.step("all-ticked")

    page.get_by_role("button", name="Print packing slips").click()
    expect(page.locator(".slip-page")).to_have_count(20)
    expect(page.locator(".slip-page").first).to_contain_text(orders[0].reference)  # oldest first
    tab.step("packing-slips")
    page.go_back()

    expect(page.get_by_role("heading", level=1)).to_have_text("To pack")
    assert all(boxes.nth(n).is_checked() for n in range(20))
    with page.expect_download() as download:
        page.get_by_role("button", name="Export for Click & Drop").click()
    exported = download.value.path().read_text(encoding="utf-8")
    # A download ends its navigation with ERR_ABORTED: that is the browser saving the file.
    tab._pending[:] = [p for p in tab._pending if not ("ERR_ABORTED" in p and "/staff/orders/batch" in p)]
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert sorted(row["Order reference"] for row in rows) == sorted(o.reference for o in orders)
    assert {row["Package Size"] for row in rows} == {"large letter"}

    # What Click & Drop gives back after labels are bought: its own columns, our references.
    back = io.StringIO()
    writer = csv.writer(back)
    writer.writerow(["Order reference", "Recipient", "Service", "Tracking number"])
    for n, row in enumerate(rows):
        writer.writerow([row["Order reference"], row["Full name"], "TPS48", f"TT{n:09d}GB"])
    tracking_file = tmp_path / "click-drop-export.csv"
    tracking_file.write_text(back.getvalue(), encoding="utf-8")

    page.get_by_role("link", name="Import tracking numbers from Click & Drop").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import tracking numbers from Click & Drop")
    tab.step("tracking-import")
    page.get_by_label("Click & Drop export (CSV)").set_input_files(str(tracking_file))
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_role("heading", name="Checked: nothing has changed yet")).to_be_visible()
    expect(page.locator(".report-counts")).to_contain_text("20 matched (would be marked dispatched)")
    tab.step("tracking-checked")
    page.get_by_label("Click & Drop export (CSV)").set_input_files(str(tracking_file))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Imported")).to_be_visible()
    expect(page.locator(".report-counts")).to_contain_text("20 matched and marked dispatched")
    tab.step("tracking-imported")

    tab.goto("/staff/orders?status=to_pack")
    expect(page.get_by_role("status").first).to_contain_text("0 orders to pack")
    tab.step("nothing-left-to-pack")
    db.session.expire_all()
    dispatched = db.session.scalars(select(Order).where(Order.id.in_([o.id for o in orders]))).all()
    assert {(o.status, o.carrier) for o in dispatched} == {("dispatched", "Royal Mail")}
    assert {o.tracking_number for o in dispatched} == {f"TT{n:09d}GB" for n in range(20)}


def test_batch_dispatch_refund_and_cancel_pages(open_tab, shop, db):
    from playwright.sync_api import expect

    orders = _orders(3)
    paid = orders[0]
    paid.payment_intent_id = "pi_browser_test"
    db.session.commit()
    tab = _sign_in(open_tab)
    page = tab.page
    tab.goto("/staff/orders?status=to_pack")
    page.get_by_label(f"Select {orders[1].reference}").check()
    page.get_by_label(f"Select {orders[2].reference}").check()
    page.get_by_role("button", name="Mark dispatched…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mark 2 orders dispatched")
    page.get_by_label(f"Tracking number of {orders[1].reference}").fill("RM100GB")
    tab.step("batch-dispatch-confirmation")
    page.get_by_role("button", name="Mark 2 orders dispatched").click()
    expect(page.get_by_role("status").first).to_contain_text("2 orders marked dispatched.")
    tab.step("batch-dispatched")

    tab.goto(f"/staff/orders/{orders[1].reference}")
    expect(page.get_by_label("Tracking number")).to_have_value("RM100GB")
    tab.step("order-with-tracking-correction")

    tab.goto(f"/staff/orders/{paid.reference}")
    page.get_by_role("link", name="Refund…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Refund order {paid.reference}")
    expect(page.get_by_label("Amount to refund (£)")).to_have_value("")
    page.get_by_role("button", name="Check the refund").click()
    expect(page.get_by_role("alert").first).to_contain_text("Choose a full refund or enter part of it.")
    tab.step("refund-errors", status=422)
    page.get_by_label("Part of it, the amount below").check()
    page.get_by_label("Amount to refund (£)").fill("2.00")
    page.get_by_label("Reason").select_option("damaged")
    page.get_by_role("button", name="Check the refund").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Refund £2.00 of order {paid.reference}?")
    tab.step("refund-confirmation")

    tab.goto(f"/staff/orders/{paid.reference}/cancel")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Cancel order {paid.reference}?")
    tab.step("cancel-confirmation")

    tab.goto("/staff")
    expect(page.locator("svg.chart")).to_have_count(2)
    page.get_by_text("The figures as a table").click()
    tab.step("dashboard-charts")
