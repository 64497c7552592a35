"""gunicorn for the shop: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app`` (deploy/systemd/shop.service).

Behind nginx (deploy/nginx/shop.conf), on loopback. Two threads a worker: while one waits on
PostgreSQL or Stripe the other works, and no more than two share a worker's interpreter lock
(with four, a busy staff list's slowest answers took half as long again: docs/performance.md,
"One request per connection, two threads a worker"). The worker count comes from
WEB_CONCURRENCY, which the shop also reads at start-up to refuse per-process (memory://)
sign-in limits with more than one worker.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
worker_class = "gthread"
timeout = 60
graceful_timeout = 30
# One request per connection, and no more connections in a worker than it has threads. A
# threaded worker keeps a kept-alive connection, and every request sent on it, to itself: with
# eight connections held open, one worker was seen serving all of them (its threads queueing for
# its one interpreter lock) while the other sat idle. Closed after each answer, each request
# goes to a worker with a thread free, and waits in the kernel's queue, in turn, while none has.
keepalive = 0
worker_connections = threads
accesslog = "-"


def on_starting(server) -> None:
    """Refuse to start more than one worker on per-process sign-in limits in production: with
    memory:// each worker counts on its own, so N workers let N times the limit through. The
    shop checks this too (shop.config.declared_workers), but only this hook sees the worker
    count a config file sets."""
    production = os.environ.get("SHOP_ENV") == "production"
    storage = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    if production and storage.startswith("memory://") and server.cfg.workers > 1:
        raise SystemExit(
            f"RATELIMIT_STORAGE_URI={storage} with {server.cfg.workers} workers: each worker would "
            "count sign-in attempts on its own. Use redis://… or WEB_CONCURRENCY=1."
        )
