"""Checkout against the Stripe-compatible sandbox, through the real stripe-python SDK."""

import time

from sqlalchemy import select

from shop.orders.models import Order
from tests.conftest import ISBN, isbn13, make_publication, start_checkout


def only_order(db) -> Order:
    orders = db.session.scalars(select(Order)).all()
    assert len(orders) == 1
    return orders[0]


def test_checkout_records_a_pending_order_and_sends_stripe_the_right_amounts(shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox, quantity=3)
    order = only_order(db)
    assert order.status == "pending_payment"
    assert order.stripe_session_id == session_id
    assert order.reference.startswith(f"KF-{order.created_at.year}-")
    assert (order.subtotal_pence, order.postage_pence, order.total_pence) == (2550, 395, 2945)
    [line] = order.lines
    assert (line.isbn, line.unit_price_pence, line.quantity) == (ISBN, 850, 3)
    assert line.title == "Leadership and engagement for improvement in the NHS: Together we can"

    [request] = sandbox.requests_to("/v1/checkout/sessions")
    params = request["params"]
    assert params["mode"] == "payment"
    assert "payment_method_types" not in params
    [item] = params["line_items"]
    assert str(item["quantity"]) == "3"
    assert str(item["price_data"]["unit_amount"]) == "850"
    assert item["price_data"]["currency"] == "gbp"
    [option] = params["shipping_options"]
    assert str(option["shipping_rate_data"]["fixed_amount"]["amount"]) == "395"
    assert params["shipping_address_collection"]["allowed_countries"] == ["GB", "GG", "IM", "JE"]  # Royal Mail's UK prices reach the Channel Islands and Isle of Man
    assert params["client_reference_id"] == order.reference
    assert params["metadata"]["order_id"] == str(order.id)
    assert 30 * 60 < int(params["expires_at"]) - time.time() <= 31 * 60 + 5
    assert params["success_url"] == "http://shop.test/checkout/success?session_id={CHECKOUT_SESSION_ID}"
    assert request["idempotency_key"].startswith(f"checkout-{order.reference}-")


def test_two_titles_two_line_items(shopper, sandbox, db, publication):
    make_publication(isbn=isbn13(7), title="Second report", price_pence=1200)
    shopper.add(isbn=isbn13(7), quantity=1)
    start_checkout(shopper, sandbox, quantity=2)
    [request] = sandbox.requests_to("/v1/checkout/sessions")
    amounts = sorted(
        (str(i["price_data"]["unit_amount"]), str(i["quantity"])) for i in request["params"]["line_items"]
    )
    assert amounts == [("1200", "1"), ("850", "2")]
    assert only_order(db).total_pence == 1200 + 1700 + 395


def test_region_decides_postage_and_allowed_countries(shopper, sandbox, db, publication):
    start_checkout(shopper, sandbox, quantity=1, region="europe")
    [request] = sandbox.requests_to("/v1/checkout/sessions")
    countries = request["params"]["shipping_address_collection"]["allowed_countries"]
    assert "FR" in countries and "IE" in countries and "GB" not in countries
    assert only_order(db).postage_pence == 650


def test_the_region_selected_on_the_basket_is_the_one_paid_without_updating_postage(shopper, sandbox, db, publication):
    shopper.add(quantity=1)
    page = shopper.basket_page()
    # One form holds the region and the Pay button; "Update postage" posts the same form elsewhere.
    form = page[page.index('<form method="post" action="/checkout"'):]
    form = form[:form.index("</form>")]
    assert 'name="region"' in form and 'formaction="/basket/region"' in form and "Continue to payment" in form
    response = shopper.post("/checkout", region="world")  # never pressed "Update postage"
    assert response.status_code == 303
    [request] = sandbox.requests_to("/v1/checkout/sessions")
    countries = request["params"]["shipping_address_collection"]["allowed_countries"]
    assert "US" in countries and "AU" in countries and "GB" not in countries
    [option] = request["params"]["shipping_options"]
    assert str(option["shipping_rate_data"]["fixed_amount"]["amount"]) == "950"
    assert only_order(db).postage_pence == 950 and only_order(db).region == "world"
    assert "Postage to Rest of world" in shopper.basket_page()  # and it is remembered


def test_an_unknown_region_on_checkout_is_refused_with_the_basket_kept(shopper, sandbox, db, publication):
    shopper.add(quantity=1)
    response = shopper.post("/checkout", region="moon")
    assert response.status_code == 303 and response.headers["Location"].endswith("/basket")
    assert "Please choose a delivery region from the list." in shopper.basket_page()
    assert sandbox.requests_to("/v1/checkout/sessions") == []
    assert shopper.basket() == {ISBN: 1}


def test_a_forged_price_on_checkout_is_ignored(shopper, sandbox, db, publication):
    shopper.add(quantity=1)
    response = shopper.post("/checkout", price="0.01", amount_total="1", unit_amount="1")
    assert response.status_code == 303
    [request] = sandbox.requests_to("/v1/checkout/sessions")
    assert str(request["params"]["line_items"][0]["price_data"]["unit_amount"]) == "850"
    assert only_order(db).total_pence == 850 + 250


def test_stripe_down_keeps_the_basket_and_closes_the_order(shopper, sandbox, db, publication):
    shopper.add(quantity=2)
    sandbox.post("/_sandbox/fail", count=5, status=500)
    response = shopper.checkout()
    assert response.status_code == 303 and response.headers["Location"] == "/basket"
    page = shopper.basket_page()
    assert "could not reach our payment provider" in page
    assert shopper.basket() == {ISBN: 2}
    order = only_order(db)
    assert order.status == "failed_to_start"
    assert order.stripe_session_id is None and order.checkout_error


def test_stripe_unreachable_is_the_same_clear_message(app, shopper, db, publication):
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    app.extensions.pop("stripe_client", None)
    shopper.add(quantity=1)
    assert shopper.checkout().headers["Location"] == "/basket"
    assert "could not reach our payment provider" in shopper.basket_page()
    assert only_order(db).status == "failed_to_start"
    assert shopper.basket() == {ISBN: 1}


def test_stripe_refusing_the_request_shows_a_message(shopper, sandbox, db, publication):
    shopper.add(quantity=1)
    sandbox.post(
        "/_sandbox/fail", count=1, status=400,
        error={"type": "invalid_request_error", "message": "Invalid currency: xyz"},
    )
    assert shopper.checkout().headers["Location"] == "/basket"
    assert only_order(db).status == "failed_to_start"
    assert "basket" in shopper.basket_page().lower()
    assert shopper.basket() == {ISBN: 1}


def test_empty_basket_cannot_check_out(shopper, sandbox, db, publication):
    response = shopper.checkout()
    assert response.headers["Location"] == "/basket"
    assert "Your basket is empty" in shopper.basket_page()
    assert db.session.scalars(select(Order)).all() == []
    assert sandbox.requests_to("/v1/checkout/sessions") == []


def test_checkout_refuses_a_basket_with_more_than_the_stock(shopper, sandbox, db, publication):
    shopper.add(quantity=5)
    publication.stock = 2
    db.session.commit()
    assert shopper.checkout().headers["Location"] == "/basket"
    assert "Only 2 copies left" in shopper.basket_page()
    assert db.session.scalars(select(Order)).all() == []


def test_checkout_without_csrf_token_is_refused(client, sandbox, db, publication):
    assert client.post("/checkout").status_code == 400
    assert db.session.scalars(select(Order)).all() == []


def test_one_address_cannot_hold_the_stock_with_endless_checkouts(app, shopper, sandbox, db, publication):
    app.config["CHECKOUT_LIMIT_PER_ADDRESS"] = "3 per 10 minutes"
    shopper.add(quantity=1)
    responses = [shopper.checkout() for _ in range(4)]
    assert [response.status_code for response in responses] == [303, 303, 303, 429]
    assert len(sandbox.requests_to("/v1/checkout/sessions")) == 3
    # The limiter's own after_request hook still runs on a limited view (shop.web.hooks trims it
    # to such views): it says how many checkouts are left, and when to come back.
    assert [response.headers.get("X-RateLimit-Remaining") for response in responses[:3]] == ["2", "1", "0"]
    assert 0 < int(responses[3].headers["Retry-After"]) <= 600


def test_a_long_title_and_subtitle_fit_in_the_order(shopper, sandbox, db):
    make_publication(title="T" * 300, subtitle="S" * 300)
    start_checkout(shopper, sandbox, quantity=1)
    assert only_order(db).lines[0].title == "T" * 300 + ": " + "S" * 300


def test_an_oversized_request_is_refused_before_it_is_read(client, publication):
    response = client.post("/basket/add", data={"isbn": ISBN, "quantity": "1", "pad": "x" * (5 * 1024 * 1024)})
    assert response.status_code == 413
