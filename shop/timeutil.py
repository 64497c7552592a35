"""Aware UTC timestamps (SQLite returns naive ones; we store and compare UTC throughout)."""

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
