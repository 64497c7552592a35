"""/staff/accounts: invitations by a one-time link (48 hours, with a clock the test controls),
resets, roles, disabling, the audit trail, the last admin; the ``staff`` commands; and the
upgrade that makes every existing account an admin."""

import re
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select, text

from shop.emails.models import OutboxEmail
from shop.staff import roles, totp
from shop.staff.accounts import services
from shop.staff.auth import StaffAccountError, find_staff
from shop.staff.models import StaffAudit, StaffSession
from shop.timeutil import utcnow
from tests.conftest import STAFF_EMAIL, STAFF_PASSWORD, page_token, sign_in
from tests.support import race

NEW_PASSWORD = "a fresh passphrase for the desk"


def invite(client, email: str, *role_names: str):
    token = page_token(client, "/staff/accounts")
    return client.post("/staff/accounts/invite", data={"csrf_token": token, "email": email, "roles": list(role_names)})


def link_for(db, email: str) -> str:
    """The path of the newest one-time link emailed to ``email``."""
    message = db.session.scalars(
        select(OutboxEmail).filter_by(kind="staff_link", recipient=email).order_by(OutboxEmail.id.desc())
    ).first()
    assert message is not None, f"no link emailed to {email}"
    url = re.search(r"http://shop\.test(/staff/welcome/\S+)", message.text_body).group(1)
    assert url in message.html_body
    return url


def set_password(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    token = page_token(client, path)
    return client.post(path, data={"csrf_token": token, "password": password, "confirm": confirm or password})


def actions(db, email: str) -> list[tuple[str, str]]:
    entries = db.session.scalars(select(StaffAudit).filter_by(subject_email=email).order_by(StaffAudit.id))
    return [(entry.action, entry.actor) for entry in entries]


def member(db, email: str, *role_names: str):
    user = services.create(email, STAFF_PASSWORD, role_names, 12, None, utcnow())
    db.session.commit()
    return user


def test_an_admin_invites_and_the_link_sets_a_password_once(app, db, staff_client):
    response = invite(staff_client, "New.Person@Example.org", "desk", "finance")
    assert response.status_code == 303
    user = find_staff("new.person@example.org")
    assert user.roles == {"desk", "finance"} and not user.has_password and user.active
    assert actions(db, user.email) == [("invited", STAFF_EMAIL)]
    email = db.session.scalar(select(OutboxEmail).filter_by(kind="staff_link"))
    assert email.recipient == "new.person@example.org" and email.order_id is None
    assert "Desk, Finance" in email.text_body and STAFF_EMAIL in email.text_body and "48 hours" in email.text_body
    listing = staff_client.get("/staff/accounts").get_data(as_text=True)
    assert "new.person@example.org" in listing and "Link sent" in listing

    path = link_for(db, user.email)
    browser = app.test_client()
    page = browser.get(path)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert "new.person@example.org" in page.get_data(as_text=True)
    differ = set_password(browser, path, confirm="something else entirely")
    assert differ.status_code == 422 and "The two passwords differ" in differ.get_data(as_text=True)
    short = set_password(browser, path, "too short")
    assert short.status_code == 422 and "at least 12 characters" in short.get_data(as_text=True)
    assert sign_in(app.test_client(), email=user.email, password="too short").status_code == 401

    accepted = set_password(browser, path)
    assert accepted.status_code == 303 and accepted.headers["Location"] == "/staff"
    assert browser.get("/staff/orders").status_code == 200  # signed in, with the desk's roles
    assert browser.get("/staff/accounts").status_code == 403
    again = app.test_client().get(path)
    assert again.status_code == 404 and "no longer works" in again.get_data(as_text=True)
    assert set_password_blind(app, path).status_code == 404
    assert sign_in(app.test_client(), email=user.email, password=NEW_PASSWORD).status_code == 303
    assert actions(db, user.email) == [("invited", STAFF_EMAIL), ("password_set", user.email)]


def set_password_blind(app, path: str):
    """A second use of a link, posting straight away (its page would say it no longer works)."""
    client = app.test_client()
    token = page_token(client, "/staff/login")
    return client.post(path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})


def test_a_link_works_for_48_hours(app, db, staff_client):
    with freeze_time(utcnow()) as clock:
        invite(staff_client, "later@example.org", "catalogue")
        path = link_for(db, "later@example.org")
        clock.tick(timedelta(hours=47, minutes=59))
        assert app.test_client().get(path).status_code == 200
        clock.tick(timedelta(minutes=1, seconds=1))
        assert app.test_client().get(path).status_code == 404
        assert set_password_blind(app, path).status_code == 404
    assert not find_staff("later@example.org").has_password


def test_a_forged_link_opens_nothing(client, db):
    assert client.get("/staff/welcome/not-a-token").status_code == 404
    assert client.get("/staff/welcome/" + "x" * 200).status_code == 404


def test_invitation_mistakes_keep_what_was_typed(db, staff_client):
    bad = invite(staff_client, "not an address", "desk")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'value="not an address"' in page and "not an email address" in page
    none = invite(staff_client, "someone@example.org")
    assert none.status_code == 422 and "Choose at least one role" in none.get_data(as_text=True)
    assert 'value="someone@example.org"' in none.get_data(as_text=True)
    taken = invite(staff_client, STAFF_EMAIL.upper(), "desk")
    assert taken.status_code == 422 and "already has a staff account" in taken.get_data(as_text=True)
    unknown = invite(staff_client, "x@example.org", "owner")
    assert unknown.status_code == 422 and "not a valid choice" in unknown.get_data(as_text=True)
    assert db.session.scalar(select(OutboxEmail).filter_by(kind="staff_link")) is None


def test_a_reset_stops_the_password_the_second_factor_and_every_session(app, db, staff_client):
    user = member(db, "packer@example.org", "desk")
    totp.enrol(user, secret := totp.new_secret(), _code(secret), utcnow())
    db.session.commit()
    theirs = app.test_client()
    sign_in(theirs, email=user.email)
    token = page_token(staff_client, f"/staff/accounts/{user.id}")
    response = staff_client.post(f"/staff/accounts/{user.id}/reset", data={"csrf_token": token})
    assert response.status_code == 303
    assert theirs.get("/staff/orders").status_code == 302  # signed out
    assert sign_in(app.test_client(), email=user.email).status_code == 401  # the old password
    db.session.expire_all()
    assert not user.two_factor and user.totp_secret is None
    assert {s.revoked_reason for s in db.session.scalars(select(StaffSession).filter_by(user_id=user.id))} == {"account reset"}
    path = link_for(db, user.email)
    assert "reset your staff account" in db.session.scalars(select(OutboxEmail).filter_by(recipient=user.email)).first().text_body
    browser = app.test_client()
    assert set_password(browser, path).status_code == 303
    assert browser.get("/staff/orders").status_code == 200
    assert ("reset", STAFF_EMAIL) in actions(db, user.email)


def test_a_new_link_replaces_an_older_one(app, db, staff_client):
    invite(staff_client, "twice@example.org", "desk")
    first = link_for(db, "twice@example.org")
    user = find_staff("twice@example.org")
    token = page_token(staff_client, f"/staff/accounts/{user.id}")
    staff_client.post(f"/staff/accounts/{user.id}/reset", data={"csrf_token": token})
    second = link_for(db, "twice@example.org")
    assert first != second
    assert app.test_client().get(first).status_code == 404
    assert "Welcome to the staff desk" in app.test_client().get(second).get_data(as_text=True)  # still an invitation


def _code(secret: str) -> str:
    import pyotp

    return pyotp.TOTP(secret).at(utcnow())


def test_roles_change_and_the_history_says_who_did_it(db, staff_client):
    user = member(db, "mover@example.org", "desk")
    page = staff_client.get(f"/staff/accounts/{user.id}").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*value="desk"|<input[^>]*value="desk"[^>]*checked', page)
    token = page_token(staff_client, f"/staff/accounts/{user.id}")
    saved = staff_client.post(f"/staff/accounts/{user.id}/roles", data={"csrf_token": token, "roles": ["catalogue", "finance"]})
    assert saved.status_code == 303
    db.session.expire_all()
    assert user.roles == {"catalogue", "finance"}
    entry = db.session.scalars(select(StaffAudit).filter_by(action="roles_changed")).one()
    assert (entry.actor, entry.detail) == (STAFF_EMAIL, {"before": ["desk"], "after": ["finance", "catalogue"]})
    history = staff_client.get(f"/staff/accounts/{user.id}").get_data(as_text=True)
    assert "roles changed" in history and "before: desk" in history and "after: finance, catalogue" in history


def test_an_admin_cannot_disable_reset_or_demote_themselves(db, staff_client, staff_user):
    token = page_token(staff_client, f"/staff/accounts/{staff_user.id}")
    page = staff_client.get(f"/staff/accounts/{staff_user.id}").get_data(as_text=True)
    assert "You cannot disable or reset your own account here" in page and "Disable " not in page
    for action, data in (("disable", {}), ("reset", {}), ("roles", {"roles": ["desk"]})):
        response = staff_client.post(f"/staff/accounts/{staff_user.id}/{action}", data={"csrf_token": token, **data})
        assert response.status_code == 303
        assert "ask another admin" in staff_client.get(f"/staff/accounts/{staff_user.id}").get_data(as_text=True)
    db.session.expire_all()
    assert staff_user.active and staff_user.roles == {"admin"} and staff_user.has_password
    assert actions(db, staff_user.email) == [("created", "command line")]


def test_disabling_signs_out_and_enabling_lets_back_in(app, db, staff_client):
    user = member(db, "leaver@example.org", "finance")
    theirs = app.test_client()
    sign_in(theirs, email=user.email)
    token = page_token(staff_client, f"/staff/accounts/{user.id}")
    assert staff_client.post(f"/staff/accounts/{user.id}/disable", data={"csrf_token": token}).status_code == 303
    assert theirs.get("/staff").status_code == 302
    assert sign_in(app.test_client(), email=user.email).status_code == 401
    assert "Disabled" in staff_client.get("/staff/accounts").get_data(as_text=True)
    staff_client.post(f"/staff/accounts/{user.id}/enable", data={"csrf_token": token})
    assert sign_in(app.test_client(), email=user.email).status_code == 303
    assert actions(db, user.email)[-2:] == [("disabled", STAFF_EMAIL), ("enabled", STAFF_EMAIL)]


def test_the_last_admin_stays(db, staff_user):
    now = utcnow()
    for attempt in (
        lambda: services.disable(staff_user, None, now),
        lambda: services.set_roles(staff_user, ["desk"], None, now),
        lambda: services.reset(staff_user, None, now, lambda token: token, "Shop"),
    ):
        with pytest.raises(StaffAccountError, match="only active admin"):
            attempt()
        db.session.rollback()
    # An invited admin who has no password yet does not count as one.
    services.invite("next@example.org", ["admin"], staff_user, now, lambda token: token, "Shop")
    with pytest.raises(StaffAccountError, match="only active admin"):
        services.disable(staff_user, None, now)
    db.session.rollback()
    other = member(db, "second@example.org", "admin")
    services.set_roles(staff_user, ["desk"], other, now)
    db.session.commit()
    assert staff_user.roles == {"desk"}


def test_two_admins_removing_each_other_at_once_leave_one(app, db, staff_user):
    other = member(db, "second@example.org", "admin")
    ids = [staff_user.id, other.id]

    def disable_the_other(index: int) -> str:
        with app.app_context():
            from shop.extensions import db as session_db

            me, them = session_db.session.get(type(staff_user), ids[index]), session_db.session.get(type(staff_user), ids[1 - index])
            try:
                services.disable(them, me, utcnow())
                session_db.session.commit()
                return "done"
            except StaffAccountError:
                session_db.session.rollback()
                return "refused"

    results = race(2, disable_the_other)
    db.session.expire_all()
    assert services.active_admins() == 1, results
    assert sorted(str(r) if not isinstance(r, str) else r for r in results)[0] == "done"
    assert any(r != "done" for r in results)


# --- the command line -------------------------------------------------------------------------

def test_the_cli_gives_roles(runner, db):
    created = runner.invoke(args=["staff", "create", "ann@example.org", "--role", "desk", "--role", "Finance",
                                  "--password-stdin"], input="twelve chars ok\n")
    assert created.exit_code == 0 and "roles: desk, finance" in created.output
    assert find_staff("ann@example.org").roles == {"desk", "finance"}
    bad = runner.invoke(args=["staff", "create", "bob@example.org", "--role", "owner", "--password-stdin"], input="twelve chars ok\n")
    assert bad.exit_code != 0 and "'owner' is not a role" in bad.output and find_staff("bob@example.org") is None
    none = runner.invoke(args=["staff", "create", "cat@example.org", "--password-stdin"], input="twelve chars ok\n")
    assert none.exit_code == 0 and "no page until it has a role" in none.output

    changed = runner.invoke(args=["staff", "roles", "ann@example.org", "admin", "catalogue"])
    assert changed.exit_code == 0 and changed.output.strip() == "ann@example.org\tadmin catalogue"
    assert runner.invoke(args=["staff", "roles", "ann@example.org"]).output.strip() == "ann@example.org\tadmin catalogue"
    listing = runner.invoke(args=["staff", "list"]).output
    assert "ann@example.org\tactive\tadmin,catalogue\t2fa off" in listing
    assert ("roles_changed", "command line") in actions(db, "ann@example.org")


def test_the_cli_may_leave_no_admin_but_says_so(runner, db, staff_user):
    done = runner.invoke(args=["staff", "roles", STAFF_EMAIL, "desk"])
    assert done.exit_code == 0 and "No active admin is left" in done.output
    assert runner.invoke(args=["staff", "roles", STAFF_EMAIL, "admin"]).exit_code == 0


def test_the_cli_turns_off_a_lost_second_factor(runner, db, staff_user):
    secret = totp.new_secret()
    totp.enrol(staff_user, secret, _code(secret), utcnow())
    db.session.commit()
    assert "2fa on" in runner.invoke(args=["staff", "list"]).output
    assert runner.invoke(args=["staff", "two-factor-off", STAFF_EMAIL]).exit_code == 0
    db.session.expire_all()
    assert not staff_user.two_factor and totp.recovery_codes_left(staff_user) == 0


# --- the upgrade ------------------------------------------------------------------------------

def test_existing_accounts_become_admins_on_upgrade(tmp_path):
    from alembic.script import ScriptDirectory
    from flask_migrate import upgrade

    from shop import create_app
    from shop.extensions import db as _db
    from shop.extensions import migrate

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'u.sqlite3'}", "TESTING": True})
    with app.app_context():
        before = ScriptDirectory.from_config(migrate.get_config()).get_revision("0019").down_revision
        upgrade(revision=before)
        with _db.engine.begin() as conn:
            conn.execute(text("INSERT INTO staff_user (email, password_hash, active, created_at) "
                              "VALUES ('old@example.org', 'x', true, '2026-01-01 00:00:00')"))
        upgrade()
        with _db.engine.connect() as conn:
            assert conn.execute(text("SELECT role FROM staff_role")).scalars().all() == [roles.ADMIN]
        _db.engine.dispose()
