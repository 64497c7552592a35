"""Profile one shop page in-process (Flask test client, same database as the benchmark).

    .venv/bin/pip install pyinstrument     # not in requirements.txt: a benchmarking tool only
    .venv/bin/python -m bench.profile --db sqlite:///artifacts/bench.sqlite3 --staff /staff/orders
    .venv/bin/python -m bench.profile --db postgresql+psycopg://postgres@127.0.0.1:5432/bench /?page=200

Prints the mean time per request without a profiler, SQL time per request, pyinstrument's call
tree, and cProfile's functions by own time; writes the pyinstrument HTML to artifacts/profile-*.html.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pathlib
import pstats
import re
import time

from sqlalchemy import event

from bench.settings import ARTIFACTS, STAFF_EMAIL, STAFF_PASSWORD
from tests.support import csrf_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("--db", required=True)
    parser.add_argument("--staff", action="store_true", help="sign in as the benchmark's staff user first")
    parser.add_argument("--basket", type=int, default=0, help="put this many titles in the basket first")
    parser.add_argument("-n", type=int, default=100)
    parser.add_argument("--method", default="GET")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ["SHOP_ENV"] = "development"
    from bench.datagen import isbn13
    from bench.inprocess import make_app
    from shop.extensions import db

    url = args.db
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = "sqlite:///" + os.path.abspath(url[len("sqlite:///"):])  # Flask-SQLAlchemy would use instance/
    app = make_app(url)
    client = app.test_client()

    def token(page: str) -> str:
        return csrf_token(client.get(page).get_data(as_text=True)) or ""

    if args.staff:
        answer = client.post("/staff/login", data={"csrf_token": token("/staff/login"), "email": STAFF_EMAIL,
                                                   "password": STAFF_PASSWORD})
        assert answer.status_code == 303, answer.status_code
    for n in range(1, args.basket + 1):
        client.post("/basket/add", data={"isbn": isbn13(n), "quantity": "1"})
    client.get("/basket")
    data = None
    if args.method == "POST":
        data = {"isbn": isbn13(args.basket + 1), "quantity": "1"}

    def hit():
        response = client.open(args.path, method=args.method, data=data)
        response.get_data()
        return response

    with app.app_context():
        engine = db.engine
    backends: set[int] = set()  # PostgreSQL backends serving this process (psycopg's backend_pid)

    def note_backend(conn, cursor, statement, parameters, context, executemany):
        info = getattr(conn.connection.dbapi_connection, "info", None)
        if info is not None and hasattr(info, "backend_pid"):
            backends.add(info.backend_pid)

    event.listen(engine, "before_cursor_execute", note_backend)
    status = hit().status_code
    for _ in range(5):
        hit()
    event.remove(engine, "before_cursor_execute", note_backend)  # the connection is pooled by now
    sql_time = [0.0]
    starts: dict[int, float] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        starts[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        sql_time[0] += time.perf_counter() - starts.pop(id(cursor), time.perf_counter())

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    backend_cpu = {pid: _cpu_seconds(pid) for pid in backends}
    started, started_cpu = time.perf_counter(), time.process_time()
    for _ in range(args.n):
        hit()
    plain = (time.perf_counter() - started) / args.n
    python_cpu = (time.process_time() - started_cpu) / args.n
    database_cpu = sum((_cpu_seconds(pid) or 0) - (backend_cpu.get(pid) or 0) for pid in backends) / args.n
    event.remove(engine, "before_cursor_execute", before)
    event.remove(engine, "after_cursor_execute", after)
    print(f"{args.method} {args.path} -> {status}: {plain * 1000:.2f} ms a request in-process "
          f"(of which {sql_time[0] / args.n * 1000:.2f} ms executing SQL, cursor.execute only), n={args.n}")
    # CPU time, steadier than the clock on a shared machine: this process's, and the PostgreSQL
    # backends' (read from /proc when the server runs on this machine).
    readable = backends and all(_cpu_seconds(pid) is not None for pid in backends)
    print(f"CPU a request: {python_cpu * 1000:.2f} ms here"
          + (f", {database_cpu * 1000:.2f} ms in PostgreSQL" if readable else ""))

    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None
        print("(pyinstrument is not installed: .venv/bin/pip install pyinstrument)")
    if Profiler is not None:
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(args.n):
            hit()
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        slug = re.sub(r"[^a-z0-9]+", "-", f"{args.method} {args.path}".lower()).strip("-")
        out = ARTIFACTS / f"profile-{slug}.html"
        out.parent.mkdir(parents=True, exist_ok=True)  # a fresh checkout has no artifacts/ yet
        out.write_text(profiler.output_html())
        print(f"(HTML: {out})")

    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.n):
        hit()
    profile.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profile, stream=stream)
    stats.sort_stats("tottime").print_stats(25)
    print("\n".join(line for line in stream.getvalue().splitlines() if line.strip()))


def _cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of a PostgreSQL process on this machine, or None if there is none
    by that number (a server elsewhere, or in a container, has its own process numbers)."""
    try:
        if pathlib.Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
            return None
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
