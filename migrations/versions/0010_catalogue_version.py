"""catalogue_version: a number that changes whenever the public listing can change

Which titles are on sale, and in what order, changes only when a publication is added, deleted,
retitled or put on or off sale. Triggers count those changes in a one-row table, in the same
transaction, so a worker can keep a search's ordered ids (and so its total and any page of it)
for as long as the number it read with them is still the one the database shows: a page is then
read by primary key, however deep, and is never stale (shop.catalogue.search.Listings).
Price and stock are not part of a listing: pages read them fresh, and they change nothing here.

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

TABLE = "catalogue_version"  # shop.catalogue.search.VERSION_TABLE
LISTED_COLUMNS = "title, subtitle, on_sale"
BUMP = f"UPDATE {TABLE} SET version = version + 1"


def upgrade():
    op.execute(f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)")
    op.execute(f"INSERT INTO {TABLE} (id, version) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        # Once per statement: a COPY or bulk UPDATE of 10,000 titles bumps it once.
        op.execute(
            f"CREATE FUNCTION bump_{TABLE}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_bump AFTER INSERT OR DELETE OR TRUNCATE "
            f"OR UPDATE OF {LISTED_COLUMNS} ON publication "
            f"FOR EACH STATEMENT EXECUTE FUNCTION bump_{TABLE}()"
        )
        return
    # SQLite has only row triggers.
    op.execute(f"CREATE TRIGGER {TABLE}_insert AFTER INSERT ON publication BEGIN {BUMP}; END")
    op.execute(f"CREATE TRIGGER {TABLE}_delete AFTER DELETE ON publication BEGIN {BUMP}; END")
    op.execute(
        f"CREATE TRIGGER {TABLE}_update AFTER UPDATE OF {LISTED_COLUMNS} ON publication "
        f"BEGIN {BUMP}; END"
    )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_bump ON publication")
        op.execute(f"DROP FUNCTION IF EXISTS bump_{TABLE}()")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{trigger}")
    op.execute(f"DROP TABLE {TABLE}")
