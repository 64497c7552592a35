"""Guards for SQLite's full-text title index (migration 0008, docs/performance.md): the public
search is answered from it, and its triggers keep it in step with the publication table.
(PostgreSQL's trigram index is guarded in tests/catalogue/test_views.py.)"""

import pytest
from sqlalchemy import delete, insert, select, text, update

from shop.catalogue.models import Publication
from shop.catalogue.search import SEARCH_TABLE, title_words
from tests.conftest import isbn13


@pytest.fixture
def on_sqlite(db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's FTS5 index")
    return db


def _matches(db, *words: str) -> list[int]:
    return db.session.scalars(select(Publication.id).where(title_words(list(words))).order_by(Publication.id)).all()


def test_sqlite_answers_a_search_from_the_full_text_index(on_sqlite, publication):
    statement = select(Publication.id).where(title_words(["leadership", "together"]))
    compiled = statement.compile(on_sqlite.engine)
    plan = on_sqlite.session.connection().exec_driver_sql(
        f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params.values())
    ).all()
    assert any(f"SCAN {SEARCH_TABLE} VIRTUAL TABLE" in row[-1] for row in plan), plan
    assert _matches(on_sqlite, "leadership", "together") == [publication.id]


def test_the_index_follows_changes_made_behind_the_orms_back(on_sqlite, publication):
    db = on_sqlite
    db.session.execute(
        insert(Publication).values(id=2, isbn=isbn13(2), title="Mental health services", subtitle="Together",
                                   year=2024, pages=10, price_pence=500, publisher="The King's Fund")
    )
    db.session.commit()
    assert _matches(db, "together") == [publication.id, 2]
    assert _matches(db, "ental HEAL") == [2]  # parts of words, in any case
    db.session.execute(update(Publication).where(Publication.id == 2).values(subtitle=None))
    db.session.execute(update(Publication).where(Publication.id == publication.id).values(title="Workforce"))
    db.session.commit()
    assert _matches(db, "together") == [publication.id]  # its subtitle still says so
    assert _matches(db, "leadership") == []
    assert _matches(db, "workforce") == [publication.id]
    db.session.execute(delete(Publication).where(Publication.id == publication.id))
    db.session.commit()
    assert _matches(db, "workforce") == []
    # The index holds exactly the rows of the table (an external-content table's own check).
    db.session.execute(text(f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rank) VALUES ('integrity-check', 1)"))


def test_postgresql_answers_a_staff_catalogue_word_from_the_search_text_index(db, publication):
    # The staff catalogue matches each word in the title, the subtitle or a contributor's name
    # (title_word): migration 0016's trigram index over all three. With plain scans off, only
    # that index can serve it.
    from shop.catalogue.search import title_word

    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's trigram indexes")
    statement = select(Publication.id).where(title_word("leadership"))
    compiled = statement.compile(db.engine)
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    db.session.execute(text("SET LOCAL enable_indexscan = off"))
    plan = "\n".join(db.session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars())
    assert "ix_publication_search_text_trgm" in plan, plan
    assert db.session.scalars(statement).all() == [publication.id]
