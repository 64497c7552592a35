"""Limits Stripe enforces, enforced by the basket before Stripe sees them: at most 100 titles (a
Checkout Session's line items), a cookie that holds them, and only countries Stripe ships to."""

import random
from typing import get_args

import pytest

from shop.basket.services import MAX_TITLES
from shop.catalogue.models import Publication
from shop.config import POSTAGE_REGIONS
from tests.conftest import make_publication
from tests.support import with_check_digit

COOKIE_BUDGET = 3000  # bytes: browsers keep cookies up to 4096, name and attributes included


def random_isbn13(rng: random.Random) -> str:
    """A valid ISBN-13 with random digits: the worst case for the cookie's compression."""
    return with_check_digit(f"978{rng.randrange(10**9):09d}")


def add_publications(db, isbns: list[str], stock: int) -> None:
    db.session.add_all(
        Publication(isbn=isbn, title=f"Report {n}", publisher="The King's Fund", year=2012, pages=48,
                    price_pence=850, stock=stock)
        for n, isbn in enumerate(isbns)
    )
    db.session.commit()


def fill(shopper, db, titles: int, copies: int) -> list[str]:
    """``titles`` titles of ``copies`` copies each, added one by one through the add form (which
    carries no CSRF token, as on the catalogue's pages)."""
    rng = random.Random(14)
    isbns = list(dict.fromkeys(random_isbn13(rng) for _ in range(titles * 2)))[:titles]
    add_publications(db, isbns, stock=500)
    for isbn in isbns:
        response = shopper.client.post("/basket/add", data={"isbn": isbn, "quantity": copies})
        assert response.status_code == 303
    return isbns


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_a_basket_holds_100_titles_at_the_most_copies_in_a_small_cookie(app, client, shopper, db):
    most = app.config["MAX_COPIES_PER_LINE"]
    isbns = fill(shopper, db, MAX_TITLES, most)
    assert shopper.basket() == {isbn: most for isbn in isbns}
    page = shopper.basket_page()  # (a page that also puts a CSRF token in the session)
    assert "Please remove some" not in page
    cookie = session_cookie(client)
    header = f"session={cookie}; Expires=Thu, 01 Jan 2099 00:00:00 GMT; HttpOnly; Path=/; SameSite=Lax"
    assert len(header) < COOKIE_BUDGET, len(header)


def test_the_101st_title_is_refused_with_a_message_and_the_basket_kept(app, client, shopper, db):
    isbns = fill(shopper, db, MAX_TITLES, 1)
    extra = make_publication(isbn="9780000000019", title="One too many", stock=10)
    shopper.add(isbn=extra.isbn)
    page = shopper.basket_page()
    assert "Your basket already holds 100 different titles" in page
    assert set(shopper.basket()) == set(isbns)
    shopper.add(isbn=isbns[0])  # more copies of a title already there are still fine
    assert shopper.basket()[isbns[0]] == 2


def test_a_basket_over_the_limit_cannot_be_paid(app, client, shopper, sandbox, db):
    """A basket from before the limit: it says why, and checkout does not reach Stripe."""
    rng = random.Random(7)
    isbns = list(dict.fromkeys(random_isbn13(rng) for _ in range(MAX_TITLES * 2)))[:MAX_TITLES + 1]
    add_publications(db, isbns, stock=5)
    with client.session_transaction() as session:
        session["basket"] = dict.fromkeys(isbns, 1)
    page = shopper.basket_page()
    assert "An order can have at most 100 different titles; this basket has 101." in page
    assert "disabled" in page
    response = shopper.checkout()
    assert response.headers["Location"] == "/basket"
    assert sandbox.requests_to("/v1/checkout/sessions") == []


def test_every_delivery_country_is_one_stripe_accepts():
    from stripe.params.checkout import SessionCreateParams

    from sandbox.conformance import _fields

    fields, _ = _fields(SessionCreateParams)
    collection = get_args(fields["shipping_address_collection"])[0]
    countries = set(get_args(get_args(get_args(_fields(collection)[0]["allowed_countries"])[0])[0]))
    assert len(countries) > 200  # Stripe's list itself, not an empty reading of it
    for region in POSTAGE_REGIONS.values():
        assert set(region["countries"]) <= countries, set(region["countries"]) - countries


def test_a_basket_over_stripes_largest_payment_is_refused_with_a_message(app, client, shopper, sandbox, db):
    """£999,999.99 is the most Stripe takes in one payment or invoice in pounds: a larger basket
    says so and goes to neither, and keeps what is in it."""
    isbns = fill(shopper, db, 3, 50)
    for publication in db.session.scalars(db.select(Publication)):
        publication.price_pence = 999_999  # £9,999.99, the most a copy may cost
    db.session.commit()
    page = shopper.basket_page()  # 150 copies at £9,999.99, and £11.95 postage
    assert "This basket comes to £1,500,010.45, and one order can be at most £999,999.99." in page
    response = shopper.checkout()
    assert response.status_code == 303 and sandbox.requests_to("/v1/checkout/sessions") == []
    assert shopper.basket() == {isbn: 50 for isbn in isbns}


def test_a_copy_costs_at_most_9999_pounds_99(db):
    from shop.catalogue.rules import RuleBroken, check_price

    check_price(999_999)
    with pytest.raises(RuleBroken, match=r"the most is £9,999\.99"):
        check_price(1_000_000)
