"""catalogue listing index; SQLite full-text (trigram) index of titles

The public catalogue lists publications on sale by title: (on_sale, title, id) lets a page's ids
be read from the index alone, so page 200 skips 3,980 index entries instead of 3,980 rows. It
replaces the index on on_sale alone, which it covers.

On SQLite, LIKE '%word%' reads every title; an FTS5 table with the trigram tokenizer answers the
same substring match, in any case, from an index (PostgreSQL has pg_trgm, migration 0006). It is
an external-content table over publication, kept in step by triggers. A SQLite built without
FTS5 keeps scanning: the search falls back to LIKE when the table is missing.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
from sqlalchemy.exc import OperationalError

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

SEARCH_TABLE = "publication_search"  # shop.catalogue.search.SEARCH_TABLE
REINDEX = (
    f"INSERT INTO {SEARCH_TABLE}(rowid, title, subtitle) VALUES (new.id, new.title, new.subtitle);"
)
UNINDEX = (
    f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, title, subtitle) "
    "VALUES ('delete', old.id, old.title, old.subtitle);"
)


def upgrade():
    op.drop_index("ix_publication_on_sale", table_name="publication")
    op.create_index("ix_publication_on_sale_title", "publication", ["on_sale", "title", "id"])
    if op.get_bind().dialect.name != "sqlite":
        return
    try:
        op.execute(
            f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(title, subtitle, "
            "content='publication', content_rowid='id', tokenize='trigram')"
        )
    except OperationalError:  # no FTS5 or no trigram tokenizer (SQLite before 3.34)
        return
    op.execute(f"CREATE TRIGGER {SEARCH_TABLE}_insert AFTER INSERT ON publication BEGIN {REINDEX} END")
    op.execute(f"CREATE TRIGGER {SEARCH_TABLE}_delete AFTER DELETE ON publication BEGIN {UNINDEX} END")
    op.execute(
        f"CREATE TRIGGER {SEARCH_TABLE}_update AFTER UPDATE OF title, subtitle ON publication "
        f"BEGIN {UNINDEX} {REINDEX} END"
    )
    op.execute(f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('rebuild')")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {SEARCH_TABLE}_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS {SEARCH_TABLE}")
    op.drop_index("ix_publication_on_sale_title", table_name="publication")
    op.create_index("ix_publication_on_sale", "publication", ["on_sale"])
