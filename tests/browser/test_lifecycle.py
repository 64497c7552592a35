"""A pre-order and a notify-me request in a real browser: each step screenshotted at desktop and
375 px, checked with axe-core (no serious or critical violations) and for console errors."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shop.catalogue.availability import long_date
from shop.catalogue.models import Publication
from shop.emails.models import NOTIFY_CONFIRM, OutboxEmail
from shop.timeutil import local_today
from tests.browser.journey import GOOD_CARD, fill_payment_page, the_order
from tests.conftest import ISBN, isbn13

pytestmark = pytest.mark.browser

SOON = local_today() + timedelta(days=40)


def test_a_reader_preorders_a_forthcoming_report_and_pays_now(open_tab, shop, db):
    from playwright.sync_api import expect

    db.session.execute(update(Publication).where(Publication.isbn == ISBN).values(
        publishing_status="02", availability="10", publication_date=SOON, year=SOON.year, stock=0))
    db.session.commit()
    reader = open_tab()
    page = reader.page
    reader.goto("/")
    expect(page.locator(".publication-card").filter(has_text=shop.publication.title)).to_contain_text(
        f"Pre-order: published {long_date(SOON)}")
    reader.step("catalogue-with-a-preorder")

    reader.goto(f"/publications/{ISBN}")
    expect(page.locator("#offer-note")).to_contain_text(f"Published on {long_date(SOON)}")
    reader.step("forthcoming-publication")
    page.get_by_role("button", name="Pre-order").click()
    expect(page).to_have_url(f"{shop.url}/basket")
    expect(page.locator(".offer-note")).to_contain_text("Pre-order.")
    expect(page.locator("#waits-note")).to_contain_text("posted in one parcel")
    page.get_by_label("Deliver to").select_option(label="Europe")
    page.get_by_role("button", name="Update postage").click()
    reader.step("basket-with-a-preorder")

    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(re.escape(shop.sandbox.url) + r"/pay/cs_test_\w+"))
    fill_payment_page(page, GOOD_CARD)
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: your order is confirmed")
    expect(page.locator("table.basket")).to_contain_text(f"Pre-order: expected {long_date(SOON)}")
    expect(page.get_by_text("We will post your order when every title in it has arrived")).to_be_visible()
    reader.step("preorder-confirmed")
    order = the_order(db)
    assert order.status == "paid" and order.awaiting_stock


def test_a_reader_asks_to_be_told_and_confirms_from_the_email(open_tab, shop, db):
    from playwright.sync_api import expect

    db.session.execute(update(Publication).where(Publication.isbn == isbn13(1)).values(availability="31", stock=0))
    db.session.commit()
    reader = open_tab()
    page = reader.page
    reader.goto(f"/publications/{isbn13(1)}")
    expect(page.locator("#offer-note")).to_contain_text("we have no date for new copies yet")
    reader.step("out-of-stock-publication")

    # An address the browser lets through but we cannot send to: the message is beside the
    # field, and the text is kept.
    page.get_by_label("Email me when it can be ordered").fill("reader@example")
    page.get_by_role("button", name="Notify me").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter your email address")
    expect(page.get_by_label("Email address")).to_have_value("reader@example")
    reader.step("notify-me-mistyped", status=422)

    page.get_by_label("Email address").fill("reader@example.org")
    page.get_by_role("button", name="Notify me").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    assert page.context.cookies() == []  # no session was needed at any point
    reader.step("notify-me-sent")

    db.session.expire_all()
    [email] = db.session.scalars(select(OutboxEmail).filter_by(kind=NOTIFY_CONFIRM))
    link = re.search(r"(http://[^\s]+/notify/confirm/[^\s]+)", email.text_body).group(1)
    assert link.startswith(shop.url)  # SHOP_BASE_URL: the live shop here
    reader.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your request")
    reader.step("notify-me-confirm")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmed")
    reader.step("notify-me-confirmed")
