"""Careful refunds: choose (nothing pre-filled), confirm (a page that says what will happen),
then Stripe; and cancelling a paid order not yet dispatched. Real Stripe calls to the sandbox."""

import re

from sqlalchemy import select

from shop.catalogue.models import Publication
from shop.emails.models import OutboxEmail
from shop.orders.models import Order
from shop.timeutil import utcnow
from tests.conftest import (
    STAFF_EMAIL,
    csrf_token,
    deliver_all,
    deliver_event,
    page_token,
    paid_order_through_stripe,
)


def reload(db, order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


def stock(db, publication) -> int:
    db.session.expire_all()
    return db.session.get(Publication, publication.id).stock


def outbox(db, kind=None) -> list[OutboxEmail]:
    db.session.expire_all()
    statement = select(OutboxEmail).order_by(OutboxEmail.id)
    if kind:
        statement = statement.filter_by(kind=kind)
    return list(db.session.scalars(statement))


def step_one(client, order) -> str:
    return client.get(f"/staff/orders/{order.reference}/refund").get_data(as_text=True)


def check(client, order, **data):
    page = step_one(client, order)
    data.setdefault("csrf_token", page_token(client, f"/staff/orders/{order.reference}/refund"))
    data.setdefault("request_token", re.search(r'name="request_token" type="hidden" value="([0-9a-f]+)"', page).group(1))
    return client.post(f"/staff/orders/{order.reference}/refund/check", data=data)


def hidden_fields(page: str) -> dict:
    """The confirmation form's fields (the first form on the page after the header's sign-out)."""
    form = page[page.index('action="/staff/orders/'):]
    form = form[: form.index("</form>")]
    return dict(re.findall(r'name="([a-z_]+)" (?:type="hidden" )?value="([^"]*)"', form))


def confirm(client, order, page: str):
    return client.post(f"/staff/orders/{order.reference}/refund", data=hidden_fields(page))


def test_step_one_prefills_no_amount_and_offers_full_as_its_own_choice(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    page = step_one(staff_client, order)
    [amount_input] = re.findall(r'<input[^>]*name="amount"[^>]*>', page)
    assert 'value=""' in amount_input or "value=" not in amount_input
    assert "Full refund: everything left, £20.95" in page
    assert not re.search(r'name="choice" value="\w+" checked', page)  # nothing chosen for them
    assert "Choose a reason" in page and "Put the copies back in stock" in page
    order_page = staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert 'value="20.95"' not in order_page and "Refund…" in order_page


def test_a_partial_refund_confirmed_then_made_with_one_email(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    response = check(staff_client, order, choice="part", amount="5.00", reason="damaged", note="Cover torn")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Refund £5.00 of order" in page
    assert "Stripe refunds £5.00 to the card or bank account that paid for order" in page and "of £20.95 left" in page
    assert "The order stays paid and will still be packed and posted as it is." in page
    assert "nurse@example.org gets one email about the refund of £5.00." in page
    assert "Copies arrived damaged or misprinted" in page and "Cover torn" in page
    assert sandbox.requests_to("/v1/refunds") == []  # nothing yet
    token_field = hidden_fields(page)
    for _ in range(2):  # the confirmation sent twice (a double click, a reload)
        done = staff_client.post(f"/staff/orders/{order.reference}/refund", data=token_field)
        assert done.status_code == 303
    order = reload(db, order)
    assert order.refunded_pence == 500 and order.status == "paid"
    assert len(sandbox.requests_to("/v1/refunds")) == 2 and len(order.refunds) == 1  # Stripe made one
    [email] = outbox(db, "refund")
    assert email.dedupe_key == f"refund:{order.refunds[0].stripe_refund_id}"
    assert "£5.00" in email.text_body and "posted as usual" in email.text_body
    [request] = [e for e in order.events if e.kind == "refund_request"]
    assert request.actor == STAFF_EMAIL
    assert request.detail["reason"] == "Copies arrived damaged or misprinted" and request.detail["note"] == "Cover torn"
    assert "already made" in staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)


def test_a_full_refund_with_restock_puts_the_copies_back(client, staff_client, sandbox, db, publication):
    before = stock(db, publication)
    order = paid_order_through_stripe(client, sandbox, quantity=3)
    assert stock(db, publication) == before - 3
    page = check(staff_client, order, choice="full", reason="not_sent", restock="y").get_data(as_text=True)
    assert "everything that is left" in page and "3 copies go back into stock: 3 × Leadership" in page
    assert "The order will not be packed or posted. It becomes refunded once Stripe completes" in page
    confirm(staff_client, order, page)
    order = reload(db, order)
    assert order.status == "refunded" and order.refunded_pence == order.amount_charged_pence
    assert stock(db, publication) == before
    kinds = [e.kind for e in order.events if e.actor == STAFF_EMAIL]
    assert kinds.index("refund_request") < kinds.index("restocked")
    [restocked] = [e for e in order.events if e.kind == "restocked"]
    assert restocked.detail["copies"] == 3
    [email] = outbox(db, "refund")
    assert (order.amount_charged_pence or 0) > 0
    assert f"£{order.amount_charged_pence / 100:.2f}" in email.text_body


def test_step_one_errors_keep_what_was_typed(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    cases = [
        (dict(reason="damaged"), "Choose a full refund or enter part of it."),
        (dict(choice="part", amount="", reason="damaged"), "Enter the amount to refund"),
        (dict(choice="part", amount="8,50", reason="damaged"), "uses a comma"),
        (dict(choice="part", amount="99.00", reason="damaged"), "at most £20.95"),
        (dict(choice="part", amount="2.00", reason=""), "Choose the reason for the refund."),
        (dict(choice="part", amount="2.00", reason="other", note=""), "Say in the note why"),
        (dict(choice="part", amount="2.00", reason="damaged", restock="y"), "only with a full refund"),
    ]
    for data, message in cases:
        response = check(staff_client, order, note=data.pop("note", "kept note"), **data)
        page = response.get_data(as_text=True)
        assert response.status_code == 422 and message in page, message
        if data.get("amount"):
            assert f'value="{data["amount"]}"' in page  # what they typed is still there
    assert sandbox.requests_to("/v1/refunds") == []
    assert reload(db, order).refunded_pence == 0


def test_change_goes_back_to_step_one_with_everything_as_typed(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    page = check(staff_client, order, choice="part", amount="3.00", reason="lost", note="Parcel lost").get_data(as_text=True)
    fields = {**hidden_fields(page), "change": "1"}
    back = staff_client.post(f"/staff/orders/{order.reference}/refund/check", data=fields).get_data(as_text=True)
    assert 'value="3.00"' in back and "Parcel lost" in back and 'value="part" checked' in back
    assert sandbox.requests_to("/v1/refunds") == []


def test_a_full_refund_confirmed_against_a_balance_that_changed_is_refused(client, staff_client, sandbox, db, publication):
    import stripe

    order = paid_order_through_stripe(client, sandbox)
    page = check(staff_client, order, choice="full", reason="duplicate").get_data(as_text=True)
    # meanwhile someone refunds £1 in Stripe's dashboard, and its webhook lands
    stripe.StripeClient("sk_test_x", base_addresses={"api": sandbox.url}).v1.refunds.create(
        params={"payment_intent": order.payment_intent_id, "amount": 100}
    )
    from shop.orders.refunds import record_refunds
    from shop.payments import gateway

    record_refunds(reload(db, order), gateway.list_refunds(order.payment_intent_id), actor="stripe")
    db.session.commit()
    response = confirm(staff_client, order, page)
    assert response.status_code == 422 and "changed to £19.95" in response.get_data(as_text=True)
    assert reload(db, order).refunded_pence == 100


# --- cancelling -------------------------------------------------------------------------------

def cancel(client, order, **data):
    data.setdefault("csrf_token", page_token(client, f"/staff/orders/{order.reference}/cancel"))
    if "request_token" not in data:
        page = client.get(f"/staff/orders/{order.reference}/cancel").get_data(as_text=True)
        data["request_token"] = re.search(r'name="request_token" type="hidden" value="([0-9a-f]+)"', page).group(1)
    return client.post(f"/staff/orders/{order.reference}/cancel", data=data)


def test_cancel_refunds_in_full_restocks_and_emails_once(client, staff_client, sandbox, db, publication):
    before = stock(db, publication)
    order = paid_order_through_stripe(client, sandbox, quantity=2)
    page = staff_client.get(f"/staff/orders/{order.reference}/cancel").get_data(as_text=True)
    assert "Cancel order" in page and "Stripe refunds £20.95" in page
    assert "2 copies go back into stock" in page and "one email about its cancellation and the refund" in page
    assert "The timeline records the reason you choose." in page  # none is chosen yet
    assert sandbox.requests_to("/v1/refunds") == []
    response = cancel(staff_client, order, reason="customer_request", note="Ordered twice by mistake")
    assert response.status_code == 303
    order = reload(db, order)
    assert order.status == "refunded" and order.dispatched_at is None and order.refunded_pence == 2095
    assert stock(db, publication) == before
    kinds = {e.kind for e in order.events}
    assert {"refund_request", "restocked", "order_cancelled"} <= kinds
    [email] = outbox(db, "cancellation")
    assert email.subject == f"Your order {order.reference} is cancelled and refunded"
    assert "nothing will be sent" in email.text_body and "£20.95" in email.html_body
    assert outbox(db, "refund") == []
    flash = staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert f"Order {order.reference} cancelled" in flash and "2 copies back in stock" in flash
    # not packable any more
    assert order.reference not in staff_client.get("/staff/orders?status=to_pack").get_data(as_text=True)


def test_a_dispatched_order_cannot_be_cancelled(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    staff_client.post(f"/staff/orders/{order.reference}/dispatch",
                      data={"csrf_token": page_token(staff_client, f"/staff/orders/{order.reference}")})
    page = staff_client.get(f"/staff/orders/{order.reference}/cancel").get_data(as_text=True)
    assert "Only a paid order that has not been dispatched can be cancelled" in page
    assert "Cancel the order…" not in staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    response = cancel(staff_client, order, reason="customer_request", request_token="abc123")
    assert response.status_code == 422 and sandbox.requests_to("/v1/refunds") == []
    assert reload(db, order).status == "dispatched"


def test_cancel_needs_a_reason(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox)
    response = cancel(staff_client, order, reason="")
    assert response.status_code == 422 and "Choose the reason for cancelling." in response.get_data(as_text=True)
    assert reload(db, order).status == "paid" and sandbox.requests_to("/v1/refunds") == []
    assert not [e for e in reload(db, order).events if e.kind in ("refund_request", "order_cancelled")]


# --- a cancellation whose refund Stripe has not completed (a bank payment's) -------------------

def listed_to_pack(staff_client, order) -> bool:
    page = staff_client.get("/staff/orders?status=to_pack").get_data(as_text=True)
    return f'href="/staff/orders/{order.reference}"' in page


def settle(sandbox, client, refund_id: str, status: str) -> None:
    sandbox.post(f"/_sandbox/refunds/{refund_id}", status=status)
    assert set(deliver_all(client, sandbox, "refund.updated")) == {200}


def test_a_cancelled_order_whose_refund_is_pending_is_never_packed_and_restocks_when_it_completes(
        client, staff_client, sandbox, db, publication):
    before = stock(db, publication)
    order = paid_order_through_stripe(client, sandbox, quantity=2)
    assert listed_to_pack(staff_client, order)
    sandbox.post("/_sandbox/config", pending_refunds=True)
    assert cancel(staff_client, order, reason="customer_request").status_code == 303
    order = reload(db, order)
    assert order.status == "paid" and order.refund_pending_pence == 2095 and order.cancelled_at is not None
    assert stock(db, publication) == before - 2  # not yet: Stripe has not completed the refund
    assert not listed_to_pack(staff_client, order)
    page = staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert "Cancelled: not to be sent" in page
    # Ticked on another view, it is left out of every batch action, with the reason.
    shown = staff_client.get("/staff/orders?status=placed").get_data(as_text=True)
    assert f'value="{order.reference}" id="tick-{order.reference}"' in shown
    for action in ("dispatch", "slips", "labels", "click_drop"):
        response = staff_client.post("/staff/orders/batch", data={
            "csrf_token": csrf_token(shown), "action": action, "scope": "ticked", "ref": [order.reference],
            "filter-status": "placed", "shown_at": utcnow().isoformat()})
        page = response.get_data(as_text=True) if response.status_code == 200 else \
            staff_client.get(response.location).get_data(as_text=True)
        assert f"{order.reference} (cancelled)" in page, action
    [refund_id] = [r.stripe_refund_id for r in order.refunds]
    settle(sandbox, client, refund_id, "succeeded")
    order = reload(db, order)
    assert order.status == "refunded" and order.refunded_pence == 2095 and order.refund_pending_pence == 0
    assert stock(db, publication) == before
    deliver_all(client, sandbox, "refund.updated")
    assert stock(db, publication) == before  # the event again: copies back once
    assert [e.kind for e in reload(db, order).events].count("restocked") == 1


def test_a_cancellation_whose_refund_fails_stays_out_of_packing_and_is_flagged(
        client, staff_client, sandbox, db, publication):
    before = stock(db, publication)
    order = paid_order_through_stripe(client, sandbox, quantity=2)
    assert cancel(staff_client, order, reason="customer_request").status_code == 303
    assert reload(db, order).status == "refunded" and stock(db, publication) == before
    [refund_id] = [r.stripe_refund_id for r in reload(db, order).refunds]
    settle(sandbox, client, refund_id, "failed")
    order = reload(db, order)
    assert order.status == "paid" and order.refunded_pence == 0  # the money is still here
    assert not listed_to_pack(staff_client, order)
    page = staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert "Cancelled, but the refund failed: refund again" in page
    # Cancelling again refunds again, and the copies that went back before are not added twice.
    assert cancel(staff_client, order, reason="customer_request").status_code == 303
    order = reload(db, order)
    assert order.status == "refunded" and order.refunded_pence == 2095
    assert stock(db, publication) == before


def test_a_late_payment_event_does_not_pay_a_refunded_order_again(client, staff_client, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox, quantity=1)
    assert cancel(staff_client, order, reason="customer_request").status_code == 303
    emails = len(outbox(db))
    [completed] = sandbox.events("checkout.session.completed")
    assert deliver_event(client, sandbox, completed["id"]).status_code == 200  # Stripe's retry, late
    order = reload(db, order)
    assert order.status == "refunded" and len(outbox(db)) == emails
