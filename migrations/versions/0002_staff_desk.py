"""staff desk: accounts, dispatch, refunds, covers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 12:32:04.541567

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staff_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_user')),
    sa.UniqueConstraint('email', name=op.f('uq_staff_user_email'))
    )
    op.create_table('refund',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('stripe_refund_id', sa.String(length=255), nullable=True),
    sa.Column('amount_pence', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_pence > 0', name=op.f('ck_refund_amount_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['shop_order.id'], name=op.f('fk_refund_order_id_shop_order'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refund')),
    sa.UniqueConstraint('stripe_refund_id', name=op.f('uq_refund_stripe_refund_id'))
    )
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refund_order_id'), ['order_id'], unique=False)

    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cover_path', sa.String(length=500), nullable=True))

    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('copies', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('refunded_pence', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('carrier', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('tracking_number', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_shop_order_created_at'), ['created_at'], unique=False)
        batch_op.create_check_constraint('refunded_not_negative', 'refunded_pence >= 0')

    # Orders placed before this revision: their copies are the sum of their lines.
    op.execute(
        "UPDATE shop_order SET copies = COALESCE("
        "(SELECT SUM(quantity) FROM order_line WHERE order_line.order_id = shop_order.id), 0)"
    )


def downgrade():
    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_shop_order_refunded_not_negative'), type_='check')
        batch_op.drop_index(batch_op.f('ix_shop_order_created_at'))
        batch_op.drop_column('dispatched_at')
        batch_op.drop_column('tracking_number')
        batch_op.drop_column('carrier')
        batch_op.drop_column('refunded_pence')
        batch_op.drop_column('copies')

    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.drop_column('cover_path')

    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refund_order_id'))

    op.drop_table('refund')
    op.drop_table('staff_user')
