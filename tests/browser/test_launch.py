"""Ready to launch, in a real browser: the footer's links and every information page; a
publication page with its cover; a purchase to "Rest of world" paid without pressing "Update
postage", through to the order page and its VAT receipt. Every step is checked as in the
journey (screenshot at desktop and 375 px, axe-core with no serious violation, console errors)."""

import io
import re

import pytest

from tests.conftest import ISBN

pytestmark = pytest.mark.browser

FOOTER_PAGES = [
    ("Terms of sale", "/terms", "Terms of sale"),
    ("Delivery and returns", "/delivery-and-returns", "Delivery and returns"),
    ("Privacy", "/privacy", "Privacy"),
    ("Contact us", "/contact", "Contact us"),
]


@pytest.fixture
def with_cover(app, shop, db, tmp_path):
    """The first title with an uploaded cover, stored through the upload path."""
    from PIL import Image, ImageDraw

    from shop.catalogue.covers import store_cover

    app.config["COVERS_DIR"] = str(tmp_path / "covers")
    image = Image.new("RGB", (600, 900), (29, 79, 145))
    ImageDraw.Draw(image).rectangle((60, 120, 540, 300), fill=(255, 255, 255))
    data = io.BytesIO()
    image.save(data, format="PNG")
    with app.test_request_context():
        store_cover(shop.publication, data.getvalue(), app.config["COVERS_DIR"], "test")
        db.session.commit()
    return shop.publication


def test_footer_links_lead_to_every_information_page(open_tab, shop):
    from playwright.sync_api import expect

    tab = open_tab()
    page = tab.page
    tab.goto("/")
    footer = page.locator("footer.site-footer")
    expect(footer).to_contain_text("Sold by Example Publisher Ltd, 1 Example Street")
    tab.step("catalogue-footer")
    for link, path, heading in FOOTER_PAGES:
        page.get_by_role("navigation", name="About the shop").get_by_role("link", name=link).click()
        expect(page).to_have_url(shop.url + path)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.locator("footer.site-footer")).to_contain_text("orders@example.org")
        tab.step(path.strip("/"))
    # The postage table is the one in config, region by region.
    tab.goto("/delivery-and-returns")
    expect(page.get_by_role("table", name=re.compile("^Rest of world"))).to_contain_text("£9.50")


def test_a_publication_page_shows_its_cover(open_tab, shop, with_cover):
    from playwright.sync_api import expect

    tab = open_tab()
    page = tab.page
    tab.goto("/")
    card_cover = page.locator(".publication-card img.cover").first
    expect(card_cover).to_be_visible()
    tab.step("catalogue-with-covers")
    tab.goto(f"/publications/{ISBN}")
    cover = page.get_by_role("img", name=f"Cover of {shop.publication.title}")
    expect(cover).to_be_visible()
    loaded = cover.evaluate("img => [img.complete, img.naturalWidth, img.currentSrc]")
    assert loaded[0] and loaded[1] > 0 and "/covers/f/" in loaded[2], loaded
    og = page.locator('meta[property="og:image"]').get_attribute("content")
    assert og and og.startswith(shop.url + "/covers/f/") and og.endswith("-600.jpg")
    tab.step("publication-with-cover")


def test_rest_of_world_paid_without_updating_postage_then_order_page_and_receipt(open_tab, shop, with_cover, db):
    from playwright.sync_api import expect
    from pypdf import PdfReader

    tab = open_tab()
    page = tab.page
    tab.goto(f"/publications/{ISBN}")
    page.get_by_role("button", name="Add to basket").click()
    expect(page.locator(".totals")).to_contain_text("Postage to UK, Channel Islands and Isle of Man£2.50")
    expect(page.locator("table.basket img.cover")).to_be_visible()
    tab.step("basket-uk")

    # Choose "Rest of world" and pay at once: the page still shows UK postage, the payment
    # charges world postage and offers only countries outside the UK.
    page.get_by_label("Deliver to").select_option(label="Rest of world")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(re.escape(shop.sandbox.url) + r"/pay/cs_test_\w+"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay £18.00")  # £8.50 + £9.50
    countries = page.get_by_label("Country").locator("option").evaluate_all("options => options.map(o => o.value)")
    assert "US" in countries and "AU" in countries and "GB" not in countries, countries
    tab.step("payment-page-world", ours=False)

    page.get_by_label("Email address").fill("reader@example.edu")
    page.get_by_label("Full name").fill("Rowan Reader")
    page.get_by_label("Address line 1").fill("12 College Avenue")
    page.get_by_label("Town or city").fill("Boston")
    page.get_by_label("Postcode").fill("02115")
    page.get_by_label("Country").select_option("US")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry date").fill("12/39")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name="Pay £18.00").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: your order is confirmed")
    expect(page.locator(".confirmation-sent")).to_contain_text("reader@example.edu")
    expect(page.locator(".delivery-estimate")).to_contain_text("7 to 21 working days")
    tab.step("confirmation-world")

    page.get_by_role("link", name="Your order's page").click()
    expect(page).to_have_url(re.compile(re.escape(shop.url) + r"/orders/[\w.-]+$"))
    expect(page.get_by_role("heading", name=re.compile("^Status: Paid"))).to_be_visible()
    expect(page.locator(".totals")).to_contain_text("Postage to Rest of world£9.50")
    expect(page.locator("address").first).to_contain_text("Boston")
    expect(page.locator("table.order-lines img.cover")).to_be_visible()
    tab.step("order-page")

    receipt = page.get_by_role("link", name=re.compile(r"^Download your (VAT )?receipt \(PDF\)$"))
    href = receipt.get_attribute("href")
    response = page.request.get(shop.url + href)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)
    text = re.sub(r"\s+", " ", text)
    reference = page.get_by_role("heading", level=1).inner_text().rsplit(" ", 1)[1]
    for fact in (f"Receipt number {reference}", "Rowan Reader", "Postage to Rest of world", "£9.50", "Total paid £18.00"):
        assert fact in text, fact

    from tests.browser.journey import the_order

    order = the_order(db)
    assert (order.region, order.postage_pence, order.ship_country) == ("world", 950, "US")
