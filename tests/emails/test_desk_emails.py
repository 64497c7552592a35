"""The desk's new customer emails over real SMTP: a refund email per Stripe refund, the
cancellation email, and a corrected dispatch email per correction asked for; each exactly once."""

import re

from sqlalchemy import select

from shop.emails.models import OutboxEmail
from tests.conftest import make_order, page_token, paid_order_through_stripe
from tests.emails.test_outbox import parts, send


def refund_through_the_desk(staff_client, order, **data):
    """Step one, the confirmation, then the confirmed refund, as staff click through them."""
    page = staff_client.get(f"/staff/orders/{order.reference}/refund").get_data(as_text=True)
    token = re.search(r'name="request_token" type="hidden" value="([0-9a-f]+)"', page).group(1)
    check = staff_client.post(
        f"/staff/orders/{order.reference}/refund/check",
        data={"csrf_token": page_token(staff_client, f"/staff/orders/{order.reference}/refund"),
              "request_token": token, **data},
    ).get_data(as_text=True)
    form = check[check.index(f'action="/staff/orders/{order.reference}/refund"'):]
    fields = dict(re.findall(r'name="([a-z_]+)" (?:type="hidden" )?value="([^"]*)"', form[: form.index("</form>")]))
    return staff_client.post(f"/staff/orders/{order.reference}/refund", data=fields), fields


def test_two_partial_refunds_send_two_refund_emails_and_a_resubmission_none(client, runner, smtp, sandbox, db, publication, staff_client):
    order = paid_order_through_stripe(client, sandbox)
    send(runner)  # the confirmation
    smtp.messages.clear()
    _, first = refund_through_the_desk(staff_client, order, choice="part", amount="3.00", reason="damaged")
    staff_client.post(f"/staff/orders/{order.reference}/refund", data=first)  # sent again
    refund_through_the_desk(staff_client, order, choice="part", amount="2.00", reason="lost")
    assert "sent 2" in send(runner)
    assert [m["Subject"] for m in smtp.messages] == [f"A refund for your order {order.reference}"] * 2
    texts = [parts(message)[0] for message in smtp.messages]
    assert "We have refunded £3.00" in texts[0] and "We have refunded £2.00" in texts[1]
    assert "In all, £5.00 of the order has now been refunded." in texts[1]
    assert "Nothing to send." in send(runner)


def test_cancelling_sends_one_cancellation_email(client, runner, smtp, sandbox, db, publication, staff_client):
    order = paid_order_through_stripe(client, sandbox, quantity=2)
    send(runner)
    smtp.messages.clear()
    page = staff_client.get(f"/staff/orders/{order.reference}/cancel").get_data(as_text=True)
    data = {
        "csrf_token": page_token(staff_client, f"/staff/orders/{order.reference}/cancel"),
        "request_token": re.search(r'name="request_token" type="hidden" value="([0-9a-f]+)"', page).group(1),
        "confirmed_pence": "2095", "reason": "customer_request",
    }
    for _ in range(2):
        staff_client.post(f"/staff/orders/{order.reference}/cancel", data=data)
    assert "sent 1" in send(runner)
    [message] = smtp.messages
    assert message["Subject"] == f"Your order {order.reference} is cancelled and refunded"
    text, html = parts(message)
    assert "nothing will be sent" in text and "£20.95" in text and "978-1-85717-640-7" in html


def test_a_corrected_dispatch_email_only_when_asked_and_its_resend_is_a_copy(client, runner, smtp, db, staff_client):
    order = make_order(email="reader@example.org")
    token = page_token(staff_client, f"/staff/orders/{order.reference}")
    staff_client.post(f"/staff/orders/{order.reference}/dispatch", data={"csrf_token": token, "carrier": "Royal Mail", "tracking_number": "RM1GB"})
    staff_client.post(f"/staff/orders/{order.reference}/tracking", data={"csrf_token": token, "carrier": "Royal Mail", "tracking_number": "RM2GB"})
    staff_client.post(f"/staff/orders/{order.reference}/tracking", data={"csrf_token": token, "carrier": "Royal Mail", "tracking_number": "RM3GB", "notify": "y"})
    assert "sent 2" in send(runner)  # the dispatch notice and one correction
    subjects = [m["Subject"] for m in smtp.messages]
    assert subjects == [f"Your order {order.reference} is on its way", f"Corrected tracking details for your order {order.reference}"]
    assert "RM3GB" in parts(smtp.messages[1])[0] and "RM2GB" not in parts(smtp.messages[1])[0]
    correction = db.session.scalar(select(OutboxEmail).filter_by(kind="dispatch_correction"))
    staff_client.post(f"/staff/orders/{order.reference}/emails/{correction.id}/resend", data={"csrf_token": token})
    assert "sent 1" in send(runner)
    assert parts(smtp.messages[2])[0] == parts(smtp.messages[1])[0]  # the same words, as sent then
