"""Customer emails, exactly once, over real SMTP."""

import html as html_module
from datetime import timedelta

import requests
from sqlalchemy import func, select

from sandbox import sign_payload
from shop.emails.models import OutboxEmail
from shop.emails.sender import MAX_ATTEMPTS, send_due
from shop.timeutil import as_utc, utcnow
from tests.conftest import (
    WEBHOOK_SECRET,
    page_token,
    paid_order_through_stripe,
    pay,
    start_checkout,
)
from tests.support import race


def outbox_count(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(OutboxEmail))


def send(runner) -> str:
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    return result.output


def parts(message):
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_one_confirmation_after_a_paid_order_with_the_details(client, runner, smtp, sandbox, db, publication):
    order = paid_order_through_stripe(client, sandbox, quantity=2)
    assert "sent 1" in send(runner)
    [message] = smtp.messages
    assert message["To"] == "Ada Nurse <nurse@example.org>"
    assert message["From"] == "Print shop <orders@shop.test>"
    assert message["Subject"] == f"Your order {order.reference} is confirmed"
    text, html = parts(message)
    for body in (text, html):
        assert order.reference in body
        assert "978-1-85717-640-7" in body
        assert "£17.00" in body and "£3.95" in body and "£20.95" in body
        assert "1 Ward Street" in body and "LS1 1AA" in body
        # The right to cancel, its conditions and a form to use, on a durable medium (the email),
        # not only on a web page the seller could change.
        flat = " ".join(html_module.unescape(body).split())
        assert "Your right to cancel" in flat and "for 14 days after the day you receive them" in flat
        assert f"order reference {order.reference}" in flat and "I give notice that I cancel my contract" in flat
        assert "within 14 days of getting them back" in flat
    assert "Nothing to send." in send(runner)
    assert len(smtp.messages) == 1


def test_a_free_pdf_link_is_included_where_one_exists(client, runner, smtp, sandbox, db, publication):
    publication.pdf_url = "https://www.example.org/reports/leadership.pdf"
    db.session.commit()
    paid_order_through_stripe(client, sandbox)
    send(runner)
    text, html = parts(smtp.messages[0])
    assert "https://www.example.org/reports/leadership.pdf" in text
    assert 'href="https://www.example.org/reports/leadership.pdf"' in html


def test_still_one_after_ten_concurrent_deliveries_and_the_success_page(app, live_server, runner, smtp, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id)
    payload = sandbox.event_payload(event_id)
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign_payload(payload, WEBHOOK_SECRET)}
    cookies = {"session": shopper.client.get_cookie("session").value}  # the buyer's browser
    kinds = ["webhook"] * 10 + ["page"]

    def hit(index: int) -> int:
        if kinds[index] == "webhook":
            return requests.post(live_server + "/stripe/webhook", data=payload, headers=headers, timeout=30).status_code
        return requests.get(f"{live_server}/checkout/success?session_id={session_id}", cookies=cookies, timeout=30).status_code

    assert race(len(kinds), hit) == [200] * 11
    assert outbox_count(db) == 1
    send(runner)
    assert len(smtp.messages) == 1


def test_one_dispatch_notice_with_carrier_and_tracking(client, runner, smtp, sandbox, db, publication, staff_client):
    order = paid_order_through_stripe(client, sandbox)
    token = page_token(staff_client, f"/staff/orders/{order.reference}")
    for _ in range(2):  # a second click is refused, and queues nothing
        staff_client.post(f"/staff/orders/{order.reference}/dispatch", data={"csrf_token": token, "carrier": "Royal Mail", "tracking_number": "RM123456789GB"})
    send(runner)
    subjects = [m["Subject"] for m in smtp.messages]
    assert subjects == [f"Your order {order.reference} is confirmed", f"Your order {order.reference} is on its way"]
    text, html = parts(smtp.messages[1])
    for body in (text, html):
        assert "Royal Mail" in body and "RM123456789GB" in body and order.reference in body


def test_smtp_down_is_retried_later_and_nothing_is_lost(app, client, runner, smtp, sandbox, db, publication):
    smtp.stop()
    order = paid_order_through_stripe(client, sandbox)
    assert "will retry 1" in send(runner)
    email = db.session.scalar(select(OutboxEmail))
    assert email.attempts == 1 and email.sent_at is None and email.last_error
    assert as_utc(email.next_attempt_at) > utcnow() + timedelta(seconds=20)
    assert "Nothing to send." in send(runner)  # not due yet: no hammering
    assert client.get("/").status_code == 200  # the shop is unaffected
    assert client.get(f"/checkout/success?session_id={order.stripe_session_id}").status_code == 200
    smtp.start()
    with app.app_context():
        report = send_due(now=utcnow() + timedelta(minutes=5))
    assert report.sent == 1
    assert len(smtp.messages) == 1 and order.reference in smtp.messages[0]["Subject"]


def test_an_email_that_keeps_failing_is_shown_to_staff(app, client, runner, smtp, sandbox, db, publication, staff_client):
    smtp.stop()
    order = paid_order_through_stripe(client, sandbox)
    later = utcnow()
    with app.app_context():
        for _ in range(MAX_ATTEMPTS):
            later += timedelta(hours=3)
            send_due(now=later)
    db.session.expire_all()
    email = db.session.scalar(select(OutboxEmail))
    assert email.failed_at is not None and email.attempts == MAX_ATTEMPTS
    page = staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert "Failed" in page and f"after {MAX_ATTEMPTS} attempts" in page


def test_staff_can_resend_on_purpose_and_it_is_audited(client, runner, smtp, sandbox, db, publication, staff_client):
    order = paid_order_through_stripe(client, sandbox)
    send(runner)
    email = db.session.scalar(select(OutboxEmail))
    token = page_token(staff_client, f"/staff/orders/{order.reference}")
    response = staff_client.post(f"/staff/orders/{order.reference}/emails/{email.id}/resend", data={"csrf_token": token})
    assert response.status_code == 303
    send(runner)
    assert len(smtp.messages) == 2
    page = staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert "(resent)" in page and "email resent" in page


def test_a_name_cannot_inject_headers(client, runner, smtp, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id, name="Eve\r\nBcc: victim@example.org\r\nX-Evil: 1")
    from tests.conftest import deliver_event

    assert deliver_event(client, sandbox, event_id).status_code == 200
    send(runner)
    [message] = smtp.messages
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert smtp.envelopes[0].rcpt_tos == ["nurse@example.org"]
    assert "\n" not in message["To"] and "Eve Bcc: victim@example.org X-Evil: 1" in message["To"]


def test_names_and_addresses_are_escaped_in_html(client, runner, smtp, shopper, sandbox, db, publication):
    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id, name="<script>alert(1)</script>",
                     address={"line1": "<b>1</b> Ward St", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"})
    from tests.conftest import deliver_event

    deliver_event(client, sandbox, event_id)
    send(runner)
    _, html = parts(smtp.messages[0])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;1&lt;/b&gt; Ward St" in html


def test_without_a_mail_server_emails_go_to_a_folder(app, client, runner, sandbox, db, publication, tmp_path):
    app.config.update(MAIL_SERVER=None, MAIL_FOLDER=str(tmp_path / "mail"))
    order = paid_order_through_stripe(client, sandbox)
    send(runner)
    [eml] = list((tmp_path / "mail").glob("*.eml"))
    assert order.reference in eml.read_text()
    email_id = db.session.scalar(select(OutboxEmail.id))
    assert eml.name == f"{order.reference}-confirmation-{email_id}.eml"  # by reference and kind


def test_every_email_says_who_sells_and_links_the_order_page(app, client, runner, smtp, sandbox, db, publication):
    from shop.orderlinks import order_token

    order = paid_order_through_stripe(client, sandbox)
    send(runner)
    [message] = smtp.messages
    # Dated, identified on the sender's domain, and a reply reaches the seller.
    assert message["Date"] and message["Message-ID"].endswith("@shop.test>")
    assert message["Reply-To"] == "orders@example.org"
    order_url = f"http://shop.test/orders/{order_token(order.id, app.config['SECRET_KEY'])}"
    text, html = parts(message)
    for body in (text, html):
        assert order_url in body
        assert "Example Publisher Ltd, 1 Example Street, Exampleton, EX0 0EX, United Kingdom" in body
        assert "orders@example.org" in body and "01632 960000" in body
        assert "http://shop.test/terms" in body and "http://shop.test/delivery-and-returns" in body
        assert "usually takes 2 to 5 working days: expect your copies between" in body
    assert "contact us" not in text.lower() and "contact us" not in html.lower()
    assert client.get(order_url.removeprefix("http://shop.test")).status_code == 200


def test_the_dispatch_email_links_to_the_carriers_tracking(client, runner, smtp, sandbox, db, publication, staff_client):
    order = paid_order_through_stripe(client, sandbox)
    token = page_token(staff_client, f"/staff/orders/{order.reference}")
    staff_client.post(f"/staff/orders/{order.reference}/dispatch", data={"csrf_token": token, "carrier": "Evri", "tracking_number": "H00A1B2C3D4E5F6"})
    send(runner)
    text, html = parts(smtp.messages[1])
    url = "https://www.evri.com/track/parcel/H00A1B2C3D4E5F6/details"
    assert f"Track your parcel: {url}" in text
    assert f'<a href="{url}"' in html and "Track your parcel on Evri" in html


# An RFC 2047 encoded word that decodes to a line break and a Bcc header. Python 3.11.7 (without
# the CVE-2024-6923 fix) decodes it while writing the To header and so writes the Bcc line.
ENCODED_INJECTION = "=?utf-8?q?Eve=0D=0ABcc=3A_x=40evil.example?="


def assert_only_our_headers(message, envelope):
    assert message["Bcc"] is None and message["Cc"] is None
    # Headers the shop writes (Date and Reply-To too, where the sender sets them); each once.
    ours = {"From", "To", "Subject", "Message-ID", "Content-Type", "MIME-Version", "Date", "Reply-To"}
    assert set(message.keys()) <= ours and len(message.keys()) == len(set(message.keys())), message.keys()
    assert envelope.rcpt_tos == ["nurse@example.org"]
    assert "evil.example" not in envelope.rcpt_tos[0]
    raw_headers = envelope.content.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc" not in raw_headers and b"\nBcc" not in raw_headers


def test_an_encoded_word_in_the_name_cannot_inject_headers_nor_can_a_resend(
    client, runner, smtp, shopper, sandbox, db, publication, staff_client
):
    import sys

    assert sys.version_info[:2] == (3, 11)  # the Python this machine has, patched or not
    session_id = start_checkout(shopper, sandbox)
    [event_id] = pay(sandbox, session_id, name=ENCODED_INJECTION)
    from tests.conftest import deliver_event

    assert deliver_event(client, sandbox, event_id).status_code == 200
    send(runner)
    [message] = smtp.messages
    assert_only_our_headers(message, smtp.envelopes[0])
    assert "Eve Bcc: x@evil.example" in message["To"] and "\n" not in str(message["To"])

    email = db.session.scalar(select(OutboxEmail))
    order = email.order
    token = page_token(staff_client, f"/staff/orders/{order.reference}")
    staff_client.post(f"/staff/orders/{order.reference}/emails/{email.id}/resend", data={"csrf_token": token})
    send(runner)
    assert len(smtp.messages) == 2
    assert_only_our_headers(smtp.messages[1], smtp.envelopes[1])


def test_a_row_queued_before_the_fix_is_cleaned_when_it_is_sent(client, runner, smtp, sandbox, db, publication):
    """An outbox row that already holds the encoded word (queued by an older version, or any
    header value we put there) is cleaned again by the sender."""
    order = paid_order_through_stripe(client, sandbox)
    email = db.session.scalar(select(OutboxEmail))
    email.recipient_name = ENCODED_INJECTION
    email.subject = "Your order =?utf-8?q?is=0D=0AX-Evil=3A_1?="
    email.sent_at = None
    db.session.commit()
    send(runner)
    [message] = smtp.messages
    assert_only_our_headers(message, smtp.envelopes[0])
    assert message["X-Evil"] is None
    assert message["Subject"].startswith("Your order") and order.reference not in message["Subject"]


def test_header_text_decodes_nested_encoded_words_and_breaks_what_is_left():
    from email.header import Header

    from shop.emails.headers import header_text

    nested = Header(ENCODED_INJECTION, "utf-8").encode()  # an encoded word holding one
    assert nested.startswith("=?utf-8?b?")
    assert header_text(nested) == "Eve Bcc: x@evil.example"
    assert header_text("=?utf-8?q?=3D=3Futf-8=3Fq=3Fx?= y?=") == "= ?utf-8?q?x y?="  # never left whole
    assert header_text("=?utf-8?q?Zo=C3=AB?= Smith") == "Zoë Smith"
    assert header_text("Eve\r\nBcc: a@b.example\x00") == "Eve Bcc: a@b.example"
    assert header_text("=?bogus-charset?q?x=0D=0A?=") == "= ?bogus-charset?q?x=0D=0A?="
    assert header_text("=?") == "= ?"
    assert header_text("a" * 400) == "a" * 300


def test_every_kind_of_email_says_who_sells_in_both_its_parts(app, db, publication):
    """Issue 16: the seller in every email. Each kind the shop sends, about an order or not, in
    text and HTML."""
    from shop.emails import models as kinds
    from shop.emails.outbox import queue, queue_message

    order = make_order_for_email(db)
    line = order.lines[0]
    extras = {
        kinds.REFUND: {"amount_pence": 500, "cancelled": False, "restocked": False},
        kinds.CANCELLATION: {"amount_pence": 1100, "cancelled": True, "restocked": True},
        kinds.NEW_DATE: {"line": line, "told": None},
    }
    order_kinds = [kinds.CONFIRMATION, kinds.DISPATCH, kinds.REFUND, kinds.CANCELLATION,
                   kinds.DISPATCH_CORRECTION, kinds.PAYMENT_FAILED, kinds.NEW_DATE]
    emails = [queue(order, kind, key=f"k-{kind}", topic=None, extra=extras.get(kind)) for kind in order_kinds]
    for kind in (kinds.NOTIFY_CONFIRM, kinds.NOTIFY_AVAILABLE):
        emails.append(queue_message(
            kind, "reader@example.org", topic=f"t-{kind}", subject="A title", list_unsubscribe="http://shop.test/u",
            title="A title", page_url="http://shop.test/p", confirm_url="http://shop.test/c", offer_note="Buy",
        ))
    seller = "Example Publisher Ltd, 1 Example Street, Exampleton, EX0 0EX, United Kingdom"
    for email in emails:
        for body in (email.text_body, html_module.unescape(email.html_body)):
            assert seller in body and "orders@example.org" in body, (email.kind, body[-400:])
            assert "http://shop.test/terms" in body, email.kind
    assert all("Your order's page" not in e.html_body for e in emails if e.order_id is None)


def make_order_for_email(db):
    from tests.conftest import make_order

    return make_order()
