"""Stripe as it really behaves: pending refunds held apart, and each event's API version

1. ``shop_order.refund_pending_pence``: refunds Stripe has accepted but not completed. They are
   not counted as refunded (``refunded_pence`` counts succeeded refunds only) and cannot be
   refunded a second time. Orders from before hold none: the column starts at 0, and the next
   refund event or desk refund recomputes it from the refund rows.
2. ``stripe_event.api_version``: the version Stripe rendered each handled event in, so events
   from an endpoint on another version than the pinned one can be found.

The new status ``payment_processing`` needs no schema change (``status`` is a String(20)).

Revision ID: 0012
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refund_pending_pence', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_check_constraint('refund_pending_not_negative', 'refund_pending_pence >= 0')
    with op.batch_alter_table('stripe_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('api_version', sa.String(length=40), nullable=True))
    # A refund recorded as pending before now was counted as nothing; hold it apart as pending.
    op.execute(
        "UPDATE shop_order SET refund_pending_pence = COALESCE((SELECT SUM(amount_pence) FROM refund "
        "WHERE refund.order_id = shop_order.id AND refund.status IN ('pending', 'requires_action')), 0)"
    )


def downgrade():
    # Orders still processing a payment go back to awaiting it, the only status the old code
    # has for them; but its expire-stale would close them, so downgrade when none are processing.
    op.execute("UPDATE shop_order SET status = 'pending_payment' WHERE status = 'payment_processing'")
    with op.batch_alter_table('stripe_event', schema=None) as batch_op:
        batch_op.drop_column('api_version')
    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_shop_order_refund_pending_not_negative'), type_='check')
        batch_op.drop_column('refund_pending_pence')
