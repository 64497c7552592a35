"""one trigram index over title and subtitle together, on PostgreSQL

A search of three words was six bitmap index scans (each word in the title or in the subtitle,
migration 0006); over ``title || ' ' || coalesce(subtitle, '')`` it is one scan with every word
as a condition (2.3 ms -> 1.2 ms with 10,000 titles). The expression must stay exactly as
shop.catalogue.search.TITLE_TEXT writes it, or the planner will not use the index. The
indexes of 0006 stay: the staff catalogue searches title and subtitle separately.

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_publication_title_text_trgm ON publication "
        "USING gin ((title || ' ' || coalesce(subtitle, '')) gin_trgm_ops)"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_publication_title_text_trgm")
