"""Covers resized on upload: the stored cover's pixel size

A cover is now stored under a name made from a hash of its bytes, with a JPEG of each size the
pages show (shop.catalogue.covers); the publication keeps the original's width and height, from
which the sizes, their addresses and the picture's proportions follow without reading a file.
Null for no cover, and for a cover named by an import or uploaded before this revision (shown
as it is until `flask catalogue covers-rebuild`).

Plain ADD COLUMN, not a batch copy of the table: on SQLite a copy would drop the catalogue
version triggers and the search index's triggers that hang on ``publication``.

Revision ID: 0014
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('publication', sa.Column('cover_width', sa.Integer(), nullable=True))
    op.add_column('publication', sa.Column('cover_height', sa.Integer(), nullable=True))


def downgrade():
    op.drop_column('publication', 'cover_height')
    op.drop_column('publication', 'cover_width')
