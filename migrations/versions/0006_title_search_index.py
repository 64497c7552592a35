"""trigram indexes for title search on PostgreSQL

ILIKE '%word%' cannot use a b-tree; pg_trgm's GIN indexes answer it. pg_trgm is a trusted
extension (PostgreSQL 13+), so the database owner may create it. SQLite scans, which is fine at
catalogue sizes.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX IF NOT EXISTS ix_publication_title_trgm ON publication USING gin (title gin_trgm_ops)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_publication_subtitle_trgm ON publication USING gin (subtitle gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_publication_subtitle_trgm")
    op.execute("DROP INDEX IF EXISTS ix_publication_title_trgm")
