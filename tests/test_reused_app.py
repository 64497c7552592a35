"""The suite's one app per test process (tests/conftest.py, ``_ReusedApp``): whatever a test
changes, the next test gets the app as ``create_app`` left it."""

from shop import create_app
from shop.extensions import limiter
from shop.web import fragments, pagecache
from tests.conftest import _REUSED_APPS, CHEAP_HASHING, ISBN, isbn13, make_publication


def test_the_next_test_gets_the_app_as_create_app_left_it(app, client, database_url):
    [reused] = [entry for entry in _REUSED_APPS.values() if entry.app is app]
    with app.app_context():
        make_publication()
    # What a test may do to its app: change the config, fill the caches, add a hook, make the
    # Stripe client, count requests against a limit, build another app (which binds the shared
    # extension objects to itself).
    app.config["STAFF_ORDERS_PER_PAGE"] = 3

    @app.before_request
    def added_by_a_test():
        pass

    assert client.get(f"/publications/{ISBN}").status_code == 200
    assert len(app.extensions[pagecache.EXTENSION]) == 1
    app.extensions[fragments.EXTENSION].put("a row", "<tr></tr>")
    app.extensions["stripe_client"] = object()
    storage = limiter._storage
    create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, **CHEAP_HASHING})
    assert limiter._storage is not storage  # now the other app's

    assert reused.reset() is app
    assert app.config["STAFF_ORDERS_PER_PAGE"] == reused.config["STAFF_ORDERS_PER_PAGE"] != 3
    assert len(app.extensions[pagecache.EXTENSION]) == 0 and "stripe_client" not in app.extensions
    assert len(app.extensions[fragments.EXTENSION]) == 0
    assert added_by_a_test not in app.before_request_funcs[None]
    assert app.extensions[pagecache.HOLES]  # the comment form's hole is still registered
    assert limiter._storage is storage
    # And it serves as a new app would: the page renders afresh, then comes from the cache.
    with app.app_context():
        make_publication(isbn=isbn13(2), title="Another report")
    assert "Another report" in client.get(f"/publications/{isbn13(2)}").get_data(as_text=True)
    assert len(app.extensions[pagecache.EXTENSION]) == 1
