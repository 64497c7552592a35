"""Two-factor sign-in with TOTP, on a clock the tests control (freezegun; codes computed with
pyotp for the frozen moment): enrolment with a QR code, the second step after the password,
codes used once, recovery codes, counted attempts, and the roles that must have it."""

import base64
import re
import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from freezegun import freeze_time
from sqlalchemy import select

from shop import create_app
from shop.config import load_config
from shop.staff import totp
from shop.staff.accounts import services
from shop.staff.auth import find_staff
from shop.staff.models import StaffAudit, StaffSession
from shop.timeutil import utcnow
from tests.conftest import STAFF_EMAIL, STAFF_PASSWORD, csrf_token, page_token, sign_in

MOMENT = datetime(2026, 5, 4, 9, 0, 10, tzinfo=UTC)  # 10 s into a 30-second step, for pure checks


def enrol(client, clock_now: datetime) -> tuple[str, list[str]]:
    """Set up two-factor sign-in as a person would: read the key off the setup page, type the
    app's code. Returns the secret and the recovery codes shown."""
    page = client.get("/staff/me/two-factor/setup").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    hidden = re.search(r'name="secret" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/staff/me/two-factor/setup", data={
        "csrf_token": csrf_token(page), "secret": hidden, "code": pyotp.TOTP(secret).at(clock_now),
    })
    assert response.status_code == 200, response.get_data(as_text=True)
    # The page that shows the codes is the first with the desk open: its menu is there, even
    # for a role that needs a second factor (the session gave one a moment ago, in this request).
    assert '<nav aria-label="Staff">' in response.get_data(as_text=True)
    codes = re.findall(r"<code>([A-Z0-9-]+)</code>", response.get_data(as_text=True))
    return secret, codes


def give_code(client, code: str, next_url: str = "/staff/orders"):
    path = f"/staff/me/two-factor?next={next_url}"
    token = page_token(client, path)
    return client.post(path, data={"csrf_token": token, "code": code})


@pytest.fixture
def clock():
    """Time stands still from 10 s into the current 30-second step, and moves when told."""
    start = datetime.fromtimestamp(int(time.time()) // 30 * 30 + 10, UTC)
    with freeze_time(start) as frozen:
        yield frozen


@pytest.fixture
def enrolled(app, db, staff_client, clock):
    """The admin with two-factor sign-in on; its secret and recovery codes."""
    return enrol(staff_client, utcnow())


def test_setting_up_shows_a_qr_code_and_recovery_codes_once(db, staff_client, staff_user, clock):
    page = staff_client.get("/staff/me/two-factor/setup").get_data(as_text=True)
    qr = re.search(r'<img class="qr-code" src="data:image/svg\+xml;base64,([^"]+)"', page)
    svg = base64.b64decode(qr.group(1)).decode()
    assert svg.startswith("<?xml") and "<svg" in svg and "<script" not in svg
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert len(secret) == 32

    hidden = re.search(r'name="secret" type="hidden" value="([^"]+)"', page).group(1)
    wrong = staff_client.post("/staff/me/two-factor/setup", data={
        "csrf_token": page_token(staff_client, "/staff/me"), "secret": hidden, "code": "000000"})
    assert wrong.status_code == 422 and "did not match" in wrong.get_data(as_text=True)
    assert secret.replace(" ", "") in wrong.get_data(as_text=True).replace(" ", "")  # the same key, to try again
    forged = staff_client.post("/staff/me/two-factor/setup", data={
        "csrf_token": page_token(staff_client, "/staff/me"), "secret": "AAAA", "code": "000000"})
    assert forged.status_code == 422 and "too old" in forged.get_data(as_text=True)

    right = staff_client.post("/staff/me/two-factor/setup", data={
        "csrf_token": page_token(staff_client, "/staff/me"), "secret": hidden,
        "code": pyotp.TOTP(secret).at(utcnow())})
    codes = re.findall(r"<code>([A-Z0-9-]+)</code>", right.get_data(as_text=True))
    assert right.status_code == 200 and len(set(codes)) == 10
    db.session.expire_all()
    assert staff_user.two_factor and staff_user.totp_secret == secret
    stored = {row.code_hash for row in db.session.scalars(select(totp.StaffRecoveryCode))}
    assert len(stored) == 10 and not any(code in stored or code.replace("-", "") in stored for code in codes)
    me = staff_client.get("/staff/me").get_data(as_text=True)
    assert "On since" in me and "10 recovery codes left" in me and not any(code in me for code in codes)
    assert [e.action for e in db.session.scalars(select(StaffAudit))][-1] == "two_factor_on"


def test_signing_in_takes_the_password_then_the_code(app, db, enrolled, clock):
    secret, _ = enrolled
    clock.tick(timedelta(minutes=5))
    browser = app.test_client()
    signed = sign_in(browser, next_url="/staff/orders")
    assert signed.status_code == 303 and signed.headers["Location"] == "/staff/orders"
    detour = browser.get("/staff/orders")
    assert detour.status_code == 302 and detour.headers["Location"].startswith("/staff/me/two-factor?next=/staff/orders")
    page = browser.get(detour.headers["Location"]).get_data(as_text=True)
    assert '<nav aria-label="Staff">' not in page  # no desk until the code is given
    assert browser.post("/staff/orders/batch", data={"csrf_token": page_token(browser, "/staff/me/two-factor")}).status_code == 401
    assert browser.get("/staff/accounts").status_code == 302

    wrong = give_code(browser, "123456")
    assert wrong.status_code == 401 and "That code did not work" in wrong.get_data(as_text=True)
    right = give_code(browser, pyotp.TOTP(secret).at(utcnow()))
    assert right.status_code == 303 and right.headers["Location"] == "/staff/orders"
    assert browser.get("/staff/orders").status_code == 200
    record = db.session.scalars(select(StaffSession).order_by(StaffSession.id.desc())).first()
    assert record.second_factor_at is not None


def test_a_code_from_the_step_before_is_accepted_but_not_older(app, db, enrolled, clock):
    secret, _ = enrolled
    clock.tick(timedelta(minutes=10))
    now = utcnow()
    totp_ = pyotp.TOTP(secret)
    browser = app.test_client()
    sign_in(browser)
    assert give_code(browser, totp_.at(now - timedelta(seconds=60))).status_code == 401  # two steps back
    assert give_code(browser, totp_.at(now + timedelta(seconds=90))).status_code == 401  # three ahead
    assert give_code(browser, totp_.at(now - timedelta(seconds=30))).status_code == 303  # one step back


def test_a_code_is_used_once(app, db, enrolled, clock):
    secret, _ = enrolled
    clock.tick(timedelta(minutes=10))
    code = pyotp.TOTP(secret).at(utcnow())
    first, second = app.test_client(), app.test_client()
    sign_in(first), sign_in(second)
    assert give_code(first, code).status_code == 303
    assert give_code(second, code).status_code == 401  # the same code, a second later, another browser
    older = pyotp.TOTP(secret).at(utcnow() - timedelta(seconds=30))
    assert give_code(second, older).status_code == 401  # an older code than one already used
    clock.tick(timedelta(seconds=30))
    assert give_code(second, pyotp.TOTP(secret).at(utcnow())).status_code == 303


def test_the_code_check_itself_on_a_clock_passed_in(db, staff_user):
    secret = totp.new_secret()
    at = MOMENT
    codes = pyotp.TOTP(secret)
    assert totp.matching_step(secret, codes.at(at), at) == codes.timecode(at)
    assert totp.matching_step(secret, codes.at(at - timedelta(seconds=30)), at) == codes.timecode(at) - 1
    assert totp.matching_step(secret, codes.at(at + timedelta(seconds=30)), at) == codes.timecode(at) + 1
    assert totp.matching_step(secret, codes.at(at - timedelta(seconds=60)), at) is None
    code = codes.at(at)
    assert totp.matching_step(secret, f"{code[:3]} {code[3:]}", at) == codes.timecode(at)  # as apps show it
    assert totp.matching_step(secret, "abcdef", at) is None
    recovery = totp.enrol(staff_user, secret, codes.at(at), at)
    assert not totp.use_code(staff_user, codes.at(at), at)  # the code that enrolled it
    assert totp.use_code(staff_user, codes.at(at + timedelta(seconds=30)), at + timedelta(seconds=30))
    spaced = recovery[0].lower().replace("-", " ")
    assert totp.use_recovery_code(staff_user, spaced, at)
    assert not totp.use_recovery_code(staff_user, recovery[0], at)
    assert totp.recovery_codes_left(staff_user) == 9


def test_a_recovery_code_signs_in_once(app, db, enrolled, clock):
    _, codes = enrolled
    browser = app.test_client()
    sign_in(browser)
    used = give_code(browser, codes[3].lower())
    assert used.status_code == 303
    assert "9 are left" in browser.get("/staff/orders").get_data(as_text=True)
    again = app.test_client()
    sign_in(again)
    assert give_code(again, codes[3]).status_code == 401
    assert ("recovery_code_used", STAFF_EMAIL) in [(e.action, e.actor) for e in db.session.scalars(select(StaffAudit))]


def test_wrong_codes_are_counted_per_account_and_end_the_session(app, db, enrolled, clock):
    secret, _ = enrolled
    browser = app.test_client()
    sign_in(browser)
    for n in range(5):
        assert give_code(browser, f"{n:06d}").status_code == 401
    refused = give_code(browser, pyotp.TOTP(secret).at(utcnow()))  # even the right code
    assert refused.status_code == 303 and refused.headers["Location"] == "/staff/login"
    assert "Too many wrong codes" in browser.get("/staff/login").get_data(as_text=True)
    assert browser.get("/staff/orders").status_code == 302
    another = app.test_client()  # a new session does not bring new guesses
    sign_in(another)
    assert give_code(another, pyotp.TOTP(secret).at(utcnow())).headers["Location"] == "/staff/login"
    revoked = db.session.scalars(select(StaffSession.revoked_reason)).all()
    assert revoked.count("too many wrong codes") == 2


def test_roles_that_need_it_are_made_to_set_it_up_at_sign_in(app, db, clock):
    app.config["STAFF_REQUIRE_2FA_ROLES"] = ("admin", "finance")
    services.create("money@example.org", STAFF_PASSWORD, ["finance"], 12, None, utcnow())
    services.create("packer@example.org", STAFF_PASSWORD, ["desk"], 12, None, utcnow())
    db.session.commit()
    packer = app.test_client()
    sign_in(packer, email="packer@example.org")
    assert packer.get("/staff/orders").status_code == 200  # the desk is not made to

    money = app.test_client()
    sign_in(money, email="money@example.org")
    forced = money.get("/staff/orders")
    assert forced.status_code == 302 and forced.headers["Location"].startswith("/staff/me/two-factor/setup")
    assert money.get("/staff/me").status_code == 302
    page = money.get(forced.headers["Location"]).get_data(as_text=True)
    assert "Your role needs two-factor sign-in" in page and "Not now" not in page
    enrol(money, utcnow())
    assert money.get("/staff/orders").status_code == 200
    me = money.get("/staff/me").get_data(as_text=True)
    assert "(your roles need it)" in me and "Turn two-factor sign-in off" not in me
    refused = money.post("/staff/me/two-factor/off", data={"csrf_token": page_token(money, "/staff/me")})
    assert refused.status_code == 303
    db.session.expire_all()
    assert find_staff("money@example.org").two_factor


def test_a_role_that_needs_it_given_later_asks_for_it_at_once(app, db, staff_client, staff_user, clock):
    assert staff_client.get("/staff/orders").status_code == 200
    app.config["STAFF_REQUIRE_2FA_ROLES"] = ("admin",)
    assert staff_client.get("/staff/orders").headers["Location"].startswith("/staff/me/two-factor/setup")


def test_turning_it_off_asks_for_the_password(app, db, staff_client, staff_user, enrolled, clock):
    clock.tick(timedelta(minutes=30))  # the password was typed longer ago than STAFF_REAUTH_MINUTES
    token = page_token(staff_client, "/staff/me")
    prompt = staff_client.post("/staff/me/two-factor/off", data={"csrf_token": token})
    assert prompt.status_code == 200 and "To turn two-factor sign-in off, type your password again" in prompt.get_data(as_text=True)
    done = staff_client.post("/staff/me/two-factor/off", data={"csrf_token": token, "confirm_password": STAFF_PASSWORD})
    assert done.status_code == 303
    db.session.expire_all()
    assert not staff_user.two_factor and totp.recovery_codes_left(staff_user) == 0
    assert sign_in(app.test_client()).headers["Location"] == "/staff"
    browser = app.test_client()
    sign_in(browser)
    assert browser.get("/staff").status_code == 200  # the password alone again


def test_new_recovery_codes_replace_the_old(db, staff_client, enrolled, clock):
    _, old = enrolled
    response = staff_client.post("/staff/me/recovery-codes", data={"csrf_token": page_token(staff_client, "/staff/me")})
    new = re.findall(r"<code>([A-Z0-9-]+)</code>", response.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    user = find_staff(STAFF_EMAIL)
    assert not totp.use_recovery_code(user, old[0], utcnow())
    assert totp.use_recovery_code(user, new[0], utcnow())


def test_production_needs_it_for_admin_and_finance(monkeypatch):
    monkeypatch.delenv("STAFF_REQUIRE_2FA_ROLES", raising=False)
    monkeypatch.setenv("SHOP_ENV", "development")
    assert load_config()["STAFF_REQUIRE_2FA_ROLES"] == ()
    from tests.test_config import PRODUCTION

    for key, value in PRODUCTION.items():
        monkeypatch.setenv(key, value)
    assert load_config()["STAFF_REQUIRE_2FA_ROLES"] == ("admin", "finance")
    monkeypatch.setenv("STAFF_REQUIRE_2FA_ROLES", "Admin, desk")
    assert load_config()["STAFF_REQUIRE_2FA_ROLES"] == ("admin", "desk")


def test_an_unknown_role_to_require_stops_start_up():
    with pytest.raises(RuntimeError, match="STAFF_REQUIRE_2FA_ROLES: 'boss' is not a role"):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "STAFF_REQUIRE_2FA_ROLES": ("boss",)})
