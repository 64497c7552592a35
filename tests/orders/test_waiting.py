"""Pre-orders and back-orders: paid now through Stripe, queued per title, allocated oldest first
when copies arrive (goods in, or the title going on sale on its publication day), then packed;
and a changed date sent to everyone waiting, once per change."""

import html
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from shop.catalogue.availability import long_date
from shop.catalogue.models import Publication
from shop.emails.models import CONFIRMATION, NEW_DATE, OutboxEmail
from shop.orders import waiting
from shop.orders.models import Order, OrderLine
from shop.timeutil import local_today
from tests.conftest import (
    ISBN,
    edit_form,
    make_order,
    make_publication,
    page_token,
    paid_order_through_stripe,
)
from tests.support import race

SOON = local_today() + timedelta(days=60)
LATER = local_today() + timedelta(days=95)
STAFF_PAGE = f"/staff/catalogue/{ISBN}"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def goods_in(staff_client, copies: int, isbn: str = ISBN) -> str:
    token = page_token(staff_client, f"/staff/catalogue/{isbn}")
    response = staff_client.post(f"/staff/catalogue/{isbn}/stock",
                                 data={"csrf_token": token, "reason": "goods_in", "quantity": str(copies)})
    assert response.status_code == 303
    return text(staff_client.get(response.headers["Location"]))


def waiting_order(db, publication, copies: int, minutes_ago: int, sold_as: str = "backorder", **kwargs) -> Order:
    """A paid order whose one line waits for ``publication`` (made in the database: the Stripe
    journey is tested below, and these tests need several orders of known ages)."""
    order = make_order(created_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
                       lines=[(publication.isbn, publication.title, publication.price_pence, copies)], **kwargs)
    line = order.lines[0]
    line.publication_id, line.sold_as, line.awaiting_stock, line.expected_on = publication.id, sold_as, True, SOON
    db.session.commit()
    return order


def reload(db, order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


def test_a_preorder_is_paid_now_waits_for_stock_and_is_not_packed(client, sandbox, staff_client, db):
    make_publication(publishing_status="02", availability="10", publication_date=SOON, year=SOON.year, stock=0)
    order = paid_order_through_stripe(client, sandbox, quantity=2)
    assert order.status == "paid"
    [line] = order.lines
    assert (line.sold_as, line.awaiting_stock, line.expected_on) == ("preorder", True, SOON)
    assert db.session.scalar(select(Publication.stock)) == 0  # nothing reserved: there is nothing
    [email] = db.session.scalars(select(OutboxEmail).filter_by(order_id=order.id, kind=CONFIRMATION))
    assert f"Pre-order: expected {long_date(SOON)}" in email.text_body
    assert "when every title in it has arrived" in email.text_body
    assert f"expected {long_date(SOON)}" in email.html_body

    to_pack = staff_client.get("/staff/orders?status=awaiting").get_data(as_text=True)
    assert order.reference not in to_pack
    waiting_list = staff_client.get("/staff/orders?status=waiting").get_data(as_text=True)
    assert order.reference in waiting_list and "Awaiting stock" in waiting_list
    assert "1</strong> paid order waits for stock" in staff_client.get("/staff").get_data(as_text=True)

    page = text(staff_client.get(f"/staff/orders/{order.reference}"))
    assert "Mark dispatched" not in page and "waits for copies of a pre-ordered" in page
    token = page_token(staff_client, f"/staff/orders/{order.reference}")
    staff_client.post(f"/staff/orders/{order.reference}/dispatch", data={"csrf_token": token})
    assert reload(db, order).status == "paid"
    assert "still waiting for copies" in text(staff_client.get(f"/staff/orders/{order.reference}"))


def test_goods_in_allocates_waiting_orders_oldest_first_without_letting_small_ones_jump(staff_client, db):
    publication = make_publication(availability="31", expected_ship_date=SOON, stock=0)
    oldest = waiting_order(db, publication, 2, minutes_ago=30)
    middle = waiting_order(db, publication, 3, minutes_ago=20)
    newest = waiting_order(db, publication, 1, minutes_ago=10)
    refunded = waiting_order(db, publication, 1, minutes_ago=40, status="refunded")
    queue = [q.reference for q in waiting.queue(publication)]
    assert queue == [oldest.reference, middle.reference, newest.reference]  # a refunded order does not wait

    said = goods_in(staff_client, 4)
    assert f"Allocated 2 copies of “{publication.title}” to 1 order ({oldest.reference})" in said
    assert f"{middle.reference} needs 3 and 2 are left" in said
    assert not reload(db, oldest).awaiting_stock
    assert reload(db, middle).awaiting_stock and reload(db, newest).awaiting_stock  # 1 would fit; it waits its turn
    assert reload(db, refunded).awaiting_stock
    assert db.session.get(Publication, publication.id).stock == 2
    to_pack = staff_client.get("/staff/orders?status=awaiting").get_data(as_text=True)
    assert oldest.reference in to_pack and middle.reference not in to_pack

    said = goods_in(staff_client, 5)
    assert "to 2 orders" in said and "2 now ready to pack" in said
    assert db.session.get(Publication, publication.id).stock == 3
    events = [e for e in reload(db, middle).events if e.kind == "allocated"]
    assert [e.detail["copies"] for e in events] == [3]
    token = page_token(staff_client, f"/staff/orders/{middle.reference}")
    staff_client.post(f"/staff/orders/{middle.reference}/dispatch", data={"csrf_token": token})
    assert reload(db, middle).status == "dispatched"


def test_preorders_are_allocated_on_publication_day_not_when_copies_come_early(staff_client, db):
    publication = make_publication(publishing_status="02", availability="10", publication_date=SOON,
                                   year=SOON.year, stock=0)
    order = waiting_order(db, publication, 2, minutes_ago=5, sold_as="preorder")
    said = goods_in(staff_client, 10)
    assert "Allocated" not in said and reload(db, order).awaiting_stock
    queue_page = text(staff_client.get(f"/staff/orders/waiting/{ISBN}"))
    assert "Not yet: pre-orders are allocated from publication day" in queue_page
    token = page_token(staff_client, f"/staff/orders/waiting/{ISBN}")
    staff_client.post(f"/staff/orders/waiting/{ISBN}/allocate", data={"csrf_token": token})
    assert reload(db, order).awaiting_stock
    assert "is not published yet" in text(staff_client.get(f"/staff/orders/waiting/{ISBN}"))

    # Publication day: staff make it active and in stock; the same save allocates.
    today = local_today()
    edit = edit_form(staff_client, ISBN, publishing_status="04", availability="21",
                      publication_date=today.isoformat(), year=str(today.year))
    response = staff_client.post(STAFF_PAGE, data=edit)
    said = text(staff_client.get(response.headers["Location"]))
    assert f"Allocated 2 copies of “{publication.title}” to 1 order" in said
    assert not reload(db, order).awaiting_stock
    assert db.session.get(Publication, publication.id).stock == 8


def test_two_desks_allocating_at_once_never_give_a_copy_twice(app, db):
    publication = make_publication(availability="31", expected_ship_date=SOON, stock=5)
    orders = [waiting_order(db, publication, 1, minutes_ago=50 - n) for n in range(8)]

    def allocate(_index: int):
        with app.app_context():
            try:
                result = waiting.allocate(db.session.get(Publication, publication.id), local_today(), "desk")
                db.session.commit()
                return result.copies
            finally:
                db.session.rollback()

    results = race(2, allocate)
    # SQLite lets one writer in; the other may be told the database is busy (and changes nothing).
    assert all(isinstance(r, (int, OperationalError)) for r in results), results
    db.session.expire_all()
    allocated = [o for o in orders if not db.session.get(Order, o.id).awaiting_stock]
    assert sum(r for r in results if isinstance(r, int)) == len(allocated) == 5
    assert db.session.get(Publication, publication.id).stock == 0
    assert [o.reference for o in allocated] == [o.reference for o in orders[:5]]  # oldest first
    events = db.session.scalars(select(OrderLine).where(OrderLine.awaiting_stock.is_(False))).all()
    assert len(events) == 5


def test_a_new_date_goes_to_everyone_waiting_once_per_change(staff_client, db):
    publication = make_publication(availability="32", expected_ship_date=SOON, stock=0)
    first = waiting_order(db, publication, 1, minutes_ago=20)
    second = waiting_order(db, publication, 2, minutes_ago=10, email="second@example.org")
    response = staff_client.post(STAFF_PAGE, data=edit_form(staff_client, ISBN, expected_ship_date=LATER.isoformat()))
    assert response.status_code == 303

    def send() -> str:
        token = page_token(staff_client, f"/staff/orders/waiting/{ISBN}")
        response = staff_client.post(f"/staff/orders/waiting/{ISBN}/new-date", data={"csrf_token": token})
        return text(staff_client.get(response.headers["Location"]))

    assert f"Sent the new date ({long_date(LATER)}) to 2 customers" in send()
    assert "nothing was sent" in send()  # a second click
    emails = db.session.scalars(select(OutboxEmail).filter_by(kind=NEW_DATE).order_by(OutboxEmail.id)).all()
    assert [e.order_id for e in emails] == [first.id, second.id]
    assert f"We now expect them on {long_date(LATER)} (we said {long_date(SOON)})" in " ".join(emails[0].text_body.split())
    assert emails[1].recipient == "second@example.org"
    assert all(line.expected_on == LATER for o in (first, second) for line in reload(db, o).lines)
    [event] = [e for e in reload(db, first).events if e.kind == "new_date"]
    assert event.detail["after"] == {"expected_on": LATER.isoformat()}

    # Back to the first date: that is a change too, and is sent.
    staff_client.post(STAFF_PAGE, data=edit_form(staff_client, ISBN, expected_ship_date=SOON.isoformat()))
    assert "to 2 customers" in send()
    assert db.session.query(OutboxEmail).filter_by(kind=NEW_DATE).count() == 4


def test_the_new_date_email_is_not_resent_from_the_order_page(staff_client, db):
    publication = make_publication(availability="32", expected_ship_date=LATER, stock=0)
    order = waiting_order(db, publication, 1, minutes_ago=5)
    waiting.send_new_date(publication, local_today(), "desk")
    db.session.commit()
    [email] = db.session.scalars(select(OutboxEmail).filter_by(kind=NEW_DATE))
    page = staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert f"/emails/{email.id}/resend" not in page
    token = page_token(staff_client, f"/staff/orders/{order.reference}")
    staff_client.post(f"/staff/orders/{order.reference}/emails/{email.id}/resend", data={"csrf_token": token})
    assert db.session.query(OutboxEmail).filter_by(kind=NEW_DATE).count() == 1
    assert "not resent" in text(staff_client.get(f"/staff/orders/{order.reference}"))


def test_no_date_to_send_for_a_title_in_stock(staff_client, db):
    publication = make_publication(stock=3)
    waiting_order(db, publication, 1, minutes_ago=5)
    with pytest.raises(waiting.WaitingError, match="no date to send"):
        waiting.send_new_date(publication, local_today(), "desk")


def test_the_waiting_pages_list_titles_and_their_queue(staff_client, db):
    publication = make_publication(availability="32", expected_ship_date=SOON, stock=0)
    order = waiting_order(db, publication, 3, minutes_ago=5, name="Wendy Waiting")
    overview = text(staff_client.get("/staff/orders/waiting"))
    assert publication.title in overview and f"/staff/orders/waiting/{ISBN}" in overview
    queue = text(staff_client.get(f"/staff/orders/waiting/{ISBN}"))
    assert order.reference in queue and "Wendy Waiting" in queue and "Back-order" in queue
    assert long_date(SOON) in queue
    edit = text(staff_client.get(STAFF_PAGE))
    assert "1 paid order (3 copies)" in edit


def test_checkout_reserves_only_what_is_sold_from_stock(client, sandbox, db):
    """A basket with a title in stock and a back-order: the first reserves its copies, the
    second none; closing the checkout unpaid gives back only what was reserved."""
    from tests.conftest import Shopper, isbn13

    make_publication(stock=10)
    make_publication(isbn=isbn13(1), title="Reprinting report", availability="32", expected_ship_date=SOON, stock=0)
    shopper = Shopper(client)
    shopper.add(quantity=2)
    shopper.add(isbn=isbn13(1), quantity=3)
    response = shopper.checkout()
    assert response.status_code == 303, text(response)
    order = db.session.scalar(select(Order))
    lines = {line.isbn: line for line in order.lines}
    assert (lines[ISBN].sold_as, lines[ISBN].awaiting_stock) == ("stock", False)
    assert (lines[isbn13(1)].sold_as, lines[isbn13(1)].awaiting_stock) == ("backorder", True)
    stocks = dict(db.session.execute(select(Publication.isbn, Publication.stock)).all())
    assert stocks == {ISBN: 8, isbn13(1): 0}
    from shop.orders.services import close_checkout

    close_checkout(order.stripe_session_id, "expired", actor="test")
    db.session.commit()
    stocks = dict(db.session.execute(select(Publication.isbn, Publication.stock)).all())
    assert stocks == {ISBN: 10, isbn13(1): 0}
