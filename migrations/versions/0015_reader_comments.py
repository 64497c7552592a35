"""reader comments: the comment and comment_event tables; comments open and version on publication

1. ``comment``: readers' comments on publications, each with a shop-wide number (#123), a
   status (pending, approved, rejected, spam) and the reader's details; ``comment_event``: their
   moderation history.
2. ``publication.comments_open``: whether the publication takes new comments (staff close it).
3. ``publication.comments_version``: a random token that triggers on ``comment`` set afresh
   whenever a row that is, or was, approved is inserted, changed or deleted. The public page
   cache keys a publication page by every column of the publication's row
   (shop.web.pagecache.row_key), so the page it reuses always shows the approved comments as they
   are now: however they changed (staff, a CLI command, another worker, plain SQL), the token
   changed with them in the same transaction. Random rather than counted, like the catalogue
   version (0011): a database restored from a backup cannot hand back a token a worker has already
   cached a different page under. Comments that are not approved leave it alone, so posting,
   rejecting a waiting comment or purging spam never makes a page render afresh.

The columns are added with plain ADD COLUMN, not batch_alter_table: on SQLite a batch would copy
the publication table and lose the triggers of migrations 0008 and 0011 that hang on it.

Revision ID: 0015
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None

APPROVED = "'approved'"  # shop.comments.models.APPROVED
NEW_TOKEN = {
    "postgresql": "floor(random() * 9.2e18)::bigint",
    "sqlite": "random()",  # a random 64-bit integer
}


def _bump(token: str, row: str) -> str:
    return f"UPDATE publication SET comments_version = {token} WHERE id = {row}.publication_id;"


def _create_triggers() -> None:
    dialect = op.get_bind().dialect.name
    token = NEW_TOKEN.get(dialect, NEW_TOKEN["postgresql"])
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_publication_comments_version() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            "IF TG_OP = 'TRUNCATE' THEN "
            f"UPDATE publication SET comments_version = {token} WHERE comments_version <> 0; "
            "RETURN NULL; END IF; "
            f"IF TG_OP <> 'INSERT' AND OLD.status = {APPROVED} THEN {_bump(token, 'OLD')} END IF; "
            f"IF TG_OP <> 'DELETE' AND NEW.status = {APPROVED} THEN {_bump(token, 'NEW')} END IF; "
            "RETURN NULL; "
            "END $$"
        )
        op.execute(
            "CREATE TRIGGER comment_shown_changed AFTER INSERT OR UPDATE OR DELETE ON comment "
            "FOR EACH ROW EXECUTE FUNCTION bump_publication_comments_version()"
        )
        op.execute(
            "CREATE TRIGGER comment_truncated AFTER TRUNCATE ON comment "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_publication_comments_version()"
        )
        return
    op.execute(
        f"CREATE TRIGGER comment_shown_insert AFTER INSERT ON comment "
        f"WHEN NEW.status = {APPROVED} BEGIN {_bump(token, 'NEW')} END"
    )
    op.execute(
        f"CREATE TRIGGER comment_shown_delete AFTER DELETE ON comment "
        f"WHEN OLD.status = {APPROVED} BEGIN {_bump(token, 'OLD')} END"
    )
    op.execute(
        f"CREATE TRIGGER comment_shown_update AFTER UPDATE ON comment "
        f"WHEN OLD.status = {APPROVED} OR NEW.status = {APPROVED} "
        f"BEGIN {_bump(token, 'OLD')} {_bump(token, 'NEW')} END"
    )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS comment_truncated ON comment")
        op.execute("DROP TRIGGER IF EXISTS comment_shown_changed ON comment")
        op.execute("DROP FUNCTION IF EXISTS bump_publication_comments_version()")
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS comment_shown_{trigger}")


def upgrade():
    op.add_column(
        "publication",
        sa.Column("comments_open", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column(
        "publication",
        sa.Column("comments_version", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.create_table('comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('publication_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('job_title', sa.String(length=150), nullable=True),
    sa.Column('organisation', sa.String(length=150), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('moderated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('moderated_by', sa.String(length=320), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'spam')", name=op.f('ck_comment_status_known')),
    sa.CheckConstraint('number > 0', name=op.f('ck_comment_number_positive')),
    sa.ForeignKeyConstraint(['publication_id'], ['publication.id'], name=op.f('fk_comment_publication_id_publication'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment')),
    sa.UniqueConstraint('number', name=op.f('uq_comment_number'))
    )
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.create_index('ix_comment_publication_status_posted', ['publication_id', 'status', 'posted_at'], unique=False)
        batch_op.create_index('ix_comment_status_posted', ['status', 'posted_at'], unique=False)

    op.create_table('comment_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=True),
    sa.Column('publication_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['comment_id'], ['comment.id'], name=op.f('fk_comment_event_comment_id_comment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['publication_id'], ['publication.id'], name=op.f('fk_comment_event_publication_id_publication'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment_event'))
    )
    with op.batch_alter_table('comment_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_event_comment_id'), ['comment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_comment_event_publication_id'), ['publication_id'], unique=False)

    _create_triggers()


def downgrade():
    _drop_triggers()
    with op.batch_alter_table('comment_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_event_publication_id'))
        batch_op.drop_index(batch_op.f('ix_comment_event_comment_id'))
    op.drop_table('comment_event')
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index('ix_comment_status_posted')
        batch_op.drop_index('ix_comment_publication_status_posted')
    op.drop_table('comment')
    # Plain DROP COLUMN (SQLite 3.35+), for the reason given above.
    op.drop_column("publication", "comments_version")
    op.drop_column("publication", "comments_open")
