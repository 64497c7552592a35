import re

import pytest

from shop.catalogue.models import Publication
from tests.conftest import ISBN, count_queries, isbn13, make_publication


def test_add_then_basket_shows_line_totals_postage_and_total(shopper, publication):
    response = shopper.add(quantity=2)
    assert response.status_code == 303 and response.headers["Location"] == "/basket"
    page = shopper.basket_page()
    assert "Added 2 copies of" in page
    assert "Leadership and engagement" in page and "978-1-85717-640-7" in page
    assert "£8.50" in page  # unit price
    assert "£17.00" in page  # line total and subtotal
    assert "Postage to UK, Channel Islands and Isle of Man" in page and "£3.95" in page  # 2 copies to the UK
    assert "£20.95" in page
    assert "no VAT" in page


def test_adding_again_adds_up(shopper, publication):
    shopper.add(quantity=2)
    shopper.add(quantity=3)
    assert shopper.basket() == {ISBN: 5}


def test_change_quantity_and_remove(shopper, publication):
    shopper.add(quantity=2)
    shopper.update(quantity=3)
    assert shopper.basket() == {ISBN: 3}
    assert "£25.50" in shopper.basket_page()
    shopper.remove()
    assert shopper.basket() == {}
    assert "Your basket is empty" in shopper.basket_page()


@pytest.mark.parametrize("quantity", ["0", "-1", "501", "abc", str(10**9), "1.5", "", "1e3", "٣"])
@pytest.mark.parametrize("action", ["add", "update"])
def test_bad_quantities_get_a_message_and_change_nothing(shopper, publication, quantity, action):
    shopper.add(quantity=2)
    response = getattr(shopper, action)(quantity=quantity)
    assert response.status_code == 303
    page = shopper.basket_page()
    assert shopper.basket() == {ISBN: 2}
    # 500 copies a title at most: more than a card checkout's 50, for invoices.
    assert re.search(r"whole number|from 1 to 500|up to 500", page), page


def test_maximum_per_line_is_configurable(app, shopper, publication):
    app.config["MAX_COPIES_PER_LINE"] = 5
    app.config["INVOICE_MAX_COPIES_PER_LINE"] = 5
    shopper.add(quantity=6)
    assert shopper.basket() == {}
    assert "from 1 to 5" in shopper.basket_page()


def test_forged_price_fields_are_ignored(shopper, publication):
    shopper.post("/basket/add", isbn=ISBN, quantity=1, price="0.01", price_pence="1", unit_amount="1")
    page = shopper.basket_page()
    assert shopper.basket() == {ISBN: 1}
    assert "£8.50" in page and "£0.01" not in page


def test_out_of_stock_titles_cannot_be_added(shopper, db):
    make_publication(stock=0)
    shopper.add(quantity=1)
    assert shopper.basket() == {}
    assert "out of stock" in shopper.basket_page()


def test_more_than_in_stock_is_refused_with_how_many_are_left(shopper, db):
    make_publication(stock=3)
    shopper.add(quantity=4)
    assert shopper.basket() == {}
    assert "Only 3 copies of" in shopper.basket_page()
    shopper.add(quantity=3)
    shopper.update(quantity=4)
    assert shopper.basket() == {ISBN: 3}
    assert "Only 3 copies" in shopper.basket_page()


def test_withdrawn_and_unknown_isbns_cannot_be_added(shopper, db):
    make_publication(on_sale=False)
    shopper.add(quantity=1)
    assert shopper.basket() == {}
    assert "is not on sale" in shopper.basket_page()
    shopper.add(isbn=isbn13(5), quantity=1)
    assert "We have no publication with ISBN" in shopper.basket_page()
    shopper.add(isbn="978-1-85717-640-8", quantity=1)
    assert "check digit is wrong" in shopper.basket_page()
    assert shopper.basket() == {}


def test_prices_always_come_from_the_database(shopper, db, publication):
    shopper.add(quantity=2)
    publication.price_pence = 999
    db.session.commit()
    page = shopper.basket_page()
    assert "£9.99" in page and "£19.98" in page


def test_stock_dropping_below_the_basket_marks_the_line(shopper, db, publication):
    shopper.add(quantity=5)
    publication.stock = 2
    db.session.commit()
    page = shopper.basket_page()
    assert "Only 2 copies left" in page
    assert re.search(r"<button[^>]*type=\"submit\"[^>]*class=\"primary\"[^>]*disabled", page)


@pytest.mark.parametrize(
    "region, copies, postage",
    [("uk", 1, "£2.50"), ("uk", 10, "£6.95"), ("uk", 11, "£11.95"), ("europe", 1, "£6.50"), ("world", 4, "£29.50")],
)
def test_postage_depends_on_region_and_copies(shopper, publication, region, copies, postage):
    shopper.add(quantity=copies)
    shopper.region(region)
    page = shopper.basket_page()
    assert f"<dd>{postage}</dd>" in page


def test_an_unknown_region_is_refused(shopper, publication):
    shopper.add()
    shopper.region("mars")
    assert "Please choose a delivery region" in shopper.basket_page()
    assert "Postage to UK, Channel Islands and Isle of Man" in shopper.basket_page()


def test_the_basket_cookie_outlives_the_browser(shopper, publication):
    response = shopper.add()
    cookie = response.headers["Set-Cookie"]
    assert "Expires=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_tampered_cookie_basket_is_ignored(client, app, publication):
    # A forged cookie is not signed with our key: Flask discards it.
    client.set_cookie("session", "eyJiYXNrZXQiOnsiOTc4MTg1NzE3NjQwNyI6MTAwMH19.forged.sig")
    assert "Your basket is empty" in client.get("/basket").get_data(as_text=True)


def test_basket_forms_without_csrf_token_are_refused(shopper, client, publication):
    shopper.add(quantity=2)
    for path, data in [
        ("/basket/update", {"isbn": ISBN, "quantity": 5}),
        ("/basket/remove", {"isbn": ISBN}),
        ("/basket/region", {"region": "europe"}),
        ("/checkout", {}),
    ]:
        response = client.post(path, data=data)
        assert response.status_code == 400, path
        assert "nothing was changed" in response.get_data(as_text=True)
    assert shopper.basket() == {ISBN: 2}


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another origin too
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # sandboxed iframes and some redirects
    ],
)
def test_cross_site_add_to_basket_is_refused_and_changes_nothing(client, publication, headers):
    response = client.post("/basket/add", data={"isbn": ISBN, "quantity": 3}, headers=headers)
    assert response.status_code == 403
    assert "sent from another website, so nothing was changed" in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers
    with client.session_transaction() as session:
        assert "basket" not in session


def test_cross_site_requests_are_refused_even_with_a_valid_token(shopper, publication):
    shopper.add(quantity=1)
    token = shopper.token()
    response = shopper.client.post(
        "/basket/update", data={"csrf_token": token, "isbn": ISBN, "quantity": 9},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert shopper.basket() == {ISBN: 1}


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://localhost"},  # the test client's host: a browser without Fetch Metadata
        {},  # no browser headers at all: not a cross-site form
    ],
)
def test_same_origin_add_to_basket_needs_no_token(client, publication, headers):
    response = client.post("/basket/add", data={"isbn": ISBN, "quantity": 2}, headers=headers)
    assert response.status_code == 303
    with client.session_transaction() as session:
        assert session["basket"] == {ISBN: 2}


def test_a_new_reader_gets_no_cookie_from_public_pages(client, publication):
    # No session, no token signing: public pages are the same for every new reader.
    pages = ("/", f"/publications/{ISBN}", "/?q=leadership", "/?page=2", "/basket", "/terms",
             "/delivery-and-returns", "/privacy", "/contact")
    for path in pages:
        response = client.get(path)
        assert response.status_code == (404 if path == "/?page=2" else 200), path  # one page only
        assert "Set-Cookie" not in response.headers, path
    assert 'name="csrf_token"' not in client.get(f"/publications/{ISBN}").get_data(as_text=True)


def test_basket_page_queries_do_not_grow_with_lines(shopper, db):
    make_publication()
    shopper.add()
    with count_queries(db.engine) as one_line:
        shopper.basket_page()
    for n in range(8):
        make_publication(isbn=isbn13(300 + n), title=f"Report {n}")
        shopper.add(isbn=isbn13(300 + n), quantity=n + 1)
    with count_queries(db.engine) as nine_lines:
        page = shopper.basket_page()
    assert page.count('name="quantity"') == 9
    assert nine_lines() == one_line() == 1


def test_removed_publication_drops_out_of_the_basket(shopper, db, publication):
    shopper.add()
    db.session.delete(db.session.get(Publication, publication.id))
    db.session.commit()
    page = shopper.basket_page()
    assert "no longer in our catalogue" in page
    assert shopper.basket() == {}
