"""Security headers on every response, and property-based checks of the parsers."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shop import create_app
from shop.basket.forms import QUANTITY_MESSAGE
from shop.errors import InvalidISBN
from shop.isbn import hyphenate, normalise
from shop.money import InvalidAmount, format_pence, parse_pounds
from tests.conftest import ISBN, isbn13
from tests.test_config import PRODUCTION


@pytest.mark.parametrize("url", ["/", f"/publications/{ISBN}", "/basket", "/healthz", "/no-such-page", "/staff/login", "/static/css/shop.css"])
def test_every_response_carries_the_security_headers(client, publication, url):
    headers = client.get(url).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in headers  # only in production, behind TLS


def test_checkout_redirects_are_allowed_by_the_policy(app, client, publication):
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "form-action 'self' https://checkout.stripe.com " + app.config["STRIPE_API_BASE"] in csp


def test_production_adds_hsts(monkeypatch):
    for key, value in {**PRODUCTION, "DATABASE_URL": "sqlite://"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("STRIPE_API_BASE", raising=False)
    response = create_app().test_client().get("/static/css/shop.css")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_isbn_parsing_never_crashes_and_only_yields_valid_isbns(text):
    try:
        isbn = normalise(text)
    except InvalidISBN as error:
        assert "ISBN" in error.message
    else:
        assert len(isbn) == 13 and isbn.isdigit()
        assert normalise(hyphenate(isbn)) == isbn


@given(st.integers(min_value=0, max_value=99_999_999))
def test_every_isbn_survives_hyphenation(n):
    isbn = isbn13(n)
    assert normalise(hyphenate(isbn)) == isbn


@given(st.integers(min_value=0, max_value=999_999_999))
def test_pence_round_trip_through_pounds(pence):
    text = format_pence(pence)
    assert parse_pounds(text.replace(",", "")) == pence


@given(st.text(max_size=30))
@settings(max_examples=300)
def test_pounds_parsing_refuses_or_returns_whole_pence(text):
    try:
        pence = parse_pounds(text)
    except InvalidAmount as error:
        assert str(error)
    else:
        assert isinstance(pence, int) and pence >= 0


QUANTITY_APP = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "WTF_CSRF_ENABLED": False})


@given(st.one_of(st.text(max_size=20), st.integers(min_value=-10**12, max_value=10**12).map(str)))
@settings(max_examples=300, deadline=None)
def test_basket_quantities_are_whole_numbers_in_range_or_refused(text):
    """Whatever is typed, the basket takes a whole number from 1 to 50 or says what to type."""
    from shop.basket.forms import QuantityForm
    from shop.basket.services import check_quantity
    from shop.errors import BasketError

    with QUANTITY_APP.test_request_context(method="POST", data={"isbn": ISBN, "quantity": text}):
        form = QuantityForm()
        if not form.validate():
            assert form.errors["quantity"][0] in (QUANTITY_MESSAGE,)
            return
        quantity = form.quantity.data
        assert isinstance(quantity, int) and text.strip().isdigit()
        try:
            check_quantity(quantity, 50)
        except BasketError as error:
            assert not 1 <= quantity <= 50
            assert "from 1 to 50" in error.message
        else:
            assert 1 <= quantity <= 50 and quantity == int(text.strip())
