"""order lines hold "title: subtitle", up to 610 characters

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.alter_column('title', existing_type=sa.String(length=300), type_=sa.String(length=610), existing_nullable=False)


def downgrade():
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.alter_column('title', existing_type=sa.String(length=610), type_=sa.String(length=300), existing_nullable=False)
