"""Hardening after an outside probe (issue 15)

1. An amount mismatch must be acknowledged by staff before the order can be dispatched:
   ``shop_order.mismatch_acknowledged_at`` and ``_by``.
2. Unpaid checkouts are capped per client address and per basket: ``shop_order.checkout_address``
   and ``checkout_basket`` (keyed hashes, shop.orders.holds), indexed.
3. Staff sign-ins are records (``staff_session``, shop.staff.sessions) named by their own
   cookie; ``staff_user.session_version``, which the old cookie carried, goes. Everyone signed
   in before the upgrade signs in again.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
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


    op.create_table(
        "staff_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=40), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"], name="fk_staff_session_user_id_staff_user", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_staff_session"),
        sa.UniqueConstraint("token_hash", name="uq_staff_session_token_hash"),
    )
    op.create_index("ix_staff_session_user_id", "staff_session", ["user_id"])
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("session_version")


def downgrade():
    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="1"))
    op.drop_index("ix_staff_session_user_id", table_name="staff_session")
    op.drop_table("staff_session")
    with op.batch_alter_table("shop_order") as batch:
        batch.drop_index("ix_shop_order_checkout_basket")
        batch.drop_index("ix_shop_order_checkout_address")
        batch.drop_column("checkout_basket")
        batch.drop_column("checkout_address")
        batch.drop_column("mismatch_acknowledged_by")
        batch.drop_column("mismatch_acknowledged_at")
