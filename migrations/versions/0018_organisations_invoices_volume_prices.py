"""organisations buy here too: orders paid by invoice, volume prices, promotion codes

1. ``shop_order.pays_by`` ('card' for every existing order, or 'invoice'),
   ``discount_pence`` (what a Stripe promotion code took off; 0 before now) and
   ``promotion_code`` (the code as typed).
2. ``order_invoice``: the organisation, its purchase order number, finance email and billing
   address, the form's one-time token (unique: a double submission places one order), staff
   approval, and the Stripe invoice (customer, id, number, links, due date, flags) of an order
   paid by invoice.
3. ``publication.price_breaks``: volume prices as canonical JSON ``[[10,750],[50,600]]``
   (shop.catalogue.models.PriceBreakList); '[]' (none) for every existing title. A plain
   ADD COLUMN on SQLite too, so the triggers on publication stay as they are.

The new statuses (invoice_pending, invoiced, invoiced_dispatched, invoice_void, uncollectible)
need no schema change (``status`` is a String(20)).

Revision ID: 0018
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pays_by', sa.String(length=10), nullable=False, server_default='card'))
        batch_op.add_column(sa.Column('discount_pence', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('promotion_code', sa.String(length=200), nullable=True))
        batch_op.create_check_constraint('discount_within_total', 'discount_pence >= 0 AND discount_pence <= total_pence')
        batch_op.create_check_constraint('pays_by_known', "pays_by IN ('card', 'invoice')")

    op.create_table('order_invoice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=False),
    sa.Column('po_number', sa.String(length=100), nullable=False),
    sa.Column('finance_email', sa.String(length=320), nullable=False),
    sa.Column('billing_line1', sa.String(length=300), nullable=False),
    sa.Column('billing_line2', sa.String(length=300), nullable=True),
    sa.Column('billing_city', sa.String(length=200), nullable=False),
    sa.Column('billing_postal_code', sa.String(length=40), nullable=True),
    sa.Column('billing_country', sa.String(length=2), nullable=False),
    sa.Column('request_token', sa.String(length=64), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_by', sa.String(length=320), nullable=True),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_invoice_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_status', sa.String(length=20), nullable=True),
    sa.Column('number', sa.String(length=100), nullable=True),
    sa.Column('hosted_url', sa.String(length=1000), nullable=True),
    sa.Column('pdf_url', sa.String(length=1000), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finalized_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('issue_error', sa.Text(), nullable=True),
    sa.Column('payment_failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overdue_flagged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_by', sa.String(length=40), nullable=True),
    sa.Column('paid_note', sa.String(length=300), nullable=True),
    sa.Column('closed_reason', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['shop_order.id'], name=op.f('fk_order_invoice_order_id_shop_order'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_invoice')),
    sa.UniqueConstraint('order_id', name=op.f('uq_order_invoice_order_id')),
    sa.UniqueConstraint('stripe_invoice_id', name=op.f('uq_order_invoice_stripe_invoice_id')),
    sa.UniqueConstraint('request_token', name=op.f('uq_order_invoice_request_token')),
    )
    op.create_index('ix_order_invoice_due_at', 'order_invoice', ['due_at'], unique=False)
    op.create_index(op.f('ix_order_invoice_number'), 'order_invoice', ['number'], unique=False)

    op.add_column('publication', sa.Column('price_breaks', sa.Text(), nullable=False, server_default='[]'))


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # SQLite's own DROP COLUMN (as migration 0016 does for publication): a batch copy of the
        # table would drop the triggers other tables hang on it.
        op.execute("ALTER TABLE publication DROP COLUMN price_breaks")
    else:
        op.drop_column('publication', 'price_breaks')

    op.drop_index(op.f('ix_order_invoice_number'), table_name='order_invoice')
    op.drop_index('ix_order_invoice_due_at', table_name='order_invoice')
    op.drop_table('order_invoice')

    # The old code knows neither invoice orders nor their statuses: downgrade only a shop that
    # has taken none (they would be left in statuses nothing reads).
    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_shop_order_pays_by_known'), type_='check')
        batch_op.drop_constraint(op.f('ck_shop_order_discount_within_total'), type_='check')
        batch_op.drop_column('promotion_code')
        batch_op.drop_column('discount_pence')
        batch_op.drop_column('pays_by')
