"""No input produces a 500: each gets a message or a 4xx page in the shop's own layout."""

import pytest

from tests.conftest import ISBN


@pytest.mark.parametrize(
    "method, url, status",
    [
        ("get", "/no-such-page", 404),
        ("get", "/checkout", 405),
        ("get", "/basket/add", 405),
        ("get", "/publications/" + "9" * 3000, 404),
        ("get", "/?q=" + "a" * 10000, 200),
        ("get", "/?page=-5", 200),
        ("get", "/?page=99999999999999999999", 404),  # beyond the last page, and says so
        ("get", "/checkout/success?session_id=%ff", 404),
        ("get", "/checkout/success?session_id=%00", 400),
        ("get", "/?q=%00", 400),
        ("get", "/staff/login?next=%00", 400),
    ],
)
def test_odd_requests_get_a_page_not_a_crash(client, publication, method, url, status):
    response = getattr(client, method)(url)
    assert response.status_code == status
    if url == "/?page=99999999999999999999":  # past the last page: the catalogue says so
        assert "Go to page 1" in response.get_data(as_text=True)
    elif status != 200:
        assert "Browse or search the publications" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "data",
    [
        {"isbn": "x" * 100000, "quantity": "1"},
        {"isbn": ISBN, "quantity": "9" * 100000},
        {"isbn": "", "quantity": ""},
        {},
        {"isbn": ["a", "b"], "quantity": ["1", "2"]},
        {"isbn": "é", "quantity": "٣"},
    ],
)
def test_malformed_basket_forms_get_a_message(shopper, publication, data):
    response = shopper.post("/basket/add", **data)
    assert response.status_code == 303
    assert "message-error" in shopper.basket_page()


def test_an_unexpected_error_is_a_500_page_in_our_layout(app, client, publication, monkeypatch):
    from shop.catalogue import search

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(search, "search_catalogue", broken)
    response = client.get("/")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page and "boom" not in page and "Traceback" not in page


def test_nul_characters_in_a_form_are_refused(shopper, publication):
    response = shopper.post("/basket/add", isbn="978\x00", quantity="1")
    assert response.status_code == 400
    assert "character we cannot accept" in response.get_data(as_text=True)
