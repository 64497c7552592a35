"""Guard for the catalogue version after a database restore (migration 0011, docs/performance.md):
no listing a worker cached before the restore can match the version of a later change."""

import html
import re

from sqlalchemy import insert, text, update

from shop.catalogue.models import Publication
from tests.conftest import isbn13, make_publication


def _version(db) -> int:
    return db.session.scalar(text("SELECT version FROM catalogue_version"))


def _add(db, n: int) -> None:
    db.session.execute(
        insert(Publication).values(isbn=isbn13(n), title=f"Report {n}", year=2024, pages=10,
                                   price_pence=500, publisher="The King's Fund")
    )
    db.session.commit()


def _found(client) -> list[str]:
    return re.findall(r"Report \d", html.unescape(client.get("/?q=report").get_data(as_text=True)))


def test_a_listing_cached_before_a_restore_is_never_taken_for_current(client, db):
    make_publication(isbn=isbn13(1), title="Report 1")
    backup = _version(db)  # the backup is taken here: Report 1 alone
    _add(db, 2)
    assert _found(client) == ["Report 1", "Report 2"]  # this worker keeps that listing
    # The backup is restored: Report 2 goes and the version is the backup's again.
    db.session.execute(update(Publication).where(Publication.title == "Report 2").values(on_sale=False))
    db.session.execute(text("UPDATE catalogue_version SET version = :backup"), {"backup": backup})
    db.session.commit()
    # One change after the restore, as many as came between the backup and the cached listing.
    # A counter would now read what it read with that listing; the worker would show Report 2.
    _add(db, 3)
    assert _found(client) == ["Report 1", "Report 3"]
