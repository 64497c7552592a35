"""The order desk: finding, checking, dispatching, refunding, noting and exporting orders."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from sandbox import sign_payload
from shop.orders.models import Order, OrderEvent, Refund
from tests.conftest import (
    ISBN,
    STAFF_EMAIL,
    WEBHOOK_SECRET,
    count_queries,
    isbn13,
    make_order,
    page_token,
    paid_order_through_stripe,
    post_webhook,
)


def reload(db, order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


def act(client, order, action, **data):
    data.setdefault("csrf_token", page_token(client, f"/staff/orders/{order.reference}"))
    return client.post(f"/staff/orders/{order.reference}/{action}", data=data)


def flashed(client, order) -> str:
    return client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)


def refund_via_desk(client, order, amount: str | None = None, token: str = "t", reason: str = "customer_request", **data):
    """The confirmed step of a refund, as the confirmation page posts it: part of it when an
    ``amount`` is given, else the full refund."""
    data = {"choice": "part" if amount is not None else "full", "amount": amount or "", "reason": reason,
            "request_token": token, **data}
    return act(client, order, "refund", **data)


# --- the list -------------------------------------------------------------------------------

def test_orders_list_newest_first_with_what_staff_need(staff_client, db):
    old = make_order(created_at=datetime(2026, 11, 1, 9, tzinfo=UTC), name="Old Customer", email="old@example.org")
    new = make_order(name="New Customer", email="new@example.org", lines=[(ISBN, "Leadership", 850, 3)])
    page = staff_client.get("/staff/orders").get_data(as_text=True)
    assert page.index(new.reference) < page.index(old.reference)
    for text in ["New Customer", "new@example.org", "£28.00", "Paid", "1 Nov 2026 09:00"]:
        assert text in page, text
    assert ">3<" in page  # copies


def test_unpaid_checkouts_are_hidden_unless_asked_for(staff_client, db):
    pending = make_order(status="pending_payment")
    paid = make_order()
    page = staff_client.get("/staff/orders").get_data(as_text=True)
    assert paid.reference in page and pending.reference not in page
    page = staff_client.get("/staff/orders?status=all").get_data(as_text=True)
    assert pending.reference in page


def test_flags_for_mismatch_and_slow_dispatch(staff_client, db):
    late = make_order(created_at=datetime.now(UTC) - timedelta(days=5))
    mismatch = make_order()
    mismatch.amount_mismatch = True
    db.session.commit()
    page = staff_client.get("/staff/orders").get_data(as_text=True)
    assert "Amount mismatch" in page and "Waiting 5 days" in page
    assert late.reference in page


def test_filters(staff_client, db):
    other_isbn = isbn13(77)
    a = make_order(email="alice@nhs.example", name="Alice Able", postcode="LS1 4AP", created_at=datetime(2026, 10, 5, 12, tzinfo=UTC))
    b = make_order(email="bob@library.example", name="Bob Book", postcode="YO1 7HH", lines=[(other_isbn, "Other", 1000, 10)], created_at=datetime(2026, 11, 20, 12, tzinfo=UTC))
    c = make_order(status="dispatched", email="cat@example.org", name="Cat Cole", created_at=datetime(2026, 12, 1, 12, tzinfo=UTC))

    def shown(query):
        page = staff_client.get("/staff/orders?" + query).get_data(as_text=True)
        return {o.reference for o in (a, b, c) if o.reference in page}

    assert shown("status=dispatched") == {c.reference}
    assert shown("status=awaiting") == {a.reference, b.reference}
    assert shown("date_from=2026-11-01&date_to=2026-11-30") == {b.reference}
    assert shown("date_from=2026-11-21") == {c.reference}
    assert shown("date_to=2026-10-31") == {a.reference}
    assert shown(f"isbn={other_isbn}") == {b.reference}
    assert shown("isbn=978-1-85717-640-7") == {a.reference, c.reference}
    assert shown("q=alice") == {a.reference}
    assert shown("q=BOB%20BOOK") == {b.reference}
    assert shown("q=yo17hh") == {b.reference}
    assert shown("q=ls1+4ap") == {a.reference}
    assert shown("q=" + c.reference.lower()) == {c.reference}
    assert shown("q=%25") == set()


def test_bad_filter_values_are_ignored_with_a_message(staff_client, db):
    order = make_order()
    page = staff_client.get("/staff/orders?date_from=yesterday&isbn=978-1-85717-640-8&status=nonsense").get_data(as_text=True)
    assert order.reference in page
    assert "check digit is wrong" in page
    # The form shows the list that is shown: all paid orders, the status ignored.
    assert re.findall(r'<option selected value="([^"]*)"', page) == ["placed"]
    assert 'value="yesterday"' in page and 'id="date_from" name="date_from" type="date"' in page
    assert 'id="isbn" maxlength="32" name="isbn" size="17" type="text" value="978-1-85717-640-8"' in page
    to_pack = staff_client.get("/staff/orders?status=to_pack").get_data(as_text=True)
    assert re.findall(r'<option selected value="([^"]*)"', to_pack) == ["to_pack"]


def test_pages_of_fifty(staff_client, db):
    orders = [make_order(created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)) for n in range(55)]
    first = staff_client.get("/staff/orders").get_data(as_text=True)
    second = staff_client.get("/staff/orders?page=2").get_data(as_text=True)
    assert "55 orders" in first and "Page 1 of 2" in first
    assert orders[-1].reference in first and orders[4].reference not in first
    assert orders[4].reference in second and orders[0].reference in second
    assert "55 orders" in staff_client.get("/staff/orders?page=9").get_data(as_text=True)


def test_orders_list_queries_do_not_grow_with_page_size(app, staff_client, db):
    for n in range(60):
        make_order(lines=[(ISBN, "A", 850, 1), (isbn13(n), "B", 900, 2)])
    app.config["STAFF_ORDERS_PER_PAGE"] = 5
    db.session.close()  # requests share the test's session; start each from nothing, like a server
    with count_queries(db.engine) as small_page:
        page = staff_client.get("/staff/orders").get_data(as_text=True)
    assert page.count("/staff/orders/KF-") == 5
    app.config["STAFF_ORDERS_PER_PAGE"] = 50
    db.session.close()
    with count_queries(db.engine) as large_page:
        page = staff_client.get("/staff/orders").get_data(as_text=True)
    assert page.count("/staff/orders/KF-") == 50 and "60 orders" in page
    assert large_page() == small_page() == 3  # the signed-in user, the page, the total


# --- one order ----------------------------------------------------------------------------

def test_order_page_shows_lines_payment_customer_address_and_timeline(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox, quantity=2)
    page = staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    for text in [
        order.reference, "Leadership and engagement", "978-1-85717-640-7", "£17.00", "£2.50" if order.postage_pence == 250 else "£3.95",
        "£20.95", order.payment_intent_id, "Ada Nurse", "nurse@example.org", "1 Ward Street", "LS1 1AA",
        f"https://dashboard.stripe.com/test/payments/{order.payment_intent_id}", "created", "paid",
    ]:
        assert text in page, text


def test_unknown_order_is_404(staff_client, db):
    assert staff_client.get("/staff/orders/KF-1999-000999").status_code == 404


# --- dispatch -----------------------------------------------------------------------------

def test_dispatch_records_carrier_tracking_and_who(staff_client, db):
    order = make_order()
    response = act(staff_client, order, "dispatch", carrier="Royal Mail", tracking_number="RM123456789GB")
    assert response.status_code == 303
    order = reload(db, order)
    assert order.status == "dispatched" and order.dispatched_at
    assert (order.carrier, order.tracking_number) == ("Royal Mail", "RM123456789GB")
    [event] = [e for e in order.events if e.kind == "dispatched"]
    assert event.actor == STAFF_EMAIL
    assert event.detail["before"] == {"status": "paid"}
    assert event.detail["after"]["status"] == "dispatched"
    assert "marked dispatched" in flashed(staff_client, order)


def test_dispatching_twice_is_refused(staff_client, db):
    order = make_order()
    token = page_token(staff_client, f"/staff/orders/{order.reference}")
    act(staff_client, order, "dispatch", csrf_token=token)
    act(staff_client, order, "dispatch", csrf_token=token)
    order = reload(db, order)
    assert "already dispatched" in flashed(staff_client, order)
    assert len([e for e in order.events if e.kind == "dispatched"]) == 1


def test_only_paid_orders_can_be_dispatched(staff_client, db):
    order = make_order(status="pending_payment")
    act(staff_client, order, "dispatch")
    assert reload(db, order).status == "pending_payment"
    assert f"Order {order.reference} cannot be dispatched: it is awaiting payment, not waiting to be packed." in flashed(staff_client, order)


def mismatched_order(db):
    order = make_order()
    order.amount_mismatch = True
    order.amount_charged_pence = 100
    db.session.commit()
    return order


def test_an_order_flagged_for_an_amount_mismatch_is_not_dispatched_until_acknowledged(staff_client, db):
    """Finding 7: a flagged order could be dispatched without anyone looking at the flag."""
    order = mismatched_order(db)
    page = staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert "Acknowledge the mismatch" in page and "Mark dispatched" not in page
    act(staff_client, order, "dispatch", carrier="Royal Mail")
    assert reload(db, order).status == "paid"
    assert "Stripe charged a different amount" in flashed(staff_client, order)

    response = act(staff_client, order, "acknowledge-mismatch", note="Customer paid the rest by bank transfer.")
    assert response.status_code == 303
    order = reload(db, order)
    assert order.mismatch_acknowledged_by == STAFF_EMAIL and order.mismatch_acknowledged_at
    [event] = [e for e in order.events if e.kind == "mismatch_acknowledged"]
    assert event.actor == STAFF_EMAIL and event.detail["note"] == "Customer paid the rest by bank transfer."
    page = flashed(staff_client, order)
    assert "Amount mismatch acknowledged" in page and "Mark dispatched" in page

    act(staff_client, order, "dispatch", carrier="Royal Mail")
    assert reload(db, order).status == "dispatched"


def test_acknowledging_needs_a_flag_and_happens_once(staff_client, db):
    plain = make_order()
    act(staff_client, plain, "acknowledge-mismatch", note="x")
    assert reload(db, plain).mismatch_acknowledged_at is None
    assert "has no amount mismatch" in flashed(staff_client, plain)
    order = mismatched_order(db)
    token = page_token(staff_client, f"/staff/orders/{order.reference}")
    for _ in range(2):
        act(staff_client, order, "acknowledge-mismatch", note="checked", csrf_token=token)
    assert len([e for e in reload(db, order).events if e.kind == "mismatch_acknowledged"]) == 1


# --- refunds ------------------------------------------------------------------------------

def test_full_refund_through_stripe(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    response = refund_via_desk(staff_client, order, "20.95", token="tok1")
    assert response.status_code == 303
    order = reload(db, order)
    assert order.status == "refunded" and order.refunded_pence == 2095
    [refund] = order.refunds
    assert refund.stripe_refund_id.startswith("re_") and refund.created_by == STAFF_EMAIL
    [request] = sandbox.requests_to("/v1/refunds")
    assert request["params"] == {
        "payment_intent": order.payment_intent_id, "amount": "2095",
        "metadata": {"refunded_by": STAFF_EMAIL, "order_reference": order.reference},
    }
    assert request["idempotency_key"] == f"refund-{order.reference}-tok1"


def test_partial_refunds_then_the_rest(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    refund_via_desk(staff_client, order, "8.50", token="a")
    order = reload(db, order)
    assert order.status == "paid" and order.refunded_pence == 850  # a partial refund is a fact, not a status
    refund_via_desk(staff_client, order, "12.45", token="b")
    order = reload(db, order)
    assert order.status == "refunded" and order.refunded_pence == 2095


def test_a_refund_larger_than_what_is_left_is_refused(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    response = refund_via_desk(staff_client, order, "20.96", token="x")
    assert response.status_code == 422 and "at most £20.95" in response.get_data(as_text=True)
    assert reload(db, order).refunded_pence == 0
    assert sandbox.requests_to("/v1/refunds") == []


def test_bad_refund_amounts_get_a_message(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    for amount, says in [("abc", "not an amount"), ("-1", "negative"), ("0", "more than £0.00"), ("8,50", "comma")]:
        response = refund_via_desk(staff_client, order, amount, token="x")
        assert response.status_code == 422 and says in response.get_data(as_text=True), amount
    assert reload(db, order).refunded_pence == 0


def test_a_stripe_refusal_shows_stripes_message_and_changes_nothing(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    sandbox.post("/_sandbox/fail", count=1, status=400, path_prefix="/v1/refunds",
                 error={"type": "invalid_request_error", "message": "Charge ch_x has been disputed."})
    response = refund_via_desk(staff_client, order, "1.00", token="x")
    assert "Charge ch_x has been disputed." in response.get_data(as_text=True)
    order = reload(db, order)
    assert order.status == "paid" and order.refunded_pence == 0 and order.refunds == []


def test_stripe_down_during_a_refund_changes_nothing(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    sandbox.post("/_sandbox/fail", count=5, status=500, path_prefix="/v1/refunds")
    response = refund_via_desk(staff_client, order, "1.00", token="x")
    assert "could not reach our payment provider" in response.get_data(as_text=True)
    assert reload(db, order).refunded_pence == 0


def test_a_double_submitted_refund_refunds_once(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    token = page_token(staff_client, f"/staff/orders/{order.reference}")
    for _ in range(2):
        refund_via_desk(staff_client, order, "5.00", token="same", csrf_token=token)
    order = reload(db, order)
    assert order.refunded_pence == 500 and len(order.refunds) == 1


def test_a_refund_made_in_stripes_dashboard_is_picked_up(client, app, sandbox, db, publication):
    import stripe

    order = paid_order_through_stripe(client, sandbox)
    stripe_client = stripe.StripeClient(app.config["STRIPE_SECRET_KEY"], base_addresses={"api": sandbox.url})
    stripe_client.v1.refunds.create(params={"payment_intent": order.payment_intent_id, "amount": 300})
    [event] = sandbox.events("charge.refunded")
    payload = sandbox.event_payload(event["id"])
    for _ in range(2):  # redelivered: still counted once
        assert post_webhook(client, payload, sign_payload(payload, WEBHOOK_SECRET)).status_code == 200
    order = reload(db, order)
    assert order.status == "paid" and order.refunded_pence == 300
    [refund] = order.refunds
    assert refund.created_by == "Stripe dashboard" and refund.amount_pence == 300


def test_the_refund_webhook_racing_the_desk_counts_once(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    refund_via_desk(staff_client, order, "4.00", token="r")
    [event] = sandbox.events("charge.refunded")
    payload = sandbox.event_payload(event["id"])
    post_webhook(client, payload, sign_payload(payload, WEBHOOK_SECRET))
    order = reload(db, order)
    assert order.refunded_pence == 400
    assert db.session.scalars(select(Refund)).all()[0].created_by == STAFF_EMAIL


def test_refund_after_dispatch_keeps_dispatched(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    act(staff_client, order, "dispatch")
    refund_via_desk(staff_client, order, "2.00", token="d")
    order = reload(db, order)
    assert order.status == "dispatched" and order.refunded_pence == 200
    assert "Refunded £2.00" in flashed(staff_client, order)


# --- notes, slips, audit ------------------------------------------------------------------

def test_notes_join_the_timeline_escaped(staff_client, db):
    order = make_order()
    act(staff_client, order, "notes", text="Customer rang: <b>leave with neighbour</b>")
    page = flashed(staff_client, order)
    assert "&lt;b&gt;leave with neighbour&lt;/b&gt;" in page
    [note] = [e for e in reload(db, order).events if e.kind == "note"]
    assert note.actor == STAFF_EMAIL
    act(staff_client, order, "notes", text="   ")
    assert "A note cannot be empty" in flashed(staff_client, order)


def test_packing_slip(staff_client, db):
    order = make_order(name="Pat Packer", postcode="EH1 1YZ", lines=[(ISBN, "Leadership and engagement", 850, 4)])
    page = staff_client.get(f"/staff/orders/{order.reference}/packing-slip").get_data(as_text=True)
    assert "Pat Packer" in page and "EH1 1YZ" in page and "978-1-85717-640-7" in page
    assert "print.css" in page and ">4<" in page
    assert "£" not in page  # a slip goes in the parcel: no prices


def test_every_staff_action_is_in_the_audit_trail(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    act(staff_client, order, "notes", text="Checked")
    act(staff_client, order, "dispatch", carrier="DPD")
    refund_via_desk(staff_client, order, "1.00", token="z")
    events = db.session.scalars(select(OrderEvent).filter_by(order_id=order.id, actor=STAFF_EMAIL)).all()
    assert {e.kind for e in events} >= {"note", "dispatched", "refund", "refunded_total"}
    assert all(e.at is not None for e in events)
    total = next(e for e in events if e.kind == "refunded_total")
    assert total.detail["before"]["refunded_pence"] == 0 and total.detail["after"]["refunded_pence"] == 100


# --- CSV ----------------------------------------------------------------------------------

def test_csv_has_a_row_per_line_and_follows_the_filters(staff_client, db):
    two_lines = make_order(lines=[(ISBN, "Leadership", 850, 2), (isbn13(5), "Other report", 1200, 1)], name="Lib Rary")
    make_order(status="pending_payment")
    response = staff_client.get("/staff/orders.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 2
    first = rows[0]
    assert first["order_reference"] == two_lines.reference
    assert (first["isbn"], first["quantity"], first["unit_price"], first["line_total"]) == (ISBN, "2", "8.50", "17.00")
    assert (first["postage"], first["order_total"], first["status"]) == ("2.50", "31.50", "paid")
    assert first["customer_name"] == "Lib Rary" and first["ship_postal_code"] == "SW1A 1AA"
    filtered = staff_client.get("/staff/orders.csv?q=nobody").get_data(as_text=True)
    assert len(filtered.strip().splitlines()) == 1  # the header only


def test_csv_defuses_formula_injection(staff_client, db):
    make_order(name="=HYPERLINK(\"http://evil.example\",\"click\")", email="+cmd@example.org", postcode="-1", lines=[(ISBN, "@SUM(A1)", 850, 1)])
    rows = list(csv.DictReader(io.StringIO(staff_client.get("/staff/orders.csv").get_data(as_text=True))))
    row = rows[0]
    assert row["customer_name"].startswith("'=HYPERLINK")
    assert row["customer_email"] == "'+cmd@example.org"
    assert row["ship_postal_code"] == "'-1"
    assert row["title"] == "'@SUM(A1)"


def spreadsheet_cells(text: str) -> list[str]:
    """Every cell a spreadsheet makes of ``text`` when told to split on a comma, a semicolon or
    a tab (LibreOffice's CSV import; the double quote is its string delimiter by default)."""
    return [cell for delimiter in (",", ";", "\t") for row in csv.reader(io.StringIO(text), delimiter=delimiter) for cell in row]


def runs_as_formula(cell: str) -> bool:
    # LibreOffice may trim spaces on import; a cell that then starts with one of these is a formula.
    return cell.strip()[:1] in ("=", "+", "-", "@")


def test_csv_cells_stay_text_however_the_spreadsheet_splits_them(staff_client, db):
    """Finding 5: a formula after a ; or a tab inside a cell ran when LibreOffice split on it."""
    make_order(name="Bob;=1+1;", email="bob@example.org", postcode="SW1A 1AA",
               lines=[(ISBN, "Bob\t=2+2\t", 850, 1), (isbn13(7), "Ann,@SUM(A1)", 100, 1)])
    make_order(name="Cy\n=3+3", email="cy@example.org", lines=[(ISBN, " -4+4", 850, 1)])
    text = staff_client.get("/staff/orders.csv").get_data(as_text=True)
    cells = spreadsheet_cells(text)
    assert not [cell for cell in cells if runs_as_formula(cell)]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["customer_name"] for row in rows} == {"Bob;'=1+1;", "Cy\n'=3+3"}
    assert {row["title"] for row in rows} == {"Bob\t'=2+2\t", "Ann,'@SUM(A1)", " '-4+4"}


# --- dashboard ----------------------------------------------------------------------------

def test_dashboard_figures(staff_client, db, publication):
    make_order(lines=[(ISBN, "Leadership", 850, 3)])
    make_order(lines=[(ISBN, "Leadership", 850, 1)], created_at=datetime.now(UTC) - timedelta(days=40))
    make_order(status="pending_payment")
    publication.stock = 5
    db.session.commit()
    page = staff_client.get("/staff").get_data(as_text=True)
    assert "<th scope=\"row\">Today</th><td class=\"num\">1</td><td class=\"num\">3</td><td class=\"num\">£28.00</td>" in page
    assert "2</strong> orders await dispatch" in page
    assert "low" in page  # 5 copies left is below the warning level
    assert "978-1-85717-640-7" in page and ">4<" in page  # copies sold of that ISBN


def test_a_refund_stripe_made_is_recorded_even_if_stripe_then_stumbles(client, staff_client, sandbox, db, publication):
    """Stripe refunds, then cannot list the payment's refunds: the refund must still be recorded,
    or a retry from a reloaded form would refund the customer twice."""
    order = paid_order_through_stripe(client, sandbox)
    sandbox.post("/_sandbox/fail", count=1, status=500, path_prefix="/v1/refunds", method="GET")
    refund_via_desk(staff_client, order, "10.00", token="first")
    order = reload(db, order)
    assert order.refunded_pence == 1000 and len(order.refunds) == 1
    refund_via_desk(staff_client, order, "10.00", token="second")
    assert reload(db, order).refunded_pence == 2000  # a deliberate second refund still works


def test_a_refund_event_before_the_payment_event_is_retried_not_lost(client, shopper, sandbox, db, publication):
    import stripe

    from tests.conftest import deliver_event, pay, start_checkout

    session_id = start_checkout(shopper, sandbox)
    [paid_event] = pay(sandbox, session_id)
    payment_intent = sandbox.get(f"/_sandbox/events/{paid_event}")["event"]["data"]["object"]["payment_intent"]
    stripe.StripeClient("sk_test_x", base_addresses={"api": sandbox.url}).v1.refunds.create(
        params={"payment_intent": payment_intent, "amount": 500}
    )
    [refund_event] = sandbox.events("charge.refunded")
    assert deliver_event(client, sandbox, refund_event["id"]).status_code == 500  # not ours yet
    assert deliver_event(client, sandbox, paid_event).status_code == 200
    assert deliver_event(client, sandbox, refund_event["id"]).status_code == 200  # Stripe's retry
    db.session.expire_all()
    order = db.session.scalar(select(Order))
    assert order.refunded_pence == 500 and order.status == "paid"


def test_timeline_reads_as_words_not_data(staff_client, db):
    order = make_order()
    act(staff_client, order, "dispatch", carrier="Royal Mail")
    page = flashed(staff_client, order)
    assert "status: Paid → Dispatched" in page
    assert "carrier: Royal Mail" in page
    assert "{&#39;status&#39;" not in page and "{'status'" not in page


def test_addresses_show_country_names(staff_client, db):
    order = make_order()
    order.ship_country = "IE"
    db.session.commit()
    assert "Ireland" in flashed(staff_client, order)
    assert "Ireland" in staff_client.get(f"/staff/orders/{order.reference}/packing-slip").get_data(as_text=True)


def test_csv_streams_more_rows_than_one_batch(staff_client, db):
    from shop.orders import export

    for n in range(5):
        make_order(lines=[(ISBN, "Leadership", 850, 1), (isbn13(n), f"Report {n}", 900, 2)])
    original = export.BATCH
    export.BATCH = 3  # several batches from ten lines
    try:
        body = staff_client.get("/staff/orders.csv").get_data(as_text=True)
    finally:
        export.BATCH = original
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 10 and len({r["order_reference"] for r in rows}) == 5


def test_counting_stops_at_the_cap(app, staff_client, db, monkeypatch):
    from shop.orders import desk

    monkeypatch.setattr(desk, "COUNT_CAP", 20)
    app.config["STAFF_ORDERS_PER_PAGE"] = 10
    orders = [make_order(created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)) for n in range(25)]
    first = staff_client.get("/staff/orders").get_data(as_text=True)
    assert "More than 20 orders" in first and "Page 1 of 2+" in first and 'rel="next"' in first
    last = staff_client.get("/staff/orders?page=3").get_data(as_text=True)
    assert orders[0].reference in last and 'rel="next"' not in last


def test_the_to_pack_list_counts_its_orders_in_the_statement_that_sorts_them(app, staff_client, db, monkeypatch):
    # The sort reads every order to pack, so the page's one statement counts them too
    # (shop.orders.desk.search_orders); a page past the last still gets its count.
    from shop.orders import desk

    app.config["STAFF_ORDERS_PER_PAGE"] = 5
    for n in range(12):
        make_order(created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n))
    make_order(status="dispatched")  # not to pack: not counted
    db.session.close()
    with count_queries(db.engine) as statements:
        first = staff_client.get("/staff/orders?status=to_pack").get_data(as_text=True)
    assert "12 orders to pack" in first and "Page 1 of 3" in first and first.count("/staff/orders/KF-") == 5
    assert statements() == 2  # the signed-in user, the page with its count
    assert "12 orders to pack" in staff_client.get("/staff/orders?status=to_pack&page=3").get_data(as_text=True)
    assert "12 orders to pack" in staff_client.get("/staff/orders?status=to_pack&page=9").get_data(as_text=True)
    # Counted in full, past the cap that stops other counts: the sort read them all anyway.
    monkeypatch.setattr(desk, "COUNT_CAP", 10)
    past_the_cap = staff_client.get("/staff/orders?status=to_pack").get_data(as_text=True)
    assert "12 orders to pack" in past_the_cap and "Page 1 of 3<" in past_the_cap
    assert "12 orders to pack" in staff_client.get("/staff/orders?status=to_pack&page=9").get_data(as_text=True)
    assert "More than 10 orders" in staff_client.get("/staff/orders").get_data(as_text=True)


def test_a_refund_of_another_sale_on_the_same_stripe_account_is_answered_once(client, sandbox, db):
    """A payment this shop did not take carries none of our references: its refund event gets a
    200 ("not ours"), not a 500 that Stripe would retry for days and count against the endpoint."""
    import stripe

    from tests.conftest import deliver_event, pay

    other = stripe.StripeClient("sk_test_x", base_addresses={"api": sandbox.url})
    session = other.v1.checkout.sessions.create(params={
        "mode": "payment", "success_url": "https://elsewhere.example/done",
        "line_items": [{"quantity": 1, "price_data": {
            "currency": "gbp", "unit_amount": 1200, "product_data": {"name": "A mug"}}}],
    })
    [paid_event] = pay(sandbox, session.id)
    payment_intent = sandbox.get(f"/_sandbox/events/{paid_event}")["event"]["data"]["object"]["payment_intent"]
    other.v1.refunds.create(params={"payment_intent": payment_intent, "amount": 500})
    [refund_event] = sandbox.events("charge.refunded")
    response = deliver_event(client, sandbox, refund_event["id"])
    assert response.status_code == 200 and response.get_json()["outcome"] == "not ours"
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0
