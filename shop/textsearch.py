"""Substring search in text columns."""

from sqlalchemy import ColumnElement


def contains_text(column, text: str) -> ColumnElement[bool]:
    """``column`` contains ``text`` in any case, with ``%`` and ``_`` taken as themselves.

    ILIKE with the whole pattern as one bound value, the shape PostgreSQL's pg_trgm indexes on the
    plain column (migrations 0006, 0007) answer. SQLAlchemy's ``icontains`` builds the pattern in
    SQL instead (``'%' || :text || '%'``; in 1.x it also wrapped the column in lower(), which no
    index answered). On SQLite both are lower(column) LIKE lower(pattern).
    """
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return column.ilike(f"%{escaped}%", escape="/")
