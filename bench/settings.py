"""Sizes, durations and server settings of one benchmark run, from the environment.

``BENCH_QUICK=1`` makes a short smoke run (small data, one short round); the full run is sized
to fit in about 10-15 minutes on the 2-core machine.
"""

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
VENV_BIN = Path(os.environ.get("VENV", ROOT / ".venv")).resolve() / "bin"

# What deploy/gunicorn.conf.py, the configuration README.md recommends for production, sets for
# the workers (tests/deploy/test_gunicorn_config.py holds the two together).
GUNICORN_ARGS = ["--workers", "2", "--threads", "2", "--keep-alive", "0", "--worker-connections", "2"]
# Production refuses a weak key: a fresh strong one per run (servers and in-process share it).
SECRET_KEY = secrets.token_urlsafe(48)
# Production refuses per-process (memory://) sign-in limits with two workers: the bench's
# servers share Redis, as the README's production set-up does.
RATELIMIT_STORAGE_URI = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
WEBHOOK_SECRET = "whsec_bench_not_secret"
STAFF_EMAIL = "bench-desk@example.org"
STAFF_PASSWORD = "bench passphrase, long enough"
USER_AGENT = "shop-bench/1"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Settings:
    quick: bool = field(default_factory=lambda: _flag("BENCH_QUICK"))
    postgres_url: str | None = None

    def __post_init__(self) -> None:
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith("postgresql"):
            self.postgres_url = url
        q = self.quick
        self.publications = 1_000 if q else 10_000
        self.orders = 5_000 if q else 100_000
        # Same shape, smaller (a tenth of the orders, half the titles), for "queries per page do not depend on data size"; big
        # enough that every staff list page measured is a full page of 50 on both datasets (a
        # page that is not full may skip its count query, which is not a data-size effect).
        # The catalogue's deep page must exist in both (past the last page is a 404): 5,000
        # titles are 240-odd pages of 20.
        self.small_publications = 300 if q else 5_000
        self.deep_page = 10 if q else 200
        self.small_orders = 1_000 if q else 10_000
        self.csv_lines = 50_000 if q else 1_000_000
        self.csv_on_postgres = not q and not _flag("BENCH_SKIP_PG_CSV")
        self.webhook_events = 40 if q else 400
        self.webhook_concurrency = 8
        self.batch_orders = 50 if q else 500  # one batch dispatch, measured last (it changes the data)
        self.rounds = 1 if q else 3
        self.duration = float(os.environ.get("BENCH_DURATION") or (2 if q else 5))
        self.warmup = 1.0
        self.connections = 8  # twice the server's 2 workers x 2 threads: requests queue
        self.latency_connections = 1  # "one member of staff at a time" latency run
        self.seed = 20261126
