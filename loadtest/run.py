"""``make load``: 100 concurrent customers for 60 s against the shop on PostgreSQL (2 gunicorn
workers) and the local Stripe sandbox, then a check of the books.

Loopback only, bounded in users and time. Prints requests/s and p50/p99 per step, then: every
paid Stripe session has exactly one paid order, stock equals the initial stock less the copies
paid and the copies still reserved by unpaid checkouts, and no response was a 5xx."""

import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import stripe
from sqlalchemy import create_engine, text

from tests.support import isbn13

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "artifacts" / "load"
USERS = int(os.environ.get("LOAD_USERS", "100"))
SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
DATABASE_URL = os.environ.get("LOAD_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/shop_load")
STRIPE_KEY, WEBHOOK_SECRET = "sk_test_load", "whsec_load"
TITLES = 20
INITIAL_STOCK = 100_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database() -> None:
    admin = create_engine(DATABASE_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = DATABASE_URL.rsplit("/", 1)[1]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while True:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            if time.time() > deadline:
                raise SystemExit(f"{url} did not come up") from None
            time.sleep(0.2)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    fresh_database()
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "SECRET_KEY": "load-secret",
           "STRIPE_SECRET_KEY": STRIPE_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
           # Every simulated customer comes from 127.0.0.1: lift the per-address checkout limits.
           "CHECKOUT_LIMIT_PER_ADDRESS": "1000000 per minute", "CHECKOUT_HOLD_LIMIT": "1000000"}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    isbns = [isbn13(500 + n) for n in range(TITLES)]
    engine = create_engine(DATABASE_URL)
    with engine.begin() as conn:
        for n, isbn in enumerate(isbns):
            conn.execute(text(
                "INSERT INTO publication (isbn, title, publisher, year, pages, price_pence, stock, summary, on_sale, created_at, updated_at) "
                "VALUES (:isbn, :title, 'The King''s Fund', 2020, 48, :price, :stock, '', true, now(), now())"
            ), {"isbn": isbn, "title": f"Load report {n:02d}", "price": 850 + 50 * n, "stock": INITIAL_STOCK})

    shop_port, sandbox_port = free_port(), free_port()
    shop_url, sandbox_url = f"http://127.0.0.1:{shop_port}", f"http://127.0.0.1:{sandbox_port}"
    env.update(STRIPE_API_BASE=sandbox_url, SHOP_BASE_URL=shop_url)
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(sandbox_port),
         "--webhook-url", f"{shop_url}/stripe/webhook", "--webhook-secret", WEBHOOK_SECRET, "--log-level", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shop = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{shop_port}",
         "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env={**env, "LOG_LEVEL": "WARNING"}, stdout=subprocess.DEVNULL, stderr=open(OUT / "gunicorn.log", "w"))  # noqa: SIM115
    try:
        wait_for(shop_url + "/healthz")
        wait_for(sandbox_url + "/_sandbox/config")
        print(f"Shop {shop_url} (2 gunicorn workers x 4 threads, PostgreSQL), sandbox {sandbox_url}")
        print(f"Running {USERS} customers for {SECONDS}s ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest" / "locustfile.py"), "--headless",
             "-u", str(USERS), "-r", "25", "-t", f"{SECONDS}s", "--host", shop_url, "--csv", str(OUT / "locust"),
             "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING"],
            cwd=ROOT, env={**env, "LOAD_ISBNS": ",".join(isbns), "PYTHONPATH": str(ROOT)}, check=False,
            stdout=subprocess.DEVNULL, stderr=open(OUT / "locust.log", "w"),  # noqa: SIM115 (the child writes to it until it exits)
        )
        settle_webhooks(sandbox_url)
        report(shop_url, sandbox_url, engine, isbns)
    finally:
        shop.terminate()
        sandbox.terminate()
        shop.wait(timeout=20)
        sandbox.wait(timeout=20)


def settle_webhooks(sandbox_url: str, seconds: float = 30) -> None:
    """Wait until every event has a delivery answer (the sandbox delivers in the background)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        events = requests.get(sandbox_url + "/_sandbox/events", timeout=30).json()["data"]
        if all(event["delivery_attempts"] for event in events):
            return
        time.sleep(0.5)


def report(shop_url: str, sandbox_url: str, engine, isbns: list[str]) -> None:
    with open(OUT / "locust_stats.csv") as handle:
        rows = list(csv.DictReader(handle))
    print(f"\n{'step':24} {'requests':>9} {'fails':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}")
    for row in rows:
        print(f"{row['Name'][:24]:24} {row['Request Count']:>9} {row['Failure Count']:>6} "
              f"{float(row['Requests/s']):8.1f} {row['50%']:>7} {row['99%']:>7}")
    with open(OUT / "locust_failures.csv") as handle:
        failures = list(csv.DictReader(handle))
    server_errors = [f for f in failures if "50" in f.get("Error", "")[:40] or "Server Error" in f.get("Error", "")]

    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": sandbox_url})
    paid_sessions = [s.id for s in client.v1.checkout.sessions.list(params={"limit": 100}).auto_paging_iter()
                     if s.payment_status == "paid"]
    events = requests.get(sandbox_url + "/_sandbox/events", timeout=30).json()["data"]
    webhook_5xx = sum(1 for e in events for a in e["delivery_attempts"] if (a["status"] or 0) >= 500)
    with engine.connect() as conn:
        paid_orders = dict(conn.execute(text(
            "SELECT stripe_session_id, count(*) FROM shop_order WHERE status = 'paid' GROUP BY stripe_session_id")).all())
        copies = dict(conn.execute(text(
            "SELECT o.status, coalesce(sum(l.quantity), 0) FROM shop_order o JOIN order_line l ON l.order_id = o.id "
            "GROUP BY o.status")).all())
        stock = conn.execute(text("SELECT sum(stock) FROM publication")).scalar()
    once = sum(1 for sid in paid_sessions if paid_orders.get(sid) == 1)
    reserved = copies.get("pending_payment", 0)
    expected_stock = INITIAL_STOCK * len(isbns) - copies.get("paid", 0) - reserved
    checks = [
        (f"every paid Stripe session has exactly one paid order ({once}/{len(paid_sessions)})",
         once == len(paid_sessions) and len(paid_orders) == len(paid_sessions)),
        (f"stock = initial - paid - reserved ({stock} = {INITIAL_STOCK * len(isbns)} - {copies.get('paid', 0)} - {reserved})",
         stock == expected_stock),
        (f"no 5xx to customers ({len(server_errors)}) or to Stripe's webhooks ({webhook_5xx})",
         not server_errors and webhook_5xx == 0),
    ]
    print()
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    if not all(ok for _, ok in checks):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
