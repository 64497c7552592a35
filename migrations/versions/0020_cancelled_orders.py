"""cancelled orders: when staff cancelled an order (issue 19)

A cancelled order is never packed, even while its refund is pending (a bank payment's refund
takes days) or after that refund failed; the status stays paid until Stripe completes it.
Orders cancelled before this upgrade were refunded by card at once, so none needs filling in.

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("shop_order") as batch:
        batch.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("shop_order") as batch:
        batch.drop_column("cancelled_at")
