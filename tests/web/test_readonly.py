"""Guards shop.web.readonly: the views it marks send only SELECTs, and on PostgreSQL they run in
autocommit while every other view keeps its transaction."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from shop.extensions import db
from shop.web.readonly import READ_ONLY_VIEWS
from tests.comments.conftest import make_comment
from tests.conftest import ISBN


@contextmanager
def recorded(app):
    """Every statement sent inside the block, with the view that sent it and whether its
    connection was in autocommit."""
    sent: list[tuple[str, str, bool]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        from flask import has_request_context, request

        view = ""
        if has_request_context() and request.endpoint:
            function = app.view_functions[request.endpoint]
            view = f"{function.__module__}.{function.__qualname__}"
        sent.append((view, statement, bool(getattr(cursor.connection, "autocommit", False))))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)


def visit_every_read_only_view(client, publication):
    make_comment(publication, text="A comment shown under the title.")
    db.session.remove()  # each request starts with a fresh session, as outside tests
    pages = ["/", "/?page=2", "/?q=leadership", f"/?q={ISBN}", "/?q=978-0-00-000000-0",
             f"/publications/{ISBN}", f"/publications/{ISBN}", "/publications/9780000000000"]
    for path in pages:
        assert client.get(path).status_code in (200, 404), path


def test_marked_views_send_only_selects(app, client, publication):
    with recorded(app) as sent:
        visit_every_read_only_view(client, publication)
    seen = {view for view, _, _ in sent}
    assert seen >= READ_ONLY_VIEWS, f"a marked view this test does not visit: {READ_ONLY_VIEWS - seen}"
    for view, statement, _ in sent:
        if view in READ_ONLY_VIEWS:
            # SQLite's schema reads (which title index there is) are PRAGMAs that read too.
            reads = ("SELECT", "WITH", "PRAGMA MAIN.TABLE_INFO(")
            assert statement.lstrip("( \n").upper().startswith(reads), (view, statement)


def test_only_marked_views_run_in_autocommit_and_only_on_postgresql(app, client, publication):
    on_postgres = db.engine.dialect.name == "postgresql"
    with recorded(app) as sent:
        visit_every_read_only_view(client, publication)
        # Then a view that writes, on a connection the read-only pages used before it: the pool
        # must have given back its transaction.
        assert client.post("/basket/add", data={"isbn": ISBN, "quantity": "1"}).status_code == 303
        assert client.get("/basket").status_code == 200
    marked = [autocommit for view, _, autocommit in sent if view in READ_ONLY_VIEWS]
    others = [autocommit for view, _, autocommit in sent if view and view not in READ_ONLY_VIEWS]
    assert marked and others
    assert all(marked) if on_postgres else not any(marked)
    assert not any(others)


@pytest.mark.parametrize("path", ["/", f"/publications/{ISBN}"])
def test_a_read_only_page_still_answers_after_a_hook_opened_the_transaction(app, client, publication, path):
    # A before_request hook that reads leaves its transaction in place; the view reads inside it.
    @app.before_request
    def read_first():
        db.session.execute(db.select(db.literal(1)))

    assert client.get(path).status_code == 200
