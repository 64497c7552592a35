"""Substring search in text columns."""

from sqlalchemy import ColumnElement


def contains_text(column, text: str) -> ColumnElement[bool]:
    """``column`` contains ``text`` in any case, with ``%`` and ``_`` taken as themselves.

    ILIKE, not SQLAlchemy's ``icontains``: that wraps the column in lower(), which PostgreSQL's
    pg_trgm indexes on the plain column (migrations 0006, 0007) cannot answer, so every search
    read the whole table. On SQLite both are lower(column) LIKE lower(pattern).
    """
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return column.ilike(f"%{escaped}%", escape="/")
