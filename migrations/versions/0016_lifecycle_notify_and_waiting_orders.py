"""the book trade's lifecycle: ONIX status, availability, dates, contributors and subjects;
pre-ordered and back-ordered lines that wait for stock; notify-me requests; outbox emails that
are about no order; catalogue search by contributor name

1. publication: publishing_status (ONIX list 64, '04' Active for every existing title),
   availability (list 65, '21' In stock: a title with no copies then asks readers to be told,
   as "Out of stock" did), publication_date, expected_ship_date, and contributors and subjects
   as canonical JSON text (shop.catalogue.models.ContributorList / CodeList).
2. order_line: sold_as ('stock' for every existing line), awaiting_stock, expected_on and
   date_notices; a partial index of the lines still waiting, by title (each title's queue).
3. outbox_email: order_id may be NULL (notify-me emails), with a topic and a one-click
   unsubscribe address; one email per recipient, kind and topic.
4. notify_request.
5. Search by contributor name. SQLite: the FTS5 trigram table (0008) gets a third column, the
   contributors' names, which its triggers read out of the JSON (json_each); it has no content
   table of its own now ('' : contentless, fed only by the triggers), because the names are not
   a column of publication. PostgreSQL: an IMMUTABLE function gives the names, and one trigram
   index covers title, subtitle and names, written exactly as shop.catalogue.search.SEARCH_TEXT
   (it replaces 0009's). The catalogue version (0010, 0011) moves when contributors change, so a
   listing cached for a search by name is read again.

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

SEARCH_TABLE = "publication_search"  # shop.catalogue.search.SEARCH_TABLE
NAMES_FUNCTION = "publication_contributor_names"  # shop.catalogue.search.NAMES_FUNCTION
VERSION_TABLE = "catalogue_version"
# The automatic emails' uniqueness before topics (migration 0017 keyed ones apart already).
UNKEYED = "resend_of_id IS NULL AND dedupe_key IS NULL"
OLD_LISTED_COLUMNS = "isbn, title, subtitle, on_sale"
LISTED_COLUMNS = "isbn, title, subtitle, on_sale, contributors"


def _names(row: str) -> str:
    # The contributors' names, space-separated, from the JSON [["A01","Name"],...] of a row.
    return (
        f"(SELECT coalesce(group_concat(json_extract(value, '$[1]'), ' '), '') "
        f"FROM json_each({row}.contributors))"
    )


def _sqlite_search(upgrade: bool) -> None:
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS {SEARCH_TABLE}_{trigger}")
    op.execute(f"DROP TABLE IF EXISTS {SEARCH_TABLE}")
    if upgrade:
        columns = "title, subtitle, names"
        op.execute(
            f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5({columns}, content='', "
            "tokenize='trigram')"
        )
        index = f"INSERT INTO {SEARCH_TABLE}(rowid, {columns}) VALUES (new.id, new.title, new.subtitle, {_names('new')});"
        unindex = (
            f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, {columns}) "
            f"VALUES ('delete', old.id, old.title, old.subtitle, {_names('old')});"
        )
        watched = "title, subtitle, contributors"
        op.execute(
            f"INSERT INTO {SEARCH_TABLE}(rowid, {columns}) "
            f"SELECT id, title, subtitle, {_names('publication')} FROM publication"
        )
    else:  # as migration 0008 made it
        columns = "title, subtitle"
        op.execute(
            f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5({columns}, "
            "content='publication', content_rowid='id', tokenize='trigram')"
        )
        index = f"INSERT INTO {SEARCH_TABLE}(rowid, {columns}) VALUES (new.id, new.title, new.subtitle);"
        unindex = (
            f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, {columns}) "
            "VALUES ('delete', old.id, old.title, old.subtitle);"
        )
        watched = "title, subtitle"
        op.execute(f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('rebuild')")
    op.execute(f"CREATE TRIGGER {SEARCH_TABLE}_insert AFTER INSERT ON publication BEGIN {index} END")
    op.execute(f"CREATE TRIGGER {SEARCH_TABLE}_delete AFTER DELETE ON publication BEGIN {unindex} END")
    op.execute(
        f"CREATE TRIGGER {SEARCH_TABLE}_update AFTER UPDATE OF {watched} ON publication "
        f"BEGIN {unindex} {index} END"
    )


def _has_search_table() -> bool:
    return sa.inspect(op.get_bind()).has_table(SEARCH_TABLE)


def _version_triggers(columns: str) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {VERSION_TABLE}_bump ON publication")
        op.execute(
            f"CREATE TRIGGER {VERSION_TABLE}_bump AFTER INSERT OR DELETE OR TRUNCATE "
            f"OR UPDATE OF {columns} ON publication "
            f"FOR EACH STATEMENT EXECUTE FUNCTION bump_{VERSION_TABLE}()"
        )
        return
    op.execute(f"DROP TRIGGER IF EXISTS {VERSION_TABLE}_update")
    op.execute(
        f"CREATE TRIGGER {VERSION_TABLE}_update AFTER UPDATE OF {columns} ON publication "
        f"BEGIN UPDATE {VERSION_TABLE} SET version = random(); END"
    )


def upgrade():
    dialect = op.get_bind().dialect.name
    op.add_column('publication', sa.Column('publishing_status', sa.String(length=2), nullable=False, server_default='04'))
    op.add_column('publication', sa.Column('availability', sa.String(length=2), nullable=False, server_default='21'))
    op.add_column('publication', sa.Column('publication_date', sa.Date(), nullable=True))
    op.add_column('publication', sa.Column('expected_ship_date', sa.Date(), nullable=True))
    op.add_column('publication', sa.Column('contributors', sa.Text(), nullable=False, server_default='[]'))
    op.add_column('publication', sa.Column('subjects', sa.Text(), nullable=False, server_default='[]'))

    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sold_as', sa.String(length=10), nullable=False, server_default='stock'))
        batch_op.add_column(sa.Column('awaiting_stock', sa.Boolean(), nullable=False, server_default=sa.text('false')))
        batch_op.add_column(sa.Column('expected_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('date_notices', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_check_constraint('sold_as_known', "sold_as IN ('stock', 'preorder', 'backorder')")
        batch_op.create_check_constraint('stock_lines_never_wait', "sold_as != 'stock' OR NOT awaiting_stock")
        batch_op.create_index('ix_order_line_awaiting', ['publication_id'], unique=False, postgresql_where=sa.text('awaiting_stock'), sqlite_where=sa.text('awaiting_stock'))

    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('topic', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('list_unsubscribe', sa.String(length=500), nullable=True))
        batch_op.alter_column('order_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_index('uq_outbox_email_order_kind')
        batch_op.create_index('uq_outbox_email_order_kind', ['order_id', 'kind'], unique=True, postgresql_where=sa.text(f'{UNKEYED} AND topic IS NULL'), sqlite_where=sa.text(f'{UNKEYED} AND topic IS NULL'))
        batch_op.create_index('uq_outbox_email_topic', ['kind', 'recipient', 'topic'], unique=True, postgresql_where=sa.text('topic IS NOT NULL AND resend_of_id IS NULL'), sqlite_where=sa.text('topic IS NOT NULL AND resend_of_id IS NULL'))

    op.create_table('notify_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('publication_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['publication_id'], ['publication.id'], name=op.f('fk_notify_request_publication_id_publication'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_request')),
    sa.UniqueConstraint('publication_id', 'email', name='uq_notify_request_publication_email'),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_notify_request_email', 'notify_request', ['email'], unique=False)
    op.create_index('ix_notify_request_created_at', 'notify_request', ['created_at'], unique=False)

    if dialect == "postgresql":
        op.execute(
            f"CREATE FUNCTION {NAMES_FUNCTION}(contributors text) RETURNS text "
            "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ "
            "SELECT coalesce(string_agg(entry ->> 1, ' ' ORDER BY position), '') "
            "FROM json_array_elements(coalesce(contributors, '[]')::json) "
            "WITH ORDINALITY AS e(entry, position) $$"
        )
        op.execute(
            "CREATE INDEX ix_publication_search_text_trgm ON publication USING gin "
            f"((title || ' ' || coalesce(subtitle, '') || ' ' || {NAMES_FUNCTION}(contributors)) "
            "gin_trgm_ops)"
        )
        op.execute("DROP INDEX IF EXISTS ix_publication_title_text_trgm")
    elif dialect == "sqlite" and _has_search_table():
        _sqlite_search(upgrade=True)
    _version_triggers(LISTED_COLUMNS)


def downgrade():
    dialect = op.get_bind().dialect.name
    _version_triggers(OLD_LISTED_COLUMNS)
    if dialect == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_publication_title_text_trgm ON publication "
            "USING gin ((title || ' ' || coalesce(subtitle, '')) gin_trgm_ops)"
        )
        op.execute("DROP INDEX IF EXISTS ix_publication_search_text_trgm")
        op.execute(f"DROP FUNCTION IF EXISTS {NAMES_FUNCTION}(text)")

    op.drop_index('ix_notify_request_created_at', table_name='notify_request')
    op.drop_index('ix_notify_request_email', table_name='notify_request')
    op.drop_table('notify_request')

    op.execute("DELETE FROM outbox_email WHERE order_id IS NULL OR topic IS NOT NULL")
    with op.batch_alter_table('outbox_email', schema=None) as batch_op:
        batch_op.drop_index('uq_outbox_email_topic', postgresql_where=sa.text('topic IS NOT NULL AND resend_of_id IS NULL'), sqlite_where=sa.text('topic IS NOT NULL AND resend_of_id IS NULL'))
        batch_op.drop_index('uq_outbox_email_order_kind')
        batch_op.create_index('uq_outbox_email_order_kind', ['order_id', 'kind'], unique=True, postgresql_where=sa.text(UNKEYED), sqlite_where=sa.text(UNKEYED))
        batch_op.alter_column('order_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('list_unsubscribe')
        batch_op.drop_column('topic')

    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.drop_index('ix_order_line_awaiting', postgresql_where=sa.text('awaiting_stock'), sqlite_where=sa.text('awaiting_stock'))
        batch_op.drop_constraint('stock_lines_never_wait', type_='check')
        batch_op.drop_constraint('sold_as_known', type_='check')
        batch_op.drop_column('date_notices')
        batch_op.drop_column('expected_on')
        batch_op.drop_column('awaiting_stock')
        batch_op.drop_column('sold_as')

    columns = ("subjects", "contributors", "expected_ship_date", "publication_date", "availability",
               "publishing_status")
    if dialect == "sqlite":
        # SQLite's own DROP COLUMN (3.35+), not a batch copy of the table: a copy would break on
        # (and drop) the triggers other tables hang on publication (migration 0015's). It refuses
        # a column a trigger reads, so the search and version triggers go first and come back.
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {SEARCH_TABLE}_{trigger}")
            op.execute(f"DROP TRIGGER IF EXISTS {VERSION_TABLE}_{trigger}")
        for column in columns:
            op.execute(f"ALTER TABLE publication DROP COLUMN {column}")
        _sqlite_restore_triggers()
    else:
        for column in columns:
            op.drop_column('publication', column)


def _sqlite_restore_triggers() -> None:
    """Migrations 0008 and 0011's triggers on publication, after a table copy."""
    bump = f"UPDATE {VERSION_TABLE} SET version = random()"
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS {VERSION_TABLE}_{trigger}")
    op.execute(f"CREATE TRIGGER {VERSION_TABLE}_insert AFTER INSERT ON publication BEGIN {bump}; END")
    op.execute(f"CREATE TRIGGER {VERSION_TABLE}_delete AFTER DELETE ON publication BEGIN {bump}; END")
    op.execute(
        f"CREATE TRIGGER {VERSION_TABLE}_update AFTER UPDATE OF {OLD_LISTED_COLUMNS} ON publication "
        f"BEGIN {bump}; END"
    )
    if _has_search_table():
        _sqlite_search(upgrade=False)
