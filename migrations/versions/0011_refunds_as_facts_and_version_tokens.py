"""Partial refunds become a fact beside the status; the catalogue version becomes a token

1. ``partially_refunded`` is no longer a status (shop.orders.status): an order partly refunded
   keeps the status it had, paid or dispatched (``dispatched_at`` says which), and shows the
   amount refunded beside it.
2. The catalogue version that cached listings are checked against is now a random token set by
   every change, not a counter: a database restored from a backup holds an older token, which
   no listing read since can match by chance (a counter would count up to numbers the workers
   had already seen). ISBN changes now change it too, so a listing cached for an ISBN search
   can never outlive a change of that ISBN.

Revision ID: 0011
Revises: 0010
"""
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

TABLE = "catalogue_version"  # shop.catalogue.search.VERSION_TABLE
OLD_COLUMNS = "title, subtitle, on_sale"
LISTED_COLUMNS = "isbn, title, subtitle, on_sale"


def _triggers(bump: str, columns: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_bump ON publication")
        op.execute(
            f"CREATE OR REPLACE FUNCTION bump_{TABLE}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {bump}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_bump AFTER INSERT OR DELETE OR TRUNCATE "
            f"OR UPDATE OF {columns} ON publication "
            f"FOR EACH STATEMENT EXECUTE FUNCTION bump_{TABLE}()"
        )
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{trigger}")
    op.execute(f"CREATE TRIGGER {TABLE}_insert AFTER INSERT ON publication BEGIN {bump}; END")
    op.execute(f"CREATE TRIGGER {TABLE}_delete AFTER DELETE ON publication BEGIN {bump}; END")
    op.execute(
        f"CREATE TRIGGER {TABLE}_update AFTER UPDATE OF {columns} ON publication "
        f"BEGIN {bump}; END"
    )


def upgrade():
    op.execute(
        "UPDATE shop_order SET status = CASE WHEN dispatched_at IS NULL THEN 'paid' "
        "ELSE 'dispatched' END WHERE status = 'partially_refunded'"
    )
    if op.get_bind().dialect.name == "postgresql":
        token = "floor(random() * 9.2e18)::bigint"
    else:
        token = "random()"  # a random 64-bit integer
    _triggers(f"UPDATE {TABLE} SET version = {token}", LISTED_COLUMNS)
    op.execute(f"UPDATE {TABLE} SET version = {token}")


def downgrade():
    _triggers(f"UPDATE {TABLE} SET version = version + 1", OLD_COLUMNS)
    op.execute(f"UPDATE {TABLE} SET version = abs(version) % 1000000000")
    op.execute(
        "UPDATE shop_order SET status = 'partially_refunded' "
        "WHERE status IN ('paid', 'dispatched') AND refunded_pence > 0"
    )
