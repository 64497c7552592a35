"""Guards for the request-plumbing speed-ups in docs/performance.md: each test fails when its
mechanism is switched off or its invariant breaks."""


import ast
from pathlib import Path

import pytest
from flask.globals import request_ctx
from flask_login import LoginManager
from sqlalchemy import text

import shop
from shop import create_app
from shop.errors import InvalidISBN
from shop.extensions import limiter
from shop.web import hooks
from tests.conftest import CHEAP_HASHING, ISBN


def _app_wide_limit_check_runs(app) -> bool:
    return limiter._check_request_limit in app.before_request_funcs.get(None, [])


def test_the_limiter_checks_only_the_views_that_carry_a_limit(database_url):
    # Every request paid for Flask-Limiter's app-wide check although the shop sets no app-wide
    # limit; the limited views check their own (tests/staff/test_auth.py, tests/checkout).
    def shop(**config):
        # RATELIMIT_ENABLED said outright: the limiter is one object for every app in this
        # process, and it keeps the last app's setting as its default.
        return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test-secret",
                           "TESTING": True, "RATELIMIT_ENABLED": True, **CHEAP_HASHING, **config})

    assert not _app_wide_limit_check_runs(shop())
    # Someone who configures an app-wide limit keeps the check that enforces it.
    assert _app_wide_limit_check_runs(shop(RATELIMIT_DEFAULT="1000 per minute"))


def test_a_public_page_runs_one_guard_and_no_extension_hook_with_nothing_to_do(app, client, publication):
    # shop.web.hooks: one before_request guard for every page (cross-origin, CSRF, NUL), the
    # basket's own hook on the basket only, and Flask-Login's remember-me hook gone.
    shop_hooks = [hook.__name__ for hook in app.before_request_funcs[None]]
    assert shop_hooks == ["guard_request", "fresh_globals"]  # the second is the test app's (conftest)
    assert [hook.__name__ for hook in app.before_request_funcs["basket"]] == ["settle_paid_checkout"]
    assert not any(getattr(hook, "__func__", None) is LoginManager._update_remember_cookie
                   for hook in app.after_request_funcs[None])
    # The limiter's after_request and teardown hooks find no limit state on a page without a
    # limit, and do not make one (a limited view's headers: tests/checkout/test_checkout.py).
    with client:
        assert client.get(f"/publications/{ISBN}").status_code == 200
        assert not hasattr(request_ctx._get_current_object(), hooks._LIMITER_STATE)


def test_the_shop_never_asks_flask_login_for_a_remember_me_cookie():
    # The invariant that lets shop.web.hooks drop Flask-Login's remember-me hook: only
    # login_user() and logout_user() ask it for work, and no module of the shop calls them.
    shop_dir = Path(shop.__file__).parent
    callers = []
    for path in shop_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
            if name in ("login_user", "logout_user"):
                callers.append(f"{path.relative_to(shop_dir)}:{node.lineno}")
    assert callers == []


def test_a_request_without_a_cookie_builds_no_session_signer(app, client, shopper, publication, monkeypatch):
    interface = app.session_interface
    built = []
    original = interface.get_signing_serializer

    def counting(app_):
        built.append(app_)
        return original(app_)

    monkeypatch.setattr(interface, "get_signing_serializer", counting)
    for path in ("/", f"/publications/{ISBN}"):
        response = client.get(path)
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert built == []
    # A reader who brings a cookie still has it opened (and their basket read).
    shopper.add(quantity=2)
    built.clear()
    assert "(2 copies)" in client.get("/").get_data(as_text=True)
    assert built


def test_a_staff_session_record_is_written_at_most_once_a_minute(staff_client, db):
    """Staff pages do not write to the database on every request: the session record's
    last_seen_at moves only when it is over a minute old (shop.staff.sessions.SEEN_PRECISION)."""
    from datetime import timedelta

    from sqlalchemy import select

    from shop.staff.models import StaffSession
    from shop.timeutil import utcnow

    def last_seen():
        db.session.expire_all()
        return db.session.scalar(select(StaffSession.last_seen_at).where(StaffSession.revoked_at.is_(None)))

    staff_client.get("/staff/orders")
    seen = last_seen()
    staff_client.get("/staff/orders")
    assert last_seen() == seen  # seconds later: not written again
    db.session.execute(StaffSession.__table__.update().values(last_seen_at=utcnow() - timedelta(seconds=61)))
    db.session.commit()
    staff_client.get("/staff/orders")
    assert last_seen() > seen


def test_isbn_and_money_text_is_worked_out_once_per_value(monkeypatch):
    from stdnum import isbn as stdnum_isbn

    from shop import isbn as isbns
    from shop import money

    calls = []
    for module, name in ((stdnum_isbn, "validate"), (stdnum_isbn, "format"), (money, "format_currency")):
        original = getattr(module, name)

        def counting(*args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counting)
    for cached in (isbns._validated, isbns.hyphenate, money._format):
        cached.cache_clear()
    for _ in range(3):
        assert isbns.normalise("978-1-85717-640-7") == ISBN
        assert isbns.hyphenate(ISBN) == "978-1-85717-640-7"
        assert money.format_pence(850) == "£8.50"
    assert sorted(calls) == ["format", "format_currency", "validate"]
    # A refused ISBN is never remembered as valid: it is refused every time.
    for _ in range(2):
        with pytest.raises(InvalidISBN):
            isbns.normalise("978-1-85717-640-8")


def test_list_columns_are_decoded_once_per_text_into_values_nobody_can_change(monkeypatch):
    import json

    from shop.catalogue import models
    from shop.catalogue.rules import Contributor, PriceBreak

    parsed = []
    original = json.loads
    monkeypatch.setattr(models.json, "loads", lambda text: parsed.append(text) or original(text))
    for cached in (models._contributors, models._codes, models._price_breaks):
        cached.cache_clear()
    contributors = models.ContributorList().process_result_value('[["A01","Chris Ham"]]', None)
    again = models.ContributorList().process_result_value('[["A01","Chris Ham"]]', None)
    assert contributors == again == (Contributor("A01", "Chris Ham"),)
    assert models.CodeList().process_result_value('["MBP"]', None) == ("MBP",)
    assert models.PriceBreakList().process_result_value("[[10,750]]", None) == (PriceBreak(10, 750),)
    assert models.PriceBreakList().process_result_value("[[10,750]]", None) == (PriceBreak(10, 750),)
    assert parsed == ['[["A01","Chris Ham"]]', '["MBP"]', "[[10,750]]"]  # once per text
    # What is shared between rows is immutable: a tuple of named tuples.
    with pytest.raises(TypeError):
        contributors[0] = Contributor("B01", "Someone Else")  # type: ignore[index]
    with pytest.raises(AttributeError):
        contributors[0].name = "Someone Else"  # type: ignore[misc]


def test_a_sqlite_file_is_read_while_it_is_written(db):
    # The write-ahead log: readers (pages) never wait for a writer (a webhook's transaction).
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's journal mode")
    assert db.session.scalar(text("PRAGMA journal_mode")) == "wal"
