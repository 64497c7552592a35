"""Notify me when available: asked on the public page with no session, confirmed from an email
(double opt-in), one email when the title can be ordered and the request gone, a one-click
unsubscribe in every email, lapsing after a year, and counts for staff."""

import html
import re
from datetime import timedelta

from sqlalchemy import select, update

from shop.catalogue.models import Publication
from shop.emails.models import NOTIFY_AVAILABLE, NOTIFY_CONFIRM, OutboxEmail
from shop.notify.models import NotifyRequest
from shop.timeutil import utcnow
from tests.conftest import ISBN, edit_form, isbn13, make_publication, page_token

READER = "reader@example.org"


def ask(client, email: str = READER, isbn: str = ISBN, **headers):
    return client.post("/notify", data={"isbn": isbn, "email": email}, headers=headers)


def emails(db, kind: str) -> list[OutboxEmail]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxEmail).filter_by(kind=kind).order_by(OutboxEmail.id)))


def link_in(body: str, path: str) -> str:
    return re.search(rf"http://shop\.test(/notify/{path}/[^\s\"<]+)", body).group(1)


def requests_of(db) -> list[NotifyRequest]:
    db.session.expire_all()
    return list(db.session.scalars(select(NotifyRequest).order_by(NotifyRequest.id)))


def goods_in(staff_client, copies: int, isbn: str = ISBN) -> str:
    token = page_token(staff_client, f"/staff/catalogue/{isbn}")
    response = staff_client.post(f"/staff/catalogue/{isbn}/stock",
                                 data={"csrf_token": token, "reason": "goods_in", "quantity": str(copies)})
    return html.unescape(staff_client.get(response.headers["Location"]).get_data(as_text=True))


def confirmed(client, db) -> NotifyRequest:
    ask(client)
    [email] = emails(db, NOTIFY_CONFIRM)
    client.post(link_in(email.text_body, "confirm"))
    [request] = requests_of(db)
    assert request.confirmed_at is not None
    return request


def test_a_reader_asks_without_a_session_and_gets_one_email_to_confirm(client, db):
    make_publication(availability="31", stock=0)
    response = ask(client, email="  Reader@Example.org ")
    assert response.status_code == 303 and response.headers["Location"] == f"/notify/sent/{ISBN}"
    assert "Set-Cookie" not in response.headers  # the public page stays cacheable, cookie-free
    page = client.get(response.headers["Location"])
    assert "Check your inbox" in page.get_data(as_text=True) and "Set-Cookie" not in page.headers
    [request] = requests_of(db)
    assert (request.email, request.confirmed_at) == (READER, None)
    [email] = emails(db, NOTIFY_CONFIRM)
    assert (email.order_id, email.recipient, email.topic) == (None, READER, f"request-{request.id}")
    assert email.list_unsubscribe.startswith("http://shop.test/notify/unsubscribe/")
    assert email.list_unsubscribe in email.text_body and "Leadership and engagement" in email.text_body
    # Asked again (a second click, or someone else typing the address): nothing more is sent,
    # and the answer is the same, so the page says nothing about who asked.
    assert ask(client).headers["Location"] == f"/notify/sent/{ISBN}"
    assert len(emails(db, NOTIFY_CONFIRM)) == 1 and len(requests_of(db)) == 1


def test_confirming_takes_a_press_of_a_button_not_just_opening_the_link(client, db):
    make_publication(availability="31", stock=0)
    ask(client)
    [email] = emails(db, NOTIFY_CONFIRM)
    link = link_in(email.text_body, "confirm")
    page = client.get(link)
    assert page.status_code == 200 and ">Confirm</button>" in page.get_data(as_text=True)
    assert requests_of(db)[0].confirmed_at is None  # a mail scanner opening the link confirms nothing
    done = client.post(link)
    assert "Confirmed" in done.get_data(as_text=True) and "Set-Cookie" not in done.headers
    assert requests_of(db)[0].confirmed_at is not None


def test_one_email_when_it_can_be_ordered_then_the_request_is_gone(client, staff_client, db):
    make_publication(availability="21", stock=0)
    confirmed(client, db)
    make_publication(isbn=isbn13(1), title="Another title", availability="31", stock=0)
    ask(client, isbn=isbn13(1))  # unconfirmed: told nothing
    said = goods_in(staff_client, 5)
    assert "Emailed 1 reader who asked" in said
    [email] = emails(db, NOTIFY_AVAILABLE)
    assert email.recipient == READER and email.order_id is None
    assert f"http://shop.test/publications/{ISBN}" in email.text_body and "In stock." in email.text_body
    assert email.list_unsubscribe and email.list_unsubscribe in email.html_body
    assert [r.publication_id for r in requests_of(db)] == [db.session.scalar(select(Publication.id).filter_by(isbn=isbn13(1)))]
    assert "Emailed" not in goods_in(staff_client, 5)
    assert len(emails(db, NOTIFY_AVAILABLE)) == 1


def test_a_reprint_with_a_date_counts_as_orderable(client, staff_client, db):
    from datetime import date

    make_publication(availability="31", stock=0)
    confirmed(client, db)
    later = date.today() + timedelta(days=40)
    response = staff_client.post(f"/staff/catalogue/{ISBN}", data=edit_form(
        staff_client, ISBN, availability="32", expected_ship_date=later.isoformat()))
    said = html.unescape(staff_client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Emailed 1 reader" in said
    [email] = emails(db, NOTIFY_AVAILABLE)
    assert "Reprinting: ships from" in email.text_body


def test_the_scheduled_job_tells_readers_about_titles_changed_elsewhere(client, db, runner):
    make_publication(availability="21", stock=0)
    confirmed(client, db)
    # Copies come back from a checkout that closed unpaid, or an import changes the code.
    db.session.execute(update(Publication).values(stock=2))
    db.session.commit()
    result = runner.invoke(args=["notify", "announce"])
    assert result.exit_code == 0 and "Told 1 reader(s)" in result.output
    assert len(emails(db, NOTIFY_AVAILABLE)) == 1 and requests_of(db) == []
    assert "Told 0 reader(s)" in runner.invoke(args=["notify", "announce"]).output


def test_unsubscribe_is_one_click_for_mail_programs_and_one_button_for_people(client, db):
    make_publication(availability="31", stock=0)
    make_publication(isbn=isbn13(1), title="Another title", availability="31", stock=0)
    ask(client)
    ask(client, isbn=isbn13(1))
    ask(client, email="other@example.org")
    [first, *_] = emails(db, NOTIFY_CONFIRM)
    link = link_in(first.text_body, "unsubscribe")
    assert link == first.list_unsubscribe.removeprefix("http://shop.test")
    page = client.get(link)
    assert ">Unsubscribe</button>" in page.get_data(as_text=True) and len(requests_of(db)) == 3
    # RFC 8058: the mail program POSTs this body, from its own servers (no browser headers).
    response = client.post(link, data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and "You are unsubscribed" in response.get_data(as_text=True)
    assert [r.email for r in requests_of(db)] == ["other@example.org"]
    assert client.post(link.replace("unsubscribe/", "unsubscribe/x")).status_code == 404


def test_requests_lapse_after_a_year_and_unconfirmed_ones_after_a_week(client, db, runner):
    make_publication(availability="21", stock=0)
    confirmed(client, db)
    ask(client, email="late@example.org")
    ask(client, email="fresh@example.org")
    year_ago, week_ago = utcnow() - timedelta(days=366), utcnow() - timedelta(days=8)
    db.session.execute(update(NotifyRequest).where(NotifyRequest.email == READER).values(created_at=year_ago))
    db.session.execute(update(NotifyRequest).where(NotifyRequest.email == "late@example.org").values(created_at=week_ago))
    db.session.commit()
    db.session.execute(update(Publication).values(stock=3))
    db.session.commit()
    assert "Told 0 reader(s)" in runner.invoke(args=["notify", "announce"]).output  # lapsed: not told
    result = runner.invoke(args=["notify", "purge"])
    assert result.exit_code == 0 and "Deleted 2 lapsed request(s)." in result.output
    assert [r.email for r in requests_of(db)] == ["fresh@example.org"]


def test_a_lapsed_unconfirmed_request_can_be_made_again(client, db):
    make_publication(availability="31", stock=0)
    ask(client)
    db.session.execute(update(NotifyRequest).values(created_at=utcnow() - timedelta(days=8)))
    db.session.commit()
    ask(client)
    assert len(emails(db, NOTIFY_CONFIRM)) == 2 and len(requests_of(db)) == 1


def test_a_wrong_address_is_explained_and_what_was_typed_kept(client, db):
    make_publication(availability="31", stock=0)
    response = ask(client, email="reader at example")
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "Enter your email address, such as name@example.org." in page
    assert 'value="reader at example"' in page and 'aria-invalid="true"' in page
    assert 'href="#notify-email"' in page and "Set-Cookie" not in response.headers
    assert requests_of(db) == []


def test_a_title_that_can_be_ordered_takes_no_requests(client, db):
    make_publication(stock=4)
    response = ask(client)
    assert response.status_code == 422
    assert "can be ordered now" in html.unescape(response.get_data(as_text=True))
    assert requests_of(db) == [] and emails(db, NOTIFY_CONFIRM) == []


def test_another_site_cannot_sign_a_reader_up(client, db):
    make_publication(availability="31", stock=0)
    assert ask(client, **{"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert ask(client, Origin="https://evil.example").status_code == 403
    assert requests_of(db) == []


def test_forged_and_expired_confirmation_links_do_nothing(app, client, db):
    make_publication(availability="31", stock=0)
    ask(client)
    [email] = emails(db, NOTIFY_CONFIRM)
    link = link_in(email.text_body, "confirm")
    assert client.post(link[:-3] + "abc").status_code == 404
    app.config["NOTIFY_CONFIRM_DAYS"] = 0  # the link is older than its life
    import time

    time.sleep(1.1)
    response = client.post(link)
    assert response.status_code == 404 and "That link has expired" in response.get_data(as_text=True)
    assert requests_of(db)[0].confirmed_at is None


def test_staff_see_how_many_wait_for_each_title(client, staff_client, db):
    make_publication(availability="31", stock=0)
    confirmed(client, db)
    ask(client, email="second@example.org")
    page = html.unescape(staff_client.get("/staff/orders/waiting").get_data(as_text=True))
    row = re.search(r"Leadership and engagement[^\n]*", page).group(0)
    assert '<td class="num">1</td><td class="num">1</td>' in row  # confirmed, not yet confirmed
    edit = html.unescape(staff_client.get(f"/staff/catalogue/{ISBN}").get_data(as_text=True))
    assert "1 reader to tell when it can be ordered" in edit


def test_the_form_is_on_the_page_only_when_notify_me_is_the_offer(client, db):
    make_publication(availability="31", stock=0)
    make_publication(isbn=isbn13(1), stock=3)
    assert 'action="/notify"' in client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert 'action="/notify"' not in client.get(f"/publications/{isbn13(1)}").get_data(as_text=True)
