"""Pooled PostgreSQL connections that die while idle (a server restart, an idle timeout): checked
before use once idle for DATABASE_PING_AFTER_IDLE_SECONDS, not on every page."""

import os
import time

import pytest
from sqlalchemy import create_engine, text

from shop import create_app
from shop.extensions import db

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
    reason="SQLite connections are to a file and cannot be closed from outside",
)


def _shop(database_url: str, idle_seconds: int):
    return create_app({
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "DATABASE_PING_AFTER_IDLE_SECONDS": idle_seconds,
    })


def _kill_the_pooled_connection(app, database_url: str) -> None:
    """Serve a page, so the pool holds one connection, then end its server process from outside."""
    assert app.test_client().get("/").status_code == 200
    with app.app_context():
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.remove()  # back to the pool
    outside = create_engine(database_url)
    with outside.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(50):  # it ends a moment after the signal
            if not conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}):
                break
            time.sleep(0.05)
    outside.dispose()


def test_a_connection_that_died_while_idle_is_replaced_before_a_page_uses_it(database_url):
    shop = _shop(database_url, idle_seconds=0)
    _kill_the_pooled_connection(shop, database_url)
    assert shop.test_client().get("/").status_code == 200
    with shop.app_context():
        db.engine.dispose()


def test_a_connection_in_use_moments_ago_is_not_pinged(database_url):
    """The other side of the trade: within the idle window nothing checks, so a connection killed
    in those seconds costs one request; the pool then drops it and the next request works."""
    shop = _shop(database_url, idle_seconds=3600)
    _kill_the_pooled_connection(shop, database_url)
    client = shop.test_client()
    assert client.get("/").status_code == 500
    assert client.get("/").status_code == 200
    with shop.app_context():
        db.engine.dispose()
