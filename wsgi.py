"""Entry point for ``flask --app wsgi`` and gunicorn (``gunicorn wsgi:app``)."""

import gc

from shop import create_app

app = create_app()
# What start-up built (modules, mappers, Jinja and SQLAlchemy structures, ~110,000 objects) lives
# as long as the process: keep it out of the collector's full passes, which scanned it all and
# held the GIL for 50-120 ms every few hundred requests (docs/performance.md, "GC freeze").
gc.freeze()
