"""The shop as served (``wsgi:app``) with one change, made here and only in this process, to size
the recommended fix of the CSV export: ``db.session.expunge_all()`` inside
``shop.orders.export.order_lines_csv`` becomes a no-op.

As shipped, that call replaces the session's identity map while the ``yield_per`` result is still
being read, so the next batch fails ("this identity map is no longer valid") and the download
ends after 2,000 rows. The identity map is weak-referencing, so the call is not needed to keep
memory flat. Nothing under shop/ is edited; BENCHMARKS.md labels every number from this app.
"""

from shop.orders import export
from wsgi import app  # noqa: F401  (gunicorn bench.apps.shop_export_fix:app)


class _Session:
    def __init__(self, scoped):
        self._scoped = scoped

    def expunge_all(self) -> None:
        pass

    def __getattr__(self, name):
        return getattr(self._scoped, name)


class _Db:
    def __init__(self, db):
        self._db = db

    @property
    def session(self):
        return _Session(self._db.session)

    def __getattr__(self, name):
        return getattr(self._db, name)


export.db = _Db(export.db)
