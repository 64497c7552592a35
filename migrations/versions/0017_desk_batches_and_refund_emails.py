"""the desk at volume: keyed outbox emails (one per refund, one per tracking correction) and
trigram indexes for partial postcode, town and street searches

1. ``outbox_email.dedupe_key``: an email that may come more than once per order and kind (a
   refund email per Stripe refund, a corrected dispatch email per correction) carries a key,
   unique where set; the one-per-order-and-kind rule now holds for unkeyed, unresent emails.
2. PostgreSQL: trigram GIN indexes on town, both street lines and the postcode without spaces,
   so ``ILIKE '%text%'`` over them is answered from indexes as the other order search columns
   are (0007). The postcode's index replaces 0007's B-tree on the same expression (which
   answered only a whole postcode) under the same name. SQLite scans.

Revision ID: 0017
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0014'
branch_labels = None
depends_on = None

TRIGRAM_COLUMNS = ("ship_city", "ship_line1", "ship_line2")
UNKEYED = "resend_of_id IS NULL AND dedupe_key IS NULL"
UNRESENT = "resend_of_id IS NULL"


def _one_per_kind(batch_op, where: str) -> None:
    batch_op.create_index(
        'uq_outbox_email_order_kind', ['order_id', 'kind'], unique=True,
        postgresql_where=sa.text(where), sqlite_where=sa.text(where),
    )


def upgrade():
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dedupe_key', sa.String(length=120), nullable=True))
        batch_op.drop_index('uq_outbox_email_order_kind')
        _one_per_kind(batch_op, UNKEYED)
        batch_op.create_index('uq_outbox_email_dedupe_key', ['dedupe_key'], unique=True)
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in TRIGRAM_COLUMNS:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_shop_order_{column}_trgm ON shop_order USING gin ({column} gin_trgm_ops)")
    op.execute("DROP INDEX IF EXISTS ix_shop_order_postcode_compact_trgm")
    op.execute(
        "CREATE INDEX ix_shop_order_postcode_compact_trgm "
        "ON shop_order USING gin ((replace(upper(ship_postal_code), ' ', '')) gin_trgm_ops)"
    )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_shop_order_postcode_compact_trgm")
        op.execute(  # 0007's
            "CREATE INDEX ix_shop_order_postcode_compact_trgm "
            "ON shop_order (replace(upper(ship_postal_code), ' ', ''))"
        )
        for column in TRIGRAM_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_shop_order_{column}_trgm")
    op.execute("DELETE FROM outbox_email WHERE dedupe_key IS NOT NULL")
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.drop_index('uq_outbox_email_dedupe_key')
        batch_op.drop_index('uq_outbox_email_order_kind')
        _one_per_kind(batch_op, UNRESENT)
        batch_op.drop_column('dedupe_key')
