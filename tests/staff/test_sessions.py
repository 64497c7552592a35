"""Finding 3: staff sign-ins are server-side records. Signing out ends the session even for a copy
of its cookie; sessions end after an absolute lifetime as well as when idle; the staff cookie is
its own, apart from the basket's; large refunds ask for the password again."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from shop.staff.models import StaffSession
from shop.timeutil import as_utc, utcnow
from tests.conftest import STAFF_EMAIL, STAFF_PASSWORD, page_token, sign_in

STAFF_COOKIE = "shop_staff"


def copy_cookies(source, target) -> None:
    """Every cookie ``source`` holds, into ``target``: what an attacker with a copy would send."""
    for cookie in source._cookies.values():
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def records(db) -> list[StaffSession]:
    db.session.expire_all()
    return db.session.scalars(select(StaffSession).order_by(StaffSession.id)).all()


def sign_out(client):
    return client.post("/staff/logout", data={"csrf_token": page_token(client, "/staff")})


def test_a_cookie_copied_before_sign_out_is_dead_after_it(app, db, staff_client):
    thief = app.test_client()
    copy_cookies(staff_client, thief)
    assert thief.get("/staff/orders").status_code == 200  # the copy works while the session lives
    assert sign_out(staff_client).status_code == 303
    response = thief.get("/staff/orders")
    assert response.status_code == 302 and response.headers["Location"].startswith("/staff/login")
    [record] = records(db)
    assert record.revoked_at is not None and record.revoked_reason == "signed out"


def test_a_session_is_a_record_with_when_who_and_from_where(app, db, staff_user):
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="Desk browser/1.0")
    assert sign_in(client).status_code == 303
    [record] = records(db)
    assert record.user_id == staff_user.id and record.revoked_at is None
    assert (record.ip_address, record.user_agent) == ("198.51.100.23", "Desk browser/1.0")
    assert record.created_at and record.last_seen_at and record.password_at
    cookie = client.get_cookie(STAFF_COOKIE, path="/staff")
    assert cookie is not None and record.token_hash != cookie.value and len(record.token_hash) == 64


@pytest.mark.parametrize("command, reason", [
    (["staff", "set-password", STAFF_EMAIL, "--password-stdin"], "password changed"),
    (["staff", "disable", STAFF_EMAIL], "account disabled"),
])
def test_a_new_password_or_disabling_revokes_every_record(app, db, runner, staff_user, command, reason):
    browsers = [app.test_client() for _ in range(2)]
    for browser in browsers:
        assert sign_in(browser).status_code == 303
    runner.invoke(args=command, input="the next passphrase\n")
    assert [record.revoked_reason for record in records(db)] == [reason, reason]
    for browser in browsers:
        assert browser.get("/staff").status_code == 302


def test_a_session_ends_after_its_absolute_lifetime_however_busy(app, db, staff_client):
    assert app.config["STAFF_SESSION_HOURS"] == 12
    [record] = records(db)
    record.created_at = utcnow() - timedelta(hours=12, minutes=1)
    db.session.commit()
    response = staff_client.get("/staff/orders")  # last seen moments ago: not idle
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You were signed in for 12 hours" in page
    assert records(db)[0].revoked_reason == "expired"


def test_an_idle_session_ends_and_is_recorded(app, db, staff_client):
    [record] = records(db)
    record.last_seen_at = utcnow() - timedelta(minutes=61)
    db.session.commit()
    response = staff_client.get("/staff/orders")
    assert response.status_code == 302
    assert "signed out after a period of inactivity" in staff_client.get("/staff/login").get_data(as_text=True)
    assert records(db)[0].revoked_reason == "idle"


def test_use_keeps_the_session_alive_but_writes_at_most_once_a_minute(app, db, staff_client):
    [record] = records(db)
    record.last_seen_at = utcnow() - timedelta(minutes=30)
    db.session.commit()
    staff_client.get("/staff")
    seen = records(db)[0].last_seen_at
    assert utcnow() - as_utc(seen) < timedelta(minutes=1)
    staff_client.get("/staff")
    assert records(db)[0].last_seen_at == seen


def test_the_staff_cookie_is_its_own_and_a_basket_does_not_make_it_last(app, db, staff_client, publication):
    response = sign_in(staff_client)
    staff_cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(STAFF_COOKIE + "="))
    for part in ("Path=/staff", "HttpOnly", "SameSite=Lax"):
        assert part in staff_cookie
    assert "Expires=" not in staff_cookie and "Max-Age" not in staff_cookie  # ends with the browser
    # Adding to a basket makes the basket cookie last 30 days, and nothing of the sign-in is in it.
    added = staff_client.post("/basket/add", data={"isbn": publication.isbn, "quantity": "1"})
    basket_cookie = next(c for c in added.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Expires=" in basket_cookie and "Path=/;" in basket_cookie
    with staff_client.session_transaction() as session:
        assert {"_user_id", "_fresh", "_id", "staff_seen"}.isdisjoint(session)
    staff_client.delete_cookie(STAFF_COOKIE, path="/staff")  # the browser closes: the basket stays
    assert staff_client.get("/staff/orders").status_code == 302
    with staff_client.session_transaction() as session:
        assert session["basket"] == {publication.isbn: 1}


def test_the_staff_cookie_is_secure_when_the_shop_is(app, db, staff_user):
    app.config["SESSION_COOKIE_SECURE"] = True
    client = app.test_client()
    response = sign_in(client)
    staff_cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(STAFF_COOKIE + "="))
    assert "Secure" in staff_cookie


def test_a_reader_of_public_pages_still_gets_no_cookie(client, publication):
    for url in ("/", f"/publications/{publication.isbn}", "/basket"):
        assert "Set-Cookie" not in client.get(url).headers, url


@pytest.mark.parametrize("value", ["", "x", "é" * 10, "a" * 1000, "\x00"])
def test_a_made_up_staff_cookie_opens_nothing(client, db, staff_user, value):
    client.set_cookie(STAFF_COOKIE, value, path="/staff")
    assert client.get("/staff/orders").status_code == 302


# --- a fresh password for large refunds -----------------------------------------------------

def stale_password(db):
    [record] = [r for r in records(db) if r.revoked_at is None]
    record.password_at = utcnow() - timedelta(minutes=30)
    db.session.commit()


def refund(client, order, amount, **extra):
    """The desk's refund, chosen and then confirmed (the confirmation is the step that asks for
    the password); ``extra`` goes with the confirmation."""
    from tests.conftest import desk_refund_form

    data = {**desk_refund_form(client, order, amount), "request_token": "bigone", **extra}
    return client.post(f"/staff/orders/{order.reference}/refund", data=data)


def test_a_large_refund_asks_for_the_password_and_then_goes_through(app, client, staff_client, sandbox, db, publication):
    from tests.conftest import paid_order_through_stripe

    app.config["STAFF_REAUTH_REFUND_PENCE"] = 1000
    order = paid_order_through_stripe(client, sandbox, quantity=2)  # £20.95
    stale_password(db)
    prompt = refund(staff_client, order, "15.00")
    assert prompt.status_code == 200
    page = prompt.get_data(as_text=True)
    assert "Confirm your password" in page and "refund £15.00 of order" in page
    assert 'name="amount" type="hidden" value="15.00"' in page or 'name="amount" value="15.00"' in page
    assert "bigone" in page  # the form's own token travels on, so a retry is still one refund
    assert sandbox.requests_to("/v1/refunds") == []

    wrong = refund(staff_client, order, "15.00", confirm_password="not my password")
    assert wrong.status_code == 401 and "That is not your password" in wrong.get_data(as_text=True)
    assert 'value="15.00"' in wrong.get_data(as_text=True)
    assert sandbox.requests_to("/v1/refunds") == []

    done = refund(staff_client, order, "15.00", confirm_password=STAFF_PASSWORD)
    assert done.status_code == 303
    [made] = sandbox.requests_to("/v1/refunds")
    assert int(made["params"]["amount"]) == 1500 and made["idempotency_key"].endswith("bigone")
    # The password is fresh now: the next large refund does not ask again.
    again = refund(staff_client, order, "5.00", request_token="second")
    assert again.status_code == 303 and len(sandbox.requests_to("/v1/refunds")) == 2


def test_small_refunds_and_a_fresh_sign_in_do_not_ask(app, client, staff_client, sandbox, db, publication):
    from tests.conftest import paid_order_through_stripe

    app.config["STAFF_REAUTH_REFUND_PENCE"] = 1000
    order = paid_order_through_stripe(client, sandbox, quantity=2)
    assert refund(staff_client, order, "15.00").status_code == 303  # signed in a moment ago
    stale_password(db)
    from shop.orders.models import Refund

    db.session.execute(Refund.__table__.update().values(created_at=utcnow() - timedelta(minutes=30)))
    db.session.commit()
    assert refund(staff_client, order, "5.00", request_token="small").status_code == 303  # at most £10


def test_a_large_refund_made_as_small_ones_still_asks_for_the_password(app, client, staff_client, sandbox, db, publication):
    """Five £2 refunds are one £10 refund: what this member of staff refunded in the last
    STAFF_REAUTH_MINUTES counts with the one being made."""
    from tests.conftest import paid_order_through_stripe

    app.config["STAFF_REAUTH_REFUND_PENCE"] = 1000
    order = paid_order_through_stripe(client, sandbox, quantity=2)
    stale_password(db)
    for n in range(5):  # £2 each: £10 in all, at the limit, so none asks
        assert refund(staff_client, order, "2.00", request_token=f"small{n}").status_code == 303
    prompt = refund(staff_client, order, "2.00", request_token="small5")
    assert prompt.status_code == 200 and "Confirm your password" in prompt.get_data(as_text=True)
    assert len(sandbox.requests_to("/v1/refunds")) == 5


def test_guessing_the_password_at_the_prompt_ends_the_session(app, client, staff_client, sandbox, db, publication):
    from tests.conftest import paid_order_through_stripe

    app.config["STAFF_REAUTH_REFUND_PENCE"] = 1000
    order = paid_order_through_stripe(client, sandbox, quantity=2)
    stale_password(db)
    codes = [refund(staff_client, order, "15.00", confirm_password=f"guess {n}").status_code for n in range(6)]
    assert codes == [401] * 5 + [303]  # the sixth is not checked: the session ends
    assert staff_client.get("/staff/orders").status_code == 302
    assert records(db)[0].revoked_reason == "too many wrong passwords"
    assert sandbox.requests_to("/v1/refunds") == []


@pytest.mark.parametrize("held", [["desk", "finance", "catalogue"], []], ids=["three roles", "no role"])
def test_who_is_signed_in_is_read_in_one_statement_of_plain_values(app, db, held):
    """``sessions.find`` reads the session, the account and every role in one statement (a row
    per role, none lost or doubled), and holds no ORM object for the request to carry."""
    from sqlalchemy import event

    from shop.staff import sessions
    from shop.staff.accounts import services
    from shop.staff.models import StaffUser

    user = services.create("two.hats@example.org", STAFF_PASSWORD, held, 12, None, utcnow())
    token = sessions.start(user, "a browser", "192.0.2.1", utcnow())
    db.session.commit()
    db.session.expunge_all()
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        found, ended = sessions.find(token, utcnow(), timedelta(minutes=30), timedelta(hours=10))
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert ended is None and len(statements) == 1
    assert isinstance(found, sessions.SignedIn) and found.email == "two.hats@example.org"
    assert found.roles == frozenset(held) and not found.two_factor and found.second_factor_at is None
    assert not any(isinstance(thing, (StaffUser, StaffSession)) for thing in db.session.identity_map.values())
