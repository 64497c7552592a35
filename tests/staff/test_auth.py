"""Staff accounts and sign-in: the CLI, the rate limits, and every staff URL closed to others."""

import re

import pytest

from shop.staff.models import StaffUser
from shop.staff.roles import PUBLIC
from tests.conftest import STAFF_EMAIL, STAFF_PASSWORD, page_token, sign_in


def staff_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("staff.")]


def concrete(rule) -> str:
    """A URL for the rule: integers where the rule wants one, an order reference elsewhere."""
    return re.sub(r"<int:[^>]+>", "1", re.sub(r"<(?!int:)[^>]+>", "KF-2026-000001", rule.rule))


def test_the_cli_creates_lists_disables_and_resets(runner, db):
    created = runner.invoke(args=["staff", "create", "Ann@Example.org"], input="twelve chars ok\ntwelve chars ok\n")
    assert created.exit_code == 0, created.output
    assert "Created staff account ann@example.org" in created.output
    user = db.session.scalar(db.select(StaffUser).filter_by(email="ann@example.org"))
    assert user.password_hash.startswith("$argon2id$")
    assert "twelve chars ok" not in user.password_hash

    mismatch = runner.invoke(args=["staff", "create", "bob@example.org"], input="twelve chars ok\ntwelve chars no\ntwelve chars ok\ntwelve chars ok\n")
    assert "do not match" in mismatch.output.lower()

    short = runner.invoke(args=["staff", "create", "carl@example.org", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output

    again = runner.invoke(args=["staff", "create", "ANN@example.org", "--password-stdin"], input="another long one\n")
    assert again.exit_code != 0 and "already exists" in again.output

    listing = runner.invoke(args=["staff", "list"]).output
    assert "ann@example.org\tactive" in listing

    assert runner.invoke(args=["staff", "disable", "ann@example.org"]).exit_code == 0
    assert "ann@example.org\tdisabled" in runner.invoke(args=["staff", "list"]).output
    reset = runner.invoke(args=["staff", "set-password", "ann@example.org", "--password-stdin"], input="a brand new passphrase\n")
    assert reset.exit_code == 0
    missing = runner.invoke(args=["staff", "disable", "nobody@example.org"])
    assert missing.exit_code != 0 and "No staff account" in missing.output


def test_sign_in_goes_to_the_page_asked_for(client, staff_user):
    response = sign_in(client, next_url="/staff/orders")
    assert response.status_code == 303 and response.headers["Location"] == "/staff/orders"
    assert client.get("/staff/orders").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/staff", "//evil.example/staff", "/basket", "/\\evil.example",
                                    # finding 7: a line break in next= gave a 500 after sign-in
                                    "/staff/orders%0d%0aSet-Cookie:%20x=1", "/staff%0a", "/staff%09x"])
def test_sign_in_never_redirects_off_the_desk(client, staff_user, target):
    response = sign_in(client, next_url=target)
    assert response.headers["Location"] == "/staff"


def test_wrong_password_and_unknown_email_get_the_same_answer(client, staff_user):
    wrong_password = sign_in(client, password="not the password")
    unknown_email = sign_in(client, email="nobody@example.org")
    for response in (wrong_password, unknown_email):
        assert response.status_code == 401
        assert "did not match an active staff account" in response.get_data(as_text=True)
    assert client.get("/staff").status_code == 302


def test_disabled_accounts_cannot_sign_in_and_lose_their_sessions(app, db, runner, staff_user):
    client = app.test_client()
    assert sign_in(client).status_code == 303
    assert client.get("/staff").status_code == 200
    runner.invoke(args=["staff", "disable", STAFF_EMAIL])
    assert client.get("/staff").status_code == 302
    assert sign_in(app.test_client()).status_code == 401


def test_a_new_password_signs_out_other_sessions(app, runner, staff_user):
    client = app.test_client()
    sign_in(client)
    runner.invoke(args=["staff", "set-password", STAFF_EMAIL, "--password-stdin"], input="the next passphrase\n")
    assert client.get("/staff").status_code == 302
    assert sign_in(app.test_client(), password="the next passphrase").status_code == 303


def test_sessions_expire_after_the_idle_time(db, staff_client):
    # Sessions are records now (shop.staff.sessions): last used 61 minutes ago.
    from datetime import timedelta

    from shop.staff.models import StaffSession
    from shop.timeutil import utcnow

    db.session.execute(db.update(StaffSession).values(last_seen_at=utcnow() - timedelta(minutes=61)))
    db.session.commit()
    response = staff_client.get("/staff/orders")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_failed_sign_ins_are_limited_per_account(app, staff_user):
    for attempt in range(5):
        assert sign_in(app.test_client(), password=f"wrong {attempt}").status_code == 401
    limited = sign_in(app.test_client())  # even the right password, from a fresh browser
    assert limited.status_code == 429
    assert "Too many sign-in attempts for this account" in limited.get_data(as_text=True)
    # Another account is not locked out by it.
    from shop.extensions import db
    from shop.staff.auth import create_staff

    create_staff("other@example.org", STAFF_PASSWORD, 12)
    db.session.commit()
    assert sign_in(app.test_client(), email="other@example.org").status_code == 303


def test_failed_sign_ins_are_limited_per_address(app, staff_user):
    app.config["STAFF_LOGIN_LIMIT_PER_ADDRESS"] = "3 per 10 minutes"
    for n in range(3):
        assert sign_in(app.test_client(), email=f"guess{n}@example.org").status_code == 401
    limited = sign_in(app.test_client(), email="guess9@example.org")
    assert limited.status_code == 429
    assert "from this address" in limited.get_data(as_text=True)


def test_successful_sign_ins_do_not_count_against_the_limit(app, staff_user):
    for _ in range(7):
        assert sign_in(app.test_client()).status_code == 303


def test_the_session_cookie_is_http_only_and_same_site(client, staff_user):
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_every_staff_url_is_closed_when_signed_out(app, client, publication):
    rules = staff_rules(app)
    assert len(rules) >= 10
    for rule in rules:
        if rule.endpoint in PUBLIC:  # sign-in, and the one-time links (tests/staff/test_accounts.py)
            continue
        url = concrete(rule)
        if "GET" in rule.methods:
            response = client.get(url)
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith("/staff/login"), url
        if "POST" in rule.methods:
            response = client.post(url, data={"csrf_token": page_token(client, "/staff/login")})
            assert response.status_code == 401, url
            assert b"KF-2026" not in response.data


def test_every_staff_action_needs_a_csrf_token(app, staff_client):
    for rule in staff_rules(app):
        if "POST" in rule.methods:
            response = staff_client.post(concrete(rule), data={"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
            assert response.status_code == 400, rule.rule


def test_sign_out(staff_client):
    token = page_token(staff_client, "/staff")
    assert staff_client.post("/staff/logout", data={"csrf_token": token}).status_code == 303
    assert staff_client.get("/staff").status_code == 302


def test_staff_pages_are_not_cached(staff_client):
    assert staff_client.get("/staff/orders").headers["Cache-Control"] == "no-store"
