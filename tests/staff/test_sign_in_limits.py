"""Finding 6: failed sign-ins from anyone locked the real owner out, and 40 simultaneous attempts
got 8 password checks against a limit of 5. Now each attempt is counted before the password is
checked, per account and client; the owner's own browser (one that has signed in to the account
before) is never held back by guesses from elsewhere."""


import requests

from tests.conftest import STAFF_EMAIL, STAFF_PASSWORD, page_token, sign_in
from tests.support import form_token, race


def browser_at(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_guesses_from_one_address_do_not_lock_the_owner_out(app, staff_user):
    for n in range(5):
        assert sign_in(browser_at(app, "203.0.113.7"), password=f"wrong {n}").status_code == 401
    assert sign_in(browser_at(app, "203.0.113.7")).status_code == 429  # that address waits
    assert sign_in(browser_at(app, "198.51.100.2")).status_code == 303  # the owner, elsewhere


def test_guesses_from_many_addresses_stop_strangers_but_not_the_owners_browser(app, staff_user):
    app.config["STAFF_LOGIN_LIMIT_UNKNOWN_BROWSERS"] = "8 per hour"
    owner = browser_at(app, "198.51.100.2")
    assert sign_in(owner).status_code == 303  # signed in here before: a known browser
    assert owner.post("/staff/logout", data={"csrf_token": page_token(owner, "/staff")}).status_code == 303
    for n in range(8):  # a botnet: each address well under its own limit
        assert sign_in(browser_at(app, f"203.0.113.{n + 1}"), password=f"wrong {n}").status_code == 401
    stranger = sign_in(browser_at(app, "203.0.113.99"))  # even with the right password
    assert stranger.status_code == 429
    assert "Too many sign-in attempts for this account" in stranger.get_data(as_text=True)
    assert sign_in(owner).status_code == 303


def test_a_known_browser_has_its_own_limit(app, staff_user):
    owner = browser_at(app, "198.51.100.2")
    assert sign_in(owner).status_code == 303
    for n in range(5):
        assert sign_in(owner, password=f"wrong {n}").status_code == 401
    assert sign_in(owner).status_code == 429


def test_a_forged_or_foreign_device_cookie_counts_as_a_stranger(app, db, staff_user):
    from shop.staff.auth import create_staff

    create_staff("other@example.org", STAFF_PASSWORD, 12)
    db.session.commit()
    other = browser_at(app, "203.0.113.7")
    assert sign_in(other, email="other@example.org").status_code == 303  # known to *that* account
    for n in range(5):
        assert sign_in(other, password=f"wrong {n}").status_code == 401
    assert sign_in(other).status_code == 429
    forged = browser_at(app, "203.0.113.8")
    forged.set_cookie("shop_staff_device", "forged.value.sig", path="/staff/login")
    for n in range(5):
        assert sign_in(forged, password=f"wrong {n}").status_code == 401
    assert sign_in(forged).status_code == 429


def test_forty_simultaneous_guesses_get_at_most_the_limit_of_password_checks(app, live_server, staff_user):
    browsers = []
    for _ in range(40):
        browser = requests.Session()
        page = browser.get(f"{live_server}/staff/login").text
        browsers.append((browser, form_token(page)))

    def guess(index: int) -> int:
        browser, token = browsers[index]
        data = {"csrf_token": token, "email": STAFF_EMAIL, "password": f"guess {index}"}
        return browser.post(f"{live_server}/staff/login", data=data, allow_redirects=False, timeout=60).status_code

    codes = race(40, guess)
    assert codes.count(401) == 5, codes  # a 401 is a password checked and refused
    assert codes.count(429) == 35, codes


def test_a_refused_attempt_says_when_to_try_again(app, staff_user):
    for n in range(5):
        sign_in(browser_at(app, "203.0.113.7"), password=f"wrong {n}")
    refused = sign_in(browser_at(app, "203.0.113.7"))
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 600
    assert 'value="desk@example.org"' in refused.get_data(as_text=True)  # what was typed is kept
