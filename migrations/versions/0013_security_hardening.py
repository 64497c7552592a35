"""Hardening after an outside probe (issue 15)

1. An amount mismatch must be acknowledged by staff before the order can be dispatched:
   ``shop_order.mismatch_acknowledged_at`` and ``_by``.
2. Unpaid checkouts are capped per client address and per basket: ``shop_order.checkout_address``
   and ``checkout_basket`` (keyed hashes, shop.orders.holds), indexed.

Revision ID: 0013
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("shop_order") as batch:
        batch.add_column(sa.Column("mismatch_acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("mismatch_acknowledged_by", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("checkout_address", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("checkout_basket", sa.String(length=32), nullable=True))
        batch.create_index("ix_shop_order_checkout_address", ["checkout_address"])
        batch.create_index("ix_shop_order_checkout_basket", ["checkout_basket"])


def downgrade():
    with op.batch_alter_table("shop_order") as batch:
        batch.drop_index("ix_shop_order_checkout_basket")
        batch.drop_index("ix_shop_order_checkout_address")
        batch.drop_column("checkout_basket")
        batch.drop_column("checkout_address")
        batch.drop_column("mismatch_acknowledged_by")
        batch.drop_column("mismatch_acknowledged_at")
