"""Who sells and on what terms: the footer of every public page, the four information pages
filled from config, and a publisher's own Markdown in their place, rendered safely."""

import html

import pytest

from shop.web.pagecache import EXTENSION
from tests.conftest import ISBN, Shopper

PAGES = {
    "/terms": "Terms of sale",
    "/delivery-and-returns": "Delivery and returns",
    "/privacy": "Privacy",
    "/contact": "Contact us",
}


@pytest.fixture
def pages_dir(app, tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    app.config["PAGES_DIR"] = str(folder)
    return folder


def test_every_public_page_says_who_sells_and_links_the_terms(client, shopper, publication):
    shopper.add()
    for path in ["/", f"/publications/{ISBN}", "/?q=nothing-matches", *PAGES]:
        page = client.get(path).get_data(as_text=True)
        footer = page[page.index('<footer class="site-footer">'):]
        for url, title in PAGES.items():
            assert f'<a href="{url}">{title}</a>' in footer, (path, url)
        assert "Sold by Example Publisher Ltd, 1 Example Street, Exampleton, EX0 0EX, United Kingdom." in footer
        assert '<a href="mailto:orders@example.org">orders@example.org</a>' in footer
        assert '<a href="tel:01632960000">01632 960000</a>' in footer
    basket = shopper.basket_page()
    assert "Sold by Example Publisher Ltd" in basket


def test_vat_number_and_registration_show_only_when_set(app, client):
    assert "VAT number" not in client.get("/contact").get_data(as_text=True)
    from shop import create_app

    # The seller is read once, when the app is built (cached pages show it): build another.
    other = create_app({**app.config, "SELLER_VAT_NUMBER": "GB 123 4567 89",
                        "SELLER_REGISTRATION": "Company number 01234567"})
    page = other.test_client().get("/contact").get_data(as_text=True)
    assert "Company number 01234567." in page and "VAT number GB 123 4567 89." in page


def test_the_pages_are_filled_from_config(client):
    for path, title in PAGES.items():
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert f"<h1>{title}</h1>" in page
        assert "Example Publisher Ltd" in page and "orders@example.org" in page, path
        assert "Set-Cookie" not in response.headers
    delivery = client.get("/delivery-and-returns").get_data(as_text=True)
    for amount in ("£2.50", "£3.95", "£6.95", "£11.95", "£6.50", "£9.50", "£49.50"):
        assert amount in delivery  # every band of POSTAGE_REGIONS
    assert "1 copy" in delivery and "2 to 3 copies" in delivery and "11 or more copies" in delivery
    assert "UK, Channel Islands and Isle of Man: usually 2 to 5 working days" in delivery
    assert "Rest of world: usually 7 to 21 working days" in delivery
    assert "within 14 days" in delivery and "Damaged or wrong copies" in delivery
    assert "1 Example Street" in delivery  # where to send a return
    privacy = client.get("/privacy").get_data(as_text=True)
    for fact in ("Stripe", "Our staff", "Comments on publications", "job title", "six years",
                 "a copy of what we keep", "delete it", "Information Commissioner"):
        assert fact in privacy, fact
    terms = client.get("/terms").get_data(as_text=True)
    assert "zero-rated" in terms and "England and Wales" in terms
    contact = client.get("/contact").get_data(as_text=True)
    assert '<a href="tel:01632960000">01632 960000</a>' in contact and "up to 50 copies" in contact


def test_a_delivery_estimate_is_on_the_publication_page_and_the_basket(client, shopper, publication):
    page = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert "Usual delivery time: UK, Channel Islands and Isle of Man, 2 to 5 working days; Europe, 5 to 10 working days" in page
    shopper.add()
    shopper.region("europe")
    assert "Delivery to Europe usually takes 5 to 10 working days from payment." in shopper.basket_page()


def test_a_publisher_replaces_a_page_with_markdown_shown_safely(client, pages_dir):
    (pages_dir / "terms.md").write_text(
        "# Our terms\n\nWe sell *print* copies.\n\n<script>alert('x')</script>\n\n"
        "[a link](javascript:alert(1)) and [ours](https://publisher.example/terms)\n",
        encoding="utf-8",
    )
    response = client.get("/terms")
    page = response.get_data(as_text=True)
    assert "<h1>Our terms</h1>" in page and "<em>print</em>" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert('x')&lt;/script&gt;" in page
    assert 'href="javascript:' not in page and 'href="https://publisher.example/terms"' in page
    assert "Set-Cookie" not in response.headers
    assert "Sold by Example Publisher Ltd" in page  # the footer stays
    # The other pages are still ours.
    assert "<h1>Privacy</h1>" in client.get("/privacy").get_data(as_text=True)


def test_an_edited_file_shows_at_once_though_pages_are_cached(app, client, pages_dir):
    cache = app.extensions[EXTENSION]
    assert cache is not None
    client.get("/contact")
    before = len(cache)
    client.get("/contact")
    assert len(cache) == before  # the second reader got the cached page
    (pages_dir / "contact.md").write_text("Write to us at the *new* address.", encoding="utf-8")
    page = client.get("/contact").get_data(as_text=True)
    assert "<em>new</em> address" in page and "<h1>Contact us</h1>" in page  # a title even without one
    (pages_dir / "contact.md").write_text("Write to us at the *newer* address.", encoding="utf-8")
    assert "<em>newer</em>" in client.get("/contact").get_data(as_text=True)
    (pages_dir / "contact.md").unlink()
    assert "This shop is run by Example Publisher Ltd" in client.get("/contact").get_data(as_text=True)


def test_a_reader_with_a_basket_gets_the_same_page(client, shopper, publication):
    shopper.add()
    assert "Terms of sale" in Shopper(client).client.get("/terms").get_data(as_text=True)


def test_contact_us_lines_lead_somewhere(client, shopper, publication, app):
    app.config["MAX_COPIES_PER_LINE"] = 3
    app.config["INVOICE_MAX_COPIES_PER_LINE"] = 3
    shopper.add(quantity=3)
    shopper.add(quantity=1)
    assert "For larger orders, email us at orders@example.org." in shopper.basket_page()


def test_the_terms_say_how_to_complain_and_which_dispute_service_if_any(app, client):
    """Consumer Contracts Regulations (Schedule 2) and the ADR Regulations: how to complain, and
    the alternative dispute resolution body the seller uses, or that it uses none."""
    terms = html.unescape(client.get("/terms").get_data(as_text=True))
    assert "Complaints" in terms and "We reply within 5 working days" in terms
    assert "We do not use an alternative dispute resolution service" in terms
    assert "Pre-orders and back-orders" in terms and "bank Direct Debit" in terms
    from shop import create_app

    # The seller is read once, when the app is built: build another, as for the VAT number.
    other = create_app({**app.config, "SELLER_ADR": "The Retail Ombudsman Example, https://adr.example.org"})
    terms = html.unescape(other.test_client().get("/terms").get_data(as_text=True))
    assert "The Retail Ombudsman Example, https://adr.example.org" in terms
    assert "We do not use an alternative dispute resolution service" not in terms


def test_the_privacy_notice_covers_notify_me_and_checkout_holds(client):
    privacy = html.unescape(client.get("/privacy").get_data(as_text=True))
    assert '"Notify me" requests' in privacy and "lapses after a year" in privacy
    assert "never the address itself" in privacy


@pytest.mark.parametrize("written, uri", [
    ("01632 960000", "01632960000"),
    ("+44 (0)20 7946 0000", "+442079460000"),
    ("+44 (0) 20-7946-0000", "+442079460000"),
])
def test_a_telephone_link_dials_the_number_as_written(written, uri):
    from shop.seller import Seller

    assert Seller("S", "A", "e@example.org", phone=written).phone_uri == uri
