"""Finding 4: four unpaid checkouts of 50 copies from one address took a title from 200 to 0.
Now the copies unpaid checkouts hold are capped per title, per client address and per basket
(CHECKOUT_HOLD_LIMIT, by default twice MAX_COPIES_PER_LINE)."""

import re

import requests
from sqlalchemy import select

from shop.catalogue.models import Publication
from shop.orders.models import Order
from tests.conftest import ISBN, Shopper, deliver_event, make_publication, pay, start_checkout
from tests.support import form_token, race

HELD = "copies of “Leadership and engagement for improvement in the NHS: Together we can” waiting in unpaid checkouts"


def stock(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(Publication.stock).filter_by(isbn=ISBN))


def from_address(app, address: str) -> Shopper:
    """A new browser at ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return Shopper(client)


def test_one_address_cannot_hold_more_than_the_cap(app, sandbox, db):
    make_publication(stock=200)
    assert app.config["CHECKOUT_HOLD_LIMIT"] == 2 * app.config["MAX_COPIES_PER_LINE"] == 100
    outcomes = []
    for _ in range(4):
        shopper = from_address(app, "203.0.113.9")  # a new browser each time, one address
        shopper.add(quantity=50)
        outcomes.append(shopper.checkout().headers["Location"])
    assert [o.startswith(sandbox.url) for o in outcomes] == [True, True, False, False]
    page = shopper.basket_page()
    assert f"You already have 100 {HELD} from this address" in page
    assert "at most 100 can be held at once" in page
    assert shopper.basket() == {ISBN: 50}  # the basket is kept
    assert stock(db) == 100
    # Another address is not held back by it.
    other = from_address(app, "198.51.100.4")
    other.add(quantity=50)
    assert other.checkout().headers["Location"].startswith(sandbox.url)


def test_an_ipv6_network_counts_as_one_address(app, sandbox, db):
    """A home or office gets a whole IPv6 /64 and can use any address in it: the cap is kept per
    /64, so moving from one address to the next in it holds nothing more."""
    make_publication(stock=200)
    outcomes = []
    for n in range(3):
        shopper = from_address(app, f"2001:db8:1234:5678::{n + 1:x}")
        shopper.add(quantity=50)
        outcomes.append(shopper.checkout().headers["Location"].startswith(sandbox.url))
    assert outcomes == [True, True, False]
    neighbour = from_address(app, "2001:db8:1234:5679::1")  # another /64
    neighbour.add(quantity=50)
    assert neighbour.checkout().headers["Location"].startswith(sandbox.url)


def test_the_network_of_an_address():
    from shop.orders.holds import network_of

    assert network_of("203.0.113.9") == "203.0.113.9"
    assert network_of("2001:db8:1234:5678:9abc::1") == "2001:db8:1234:5678::/64"
    assert network_of("::ffff:203.0.113.9") == "203.0.113.9"
    assert network_of(None) is None


def test_one_basket_cannot_hold_more_than_the_cap_from_changing_addresses(app, sandbox, db):
    make_publication(stock=200)
    shopper = Shopper(app.test_client())
    shopper.add(quantity=50)
    locations = []
    for n in range(3):
        shopper.client.environ_base["REMOTE_ADDR"] = f"203.0.113.{n + 1}"
        locations.append(shopper.checkout().headers["Location"])
    assert [location.startswith(sandbox.url) for location in locations] == [True, True, False]
    assert f"You already have 100 {HELD} from this browser" in shopper.basket_page()


def test_paid_and_closed_checkouts_hold_nothing(app, client, sandbox, db):
    make_publication(stock=500)
    first = from_address(app, "203.0.113.9")
    session_id = start_checkout(first, sandbox, quantity=50)
    [event_id] = pay(sandbox, session_id)
    assert deliver_event(client, sandbox, event_id).status_code == 200
    for _ in range(2):
        shopper = from_address(app, "203.0.113.9")
        start_checkout(shopper, sandbox, quantity=50)  # the paid one does not count


def test_the_cap_is_per_title(app, sandbox, db):
    make_publication(stock=200)
    make_publication(isbn="9780000000017", title="Another report", stock=200)
    for _ in range(2):
        shopper = from_address(app, "203.0.113.9")
        shopper.add(quantity=50)
        shopper.add(isbn="9780000000017", quantity=50)
        assert shopper.checkout().headers["Location"].startswith(sandbox.url)


def test_the_order_keeps_a_keyed_hash_of_the_address_not_the_address(app, sandbox, db, publication):
    for address in ("203.0.113.9", "203.0.113.9", "198.51.100.4"):
        start_checkout(from_address(app, address), sandbox, quantity=1)
    orders = db.session.scalars(select(Order).order_by(Order.id)).all()
    hashes = [order.checkout_address for order in orders]
    assert hashes[0] == hashes[1] != hashes[2]
    assert all(re.fullmatch(r"[0-9a-f]{32}", h) for h in hashes)
    assert "203.0.113.9" not in hashes[0]
    assert len({order.checkout_basket for order in orders}) == 3  # three browsers


def test_simultaneous_checkouts_from_one_address_cannot_pass_the_cap_together(app, live_server, sandbox, db):
    make_publication(stock=500)
    browsers = []
    for _ in range(6):
        browser = requests.Session()
        added = browser.post(f"{live_server}/basket/add", data={"isbn": ISBN, "quantity": "50"})
        token = form_token(added.text)
        browsers.append((browser, token))

    def check_out(index: int) -> bool:
        browser, token = browsers[index]
        response = browser.post(f"{live_server}/checkout", data={"csrf_token": token}, allow_redirects=False, timeout=60)
        return response.headers.get("Location", "").startswith(sandbox.url)

    outcomes = race(6, check_out)
    assert outcomes.count(True) == 2, outcomes
    assert stock(db) == 400
