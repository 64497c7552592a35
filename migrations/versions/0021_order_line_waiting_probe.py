"""order lines indexed by order and "awaiting stock" together

The "to pack" list leaves out every order with a line still waiting for copies: one probe of
``order_line`` per order waiting to be packed. With ``(order_id)`` alone each probe read the
lines themselves to look at ``awaiting_stock``; with ``(order_id, awaiting_stock)`` it reads the
index only. The new index also serves every lookup by ``order_id`` (its first column), so it
replaces ``ix_order_line_order_id`` rather than adding to it.

Revision ID: 0021
Revises: 0018
"""
from alembic import op

revision = '0021'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.create_index('ix_order_line_order_awaiting', ['order_id', 'awaiting_stock'], unique=False)
        batch_op.drop_index('ix_order_line_order_id')


def downgrade():
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.create_index('ix_order_line_order_id', ['order_id'], unique=False)
        batch_op.drop_index('ix_order_line_order_awaiting')
