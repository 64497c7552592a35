"""Guards shop.prepared: on PostgreSQL the chosen statements are prepared once per connection and
reused by later requests, no other statement is prepared, and a transaction that wrote still
rolls back. (Every PostgreSQL test also asks the server, before each COMMIT the module sends in
place of a ROLLBACK, whether the transaction wrote: tests/conftest.py turns ``verify`` on.)"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select, text, update

from shop import prepared
from shop.catalogue.models import Publication
from shop.extensions import db
from shop.orders import desk
from tests.conftest import ISBN, STAFF_EMAIL, STAFF_PASSWORD, make_order, make_publication, sign_in


@pytest.fixture
def postgresql(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("prepared statements are PostgreSQL's")


@contextmanager
def backends(app) -> Iterator[list[tuple[int, str]]]:
    """The PostgreSQL backend and the text of each statement sent inside the block."""
    sent: list[tuple[int, str]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        sent.append((cursor.connection.info.backend_pid, statement))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)


def prepared_here() -> dict[str, int]:
    """This connection's prepared statements: text, and how many times each ran prepared."""
    rows = db.session.execute(text(
        "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")).all()
    return {statement: runs for statement, runs in rows}


def signed_in_client(app):
    """A client whose every request has an app context (and a transaction) of its own, as
    outside tests: no test app context is held open around it."""
    from shop.staff.accounts.services import create
    from shop.timeutil import utcnow

    with app.app_context():
        create(STAFF_EMAIL, STAFF_PASSWORD, ["admin"], 12, None, utcnow())
        make_order()
        db.session.commit()
    client = app.test_client()
    assert sign_in(client).status_code == 303
    return client


def test_a_staff_list_is_planned_once_and_reused_by_later_requests(app, postgresql):
    client = signed_in_client(app)
    with backends(app) as sent:
        for _ in range(4):
            page = client.get("/staff/orders?status=to_pack")
            assert page.status_code == 200 and "KF-" in page.get_data(as_text=True)
    assert len({pid for pid, _ in sent}) == 1  # one connection served the four requests
    sign_in_lookup = next(statement for _, statement in sent if "FROM staff_session" in statement)
    to_pack = next(statement for _, statement in sent if "FROM shop_order" in statement)
    with app.app_context():
        [(pid,)] = db.session.execute(text("SELECT pg_backend_pid()")).all()
        assert pid == sent[0][0]  # the pool hands back the same connection
        runs = prepared_here()
    # Prepared at the first request and run prepared by all four: the ROLLBACK at the end of each
    # request became a COMMIT, which keeps them (psycopg forgets them all at a ROLLBACK).
    assert runs[_server_text(sign_in_lookup)] == 4
    assert runs[_server_text(to_pack)] == 4


def test_a_search_is_never_prepared(app, postgresql):
    client = signed_in_client(app)
    with backends(app) as sent:
        for _ in range(7):  # past psycopg's own threshold of five
            assert client.get("/staff/orders?q=Reader").status_code == 200
    assert len({pid for pid, _ in sent}) == 1  # all seven on one connection, which keeps nothing
    searches = {statement for _, statement in sent if "FROM shop_order" in statement}
    assert len(searches) == 2  # the page and its count
    with app.app_context():
        runs = prepared_here()
    assert not {_server_text(statement) for statement in searches} & set(runs), runs


def test_each_status_list_has_a_statement_of_its_own():
    """Prepared once, a statement's plan serves every later call: a list of a rare status must not
    share the plan of a common one, so the statuses are in the text, not bound."""
    texts = {status: str(desk._kept_list_statements(status, False, False).page.params(rows=50, first_row=0)
                         .compile(compile_kwargs={"render_postcompile": True}))
             for status in ("paid", "refunded", "placed")}
    assert "'refunded'" in texts["refunded"] and "'paid'" in texts["paid"]
    assert len(set(texts.values())) == 3


def test_a_transaction_that_wrote_still_rolls_back(app, postgresql):
    with app.app_context():
        make_publication()
    with app.app_context():  # the ORM's own writes
        publication = db.session.scalar(select(Publication))
        publication.price_pence = 1
        db.session.add(Publication(**{column: getattr(publication, column) for column in (
            "title", "publisher", "year", "pages", "stock")}, isbn="9780000000002", price_pence=850))
        db.session.flush()
        db.session.rollback()
    with app.app_context():  # a Core UPDATE
        db.session.execute(update(Publication).values(stock=0))
    with app.app_context():
        assert db.session.execute(select(Publication.isbn, Publication.price_pence, Publication.stock)).all() == [
            (ISBN, 850, 100)]


def test_a_write_the_module_cannot_see_is_caught_by_the_check(app, postgresql):
    """A statement sent past SQLAlchemy (straight to psycopg) is not seen as a write; in the
    tests PostgreSQL is asked, and the COMMIT is refused."""
    with app.app_context():
        make_publication()
    try:
        with pytest.raises(prepared.WroteInReadOnlyTransaction), app.app_context():
            db.session.scalar(select(Publication.stock))
            db.session.connection().connection.dbapi_connection.execute(
                "UPDATE publication SET stock = 0")
        with app.app_context():  # and not committed: SQLAlchemy's own ROLLBACK followed
            assert db.session.scalar(select(Publication.stock)) == 100
    finally:
        prepared.offences.clear()


def _server_text(statement: str) -> str:
    """psycopg's text of a statement as the server keeps it: ``$n`` for each named placeholder."""
    import re

    numbers: dict[str, int] = {}
    return re.sub(r"%\((\w+)\)s", lambda found: f"${numbers.setdefault(found[1], len(numbers) + 1)}", statement)


def test_a_transaction_that_locked_rows_is_rolled_back(app, postgresql):
    """SELECT … FOR UPDATE writes a mark on each row it locks: such a transaction is ended with a
    real ROLLBACK (committing it would change nothing, but then ``verify`` could not tell it from
    one that wrote)."""
    with app.app_context():
        make_publication()
    with app.app_context():
        assert db.session.scalar(select(Publication.stock).with_for_update()) == 100
    assert prepared.offences == []


def test_a_connection_lost_mid_transaction_is_left_to_sqlalchemy(app, database_url, postgresql):
    """The COMMIT in place of the ROLLBACK fails when the server has gone (a restart, a timeout):
    the ROLLBACK that follows fails as it would have without this module, and SQLAlchemy handles
    its error as a lost connection (wrapped, the connection invalidated), so the pool replaces it."""
    from sqlalchemy import create_engine, exc

    with app.app_context():
        make_publication()
    outside = create_engine(database_url)
    try:
        with pytest.raises(exc.OperationalError) as lost, app.app_context():
            pid = db.session.scalar(text("SELECT pg_backend_pid()"))
            with outside.connect() as conn:
                assert conn.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        assert lost.value.connection_invalidated
        with app.app_context():  # a fresh connection, the dead one invalidated
            assert db.session.scalar(select(Publication.stock)) == 100
            assert db.session.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        outside.dispose()
