"""outbox emails

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 12:50:17.375526

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_email',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('resend_of_id', sa.Integer(), nullable=True),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('recipient_name', sa.String(length=300), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['shop_order.id'], name=op.f('fk_outbox_email_order_id_shop_order'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resend_of_id'], ['outbox_email.id'], name=op.f('fk_outbox_email_resend_of_id_outbox_email'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_email'))
    )
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_email_due', ['sent_at', 'failed_at', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_email_order_id'), ['order_id'], unique=False)
        batch_op.create_index('uq_outbox_email_order_kind', ['order_id', 'kind'], unique=True, postgresql_where=sa.text('resend_of_id IS NULL'), sqlite_where=sa.text('resend_of_id IS NULL'))



def downgrade():
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.drop_index('uq_outbox_email_order_kind', postgresql_where=sa.text('resend_of_id IS NULL'), sqlite_where=sa.text('resend_of_id IS NULL'))
        batch_op.drop_index(batch_op.f('ix_outbox_email_order_id'))
        batch_op.drop_index('ix_outbox_email_due')

    op.drop_table('outbox_email')
