"""indexes for the staff desk's free-text order search on PostgreSQL

The search is ILIKE '%text%' over reference, email and names, or an exact postcode without
spaces: trigram GIN indexes and one expression index let PostgreSQL answer it from indexes
(BitmapOr) instead of reading every order. SQLite scans.

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

COLUMNS = ("reference", "customer_email", "customer_name", "ship_name")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_shop_order_{column}_trgm ON shop_order USING gin ({column} gin_trgm_ops)")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_shop_order_postcode_compact_trgm "
        "ON shop_order (replace(upper(ship_postal_code), ' ', ''))"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_shop_order_postcode_compact_trgm")
    for column in COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_shop_order_{column}_trgm")
