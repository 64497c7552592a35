"""``python -m bench``: generate data, serve, load, count, explain, export, fulfil; print the table
and write it to BENCHMARKS.md (see bench/report.py), the results to artifacts/bench-results.json
and the staff list's EXPLAIN output to artifacts/explain-<database>.md."""

from __future__ import annotations

import json
import logging
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from bench import batchdispatch, csvexport, datagen, load, report, targets, webhooks
from bench.inprocess import QueryCounter, explain
from bench.servers import CpuMeter, Gunicorn, base_env, shop_env
from bench.settings import ARTIFACTS, GUNICORN_ARGS, ROOT, Settings
from bench.staff import create_staff

STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.0f}s] {message}", flush=True)


def summarise(runs: list[load.LoadResult]) -> dict:
    return {
        "rps": statistics.median(r.rps for r in runs),
        "p50_ms": statistics.median(r.p50_ms for r in runs),
        "p99_ms": statistics.median(r.p99_ms for r in runs),
        "requests": sum(r.requests for r in runs),
        "errors": sum(r.errors for r in runs),
        "rounds_rps": [round(r.rps, 1) for r in runs],
        "tool": runs[0].tool,
    }


def count_queries(url: str, target_list: list[targets.Target]) -> tuple[dict, dict, dict]:
    """SQL statements per request, in-process. A target that errors is retried once (the shop is
    being edited while benchmarks run) and then recorded as an error rather than ending the run."""
    counter = QueryCounter(url)
    counts, statements, errors = {}, {}, {}
    try:
        for target in target_list:
            for attempt in (1, 2):
                try:
                    counted = counter.count(target.request)
                except Exception as exc:
                    problem = f"{type(exc).__name__}: {exc}"[:300]
                else:
                    if counted.status == target.request.expect:
                        counts[target.key] = counted.count
                        statements[target.key] = counted.statements
                        errors.pop(target.key, None)
                        break
                    problem = f"HTTP {counted.status} in-process"
                errors[target.key] = problem
                if attempt == 1:
                    time.sleep(3)
    finally:
        counter.close()
    for key, problem in errors.items():
        log(f"  ! {key}: {problem}")
    return counts, statements, errors


def prepare(shop_url: str, deep_page: int) -> list[targets.Target]:
    for attempt in range(1, 4):
        try:
            return targets.prepare(shop_url, deep_page)
        except Exception as exc:
            if attempt == 3:
                raise
            log(f"  ! setting up the cookies failed ({exc}); again in 5 s")
            time.sleep(5)
    raise AssertionError


def _cpu_ms(meter, cpu_before: float | None, result: load.LoadResult) -> float | None:
    """Milliseconds of server CPU per request served since ``cpu_before``."""
    if meter is None or cpu_before is None or not result.requests:
        return None
    used = meter.read() - cpu_before
    return used * 1000 / result.requests if used > 0 else None


def measure_rounds(s: Settings, name: str, items, latency_items, whole: set[str],
                   meters: dict | None = None) -> tuple[dict, dict]:
    """``meters`` maps a server's base URL to its CpuMeter (bench.servers): each measurement also
    records the server CPU it cost per request."""
    meters = meters or {}

    def timed(base, request, duration, connections, label):
        meter = meters.get(base)
        before = meter.read() if meter else None
        result = load.run(base, request, duration, connections, label)
        return result, _cpu_ms(meter, before, result)

    for key, base, request in items + latency_items:
        load.run(base, request, s.warmup, s.connections, f"{name}-{key}")
    runs = {key: [] for key, _, _ in items}
    cpu = {key: [] for key, _, _ in items}
    latency = {key: [] for key, _, _ in latency_items}
    # Each page's time is cut into one-second slices, each right after a slice of the realistic
    # ceiling; the page's ratio is the median of those pairs. This machine's speed swings by 2-4x
    # for seconds at a time (the same app measured 411 and 1,704 req/s seconds apart), which one
    # pair of 5 s runs per round could not tell from the page's own speed. Pages in ``whole`` (slow
    # ones) get one pair of full-length runs instead. Each pair is compared twice: by requests per
    # second, and by the server CPU each request cost (not charged for the load generator's share
    # of the cores or for steal time).
    realistic = next((base, request) for key, base, request in items if key == "realistic")
    paired = {key: [] for key, _, _ in items if key not in ("ceiling", "realistic")}
    paired_cpu = {key: [] for key in paired}
    for round_ in range(1, s.rounds + 1):
        line = []
        for key, base, request in items:
            if key not in paired:
                result, cpu_ms = timed(base, request, s.duration, s.connections, f"{name}-{key}")
                runs[key].append(result)
                cpu[key].append(cpu_ms)
                line.append(f"{key} {result.rps:.0f}")
                continue
            parts, ratios, cpu_ratios, page_cpu = [], [], [], []
            slices = 1 if key in whole else max(1, round(s.duration))
            for _ in range(slices):
                before, before_cpu = timed(*realistic, s.duration / slices, s.connections,
                                           f"{name}-realistic-before-{key}")
                part, part_cpu = timed(base, request, s.duration / slices, s.connections, f"{name}-{key}")
                parts.append(part)
                ratios.append(part.rps / before.rps if before.rps else 0.0)
                if before_cpu and part_cpu:
                    cpu_ratios.append(before_cpu / part_cpu)
                    page_cpu.append(part_cpu)
            result = load.merge(parts)
            runs[key].append(result)
            paired[key].append(statistics.median(ratios))
            cpu[key].append(statistics.median(page_cpu) if page_cpu else None)
            if cpu_ratios:
                paired_cpu[key].append(statistics.median(cpu_ratios))
            cpu_note = f", CPU {paired_cpu[key][-1]:.0%}" if cpu_ratios else ""
            line.append(f"{key} {result.rps:.0f} ({paired[key][-1]:.0%}{cpu_note})")
        for key, base, request in latency_items:
            result = load.run(base, request, s.duration, s.latency_connections, f"{name}-{key}-c1")
            latency[key].append(result)
            line.append(f"{key}@c1 p99 {result.p99_ms:.1f}ms")
        log(f"  round {round_}/{s.rounds} req/s: " + ", ".join(line))
    pages = {key: summarise(value) for key, value in runs.items()}
    for key, values in cpu.items():
        measured = [value for value in values if value]
        if measured:
            pages[key]["cpu_ms"] = statistics.median(measured)
    for key, ratios in paired.items():
        pages[key]["paired_ratios"] = [round(ratio, 3) for ratio in ratios]
        if paired_cpu[key]:
            pages[key]["paired_cpu_ratios"] = [round(ratio, 3) for ratio in paired_cpu[key]]
    return pages, {key: summarise(value) for key, value in latency.items()}


def shop_version() -> str:
    """The commit the servers are about to load, and how many shop files differ from it (other
    people commit and edit the shop while benchmarks run)."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True, check=False).stdout.strip()
    dirty = [line for line in subprocess.run(
        ["git", "status", "--porcelain", "--", "shop", "templates", "wsgi.py", "migrations"],
        cwd=ROOT, capture_output=True, text=True, check=False).stdout.split("\n") if line.strip()]
    return commit + (f" + {len(dirty)} uncommitted shop files" if dirty else "")


def run_backend(s: Settings, name: str, url: str, small_url: str, csv_url: str, ceiling: Gunicorn) -> dict:
    out: dict = {"url": make_url(url).render_as_string(hide_password=True), "shop_version": shop_version()}
    log(f"== {name}: small dataset ({s.small_publications} publications, {s.small_orders} orders) "
        "for the query counts")
    datagen.generate(small_url, s.small_publications, orders=s.small_orders, seed=s.seed, log=log)
    create_staff(small_url)
    with Gunicorn(f"shop-{name}-small", "wsgi:app", shop_env(small_url), ready_path="/healthz") as shop:
        small_targets = prepare(shop.url, s.deep_page)
    out["queries_small"], _, out["errors_small"] = count_queries(small_url, small_targets)

    log(f"== {name}: {s.publications:,} publications, {s.orders:,} orders (shop at {out['shop_version']})")
    dataset = datagen.generate(url, s.publications, orders=s.orders, seed=s.seed, log=log)
    out["dataset"] = {"publications": dataset.publications, "orders": dataset.orders, "lines": dataset.lines,
                      "generate_seconds": round(dataset.seconds, 1)}
    create_staff(url)
    realistic_env = {**base_env(), "BENCH_DATABASE_URL": url}
    shop = Gunicorn(f"shop-{name}", "wsgi:app", shop_env(url), ready_path="/healthz")
    realistic = Gunicorn(f"realistic-{name}", "bench.apps.realistic:app", realistic_env,
                         ready_path=targets.realistic_request().path)
    try:
        shop.start()
        realistic.start()
        target_list = prepare(shop.url, s.deep_page)
        out["labels"] = {t.key: t.label for t in target_list}
        out["paths"] = {t.key: f"{t.request.method} {t.request.full_path}" for t in target_list}
        out["queries"], statements, out["errors"] = count_queries(url, target_list)
        log("  queries per request: " + ", ".join(f"{k} {v}" for k, v in out["queries"].items()))
        out["explain"] = {}
        for key in ("staff_orders", "staff_filtered", "staff_search"):
            # Every statement the list ran on shop_order: the page and its capped count.
            listing = [(sql, params) for sql, params in statements.get(key, [])
                       if "shop_order" in sql and "FROM staff_user" not in sql]
            out["explain"][key] = [{"sql": sql, "params": repr(params), "plan": explain(url, sql, params)}
                                   for sql, params in listing]
        # The "to pack" view: its page (flagged first, oldest first) and its capped count.
        out["explain"]["staff_to_pack"] = [
            {"sql": sql, "params": repr(params), "plan": explain(url, sql, params)}
            for sql, params in statements.get("staff_to_pack", [])
            if "shop_order" in sql and "FROM staff_user" not in sql
        ]
        try:
            search_page = targets.check(shop.url, next(t.request for t in target_list if t.key == "search")).text
            out["search_note"] = _search_count(search_page)
        except RuntimeError as exc:
            out["search_note"] = str(exc)
        items = [("ceiling", ceiling.url, targets.ceiling_request()),
                 ("realistic", realistic.url, targets.realistic_request())]
        items += [(t.key, shop.url, t.request) for t in target_list]
        for key, base, request in list(items):
            try:
                targets.check(base, request)
            except RuntimeError as exc:
                if key in ("ceiling", "realistic"):
                    raise
                out["errors"][key] = f"not measured: {exc}"
                log(f"  ! {key} not measured: {exc}")
                items.remove((key, base, request))
        measured = {key for key, _, _ in items}
        latency_items = [(t.key, shop.url, t.request) for t in target_list if t.latency_run and t.key in measured]
        log(f"  load: {s.rounds} round(s) x {len(items)} targets x {s.duration:g} s at {s.connections} "
            f"connections, then {len(latency_items)} at {s.latency_connections} "
            f"({'wrk' if load.have_wrk() else 'Python load generator'})")
        whole = {t.key for t in target_list if not t.sliced}
        on_postgres = make_url(url).get_backend_name() == "postgresql"
        meters = {server.url: CpuMeter(server, with_postgres=on_postgres) for server in (ceiling, realistic, shop)}
        out["pages"], out["latency"] = measure_rounds(s, name, items, latency_items, whole, meters)
        for key, base, request in items:  # the cookies still work: nothing was measured signed out
            try:
                targets.check(base, request)
            except RuntimeError as exc:
                out["errors"][key] = f"failed after the load: {exc}"
                log(f"  ! {key} failed after the load: {exc}")
        log(f"== {name}: webhook fulfilment")
        out["webhook"] = webhooks.measure(url, s.webhook_events, s.webhook_concurrency, s.seed, log=log)
        log(f"== {name}: batch dispatch of {s.batch_orders} orders to pack")
        out["batch_dispatch"] = batchdispatch.measure(url, shop.url, s.batch_orders, log=log)
    finally:
        shop.stop()
        realistic.stop()
    if csv_url:
        out["csv_shop_version"] = shop_version()
        log(f"== {name}: CSV export of {s.csv_lines:,} order lines")
        out["csv"] = csvexport.measure(name, csv_url, s.csv_lines, s.seed, s.publications, log=log)
    return out


def _search_count(page: str) -> str:
    import re

    match = re.search(r'role="status">(\d[\d,]*) publication', page)
    return f"{match.group(1)} matches" if match else "?"


def _postgres_ok(url: str) -> str | None:
    """Refuse to wipe a database that is not obviously a benchmark's own."""
    database = make_url(url).database or ""
    if "bench" not in database and os.environ.get("BENCH_ALLOW_ANY_DATABASE") != "1":
        return (f"DATABASE_URL names database {database!r}; the benchmark drops and refills its schema, "
                "so it only uses a database whose name contains 'bench' (e.g. createdb bench)")
    return None


def meta(s: Settings) -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?")
    wrk = "none (Python load generator)"
    if load.have_wrk():
        done = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
        wrk = (done.stdout + done.stderr).split("\n")[0].split(" Copyright")[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "shop", "templates", "wsgi.py", "migrations"],
                           cwd=ROOT, capture_output=True, text=True).stdout.split("\n")
    dirty = [line[3:] for line in dirty if line.strip()]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version, "wrk": wrk, "gunicorn": " ".join(GUNICORN_ARGS),
        "commit": commit + (f" plus uncommitted changes to {len(dirty)} files ({', '.join(dirty[:4])}"
                            f"{', …' if len(dirty) > 4 else ''})" if dirty else ""),
        "uncommitted": dirty,
        "quick": s.quick, "rounds": s.rounds, "duration": s.duration, "connections": s.connections,
        "latency_connections": s.latency_connections,
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
    }


def main() -> int:
    logging.basicConfig(level=logging.WARNING)  # before the shop's basicConfig(INFO): keeps it quiet
    s = Settings()
    os.environ["SHOP_ENV"] = "development"  # in-process apps only; every server gets its own env
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "logs").mkdir(exist_ok=True)
    results: dict = {"meta": meta(s), "backends": {}, "skipped": []}
    if not load.have_wrk():
        log("wrk is not installed (apt-get install -y wrk): using the bounded Python load generator")
    stem = "bench-quick" if s.quick else "bench"  # a smoke run leaves the full databases alone
    backends = [("sqlite", f"sqlite:///{ARTIFACTS / f'{stem}.sqlite3'}",
                 f"sqlite:///{ARTIFACTS / f'{stem}-small.sqlite3'}",
                 f"sqlite:///{ARTIFACTS / f'{stem}-csv.sqlite3'}")]
    if s.postgres_url:
        problem = _postgres_ok(s.postgres_url)
        if problem:
            log(f"PostgreSQL skipped: {problem}")
            results["skipped"].append(problem)
        else:
            datagen.ensure_postgres_database(s.postgres_url)
            backends.append(("postgresql", s.postgres_url, s.postgres_url,
                             s.postgres_url if s.csv_on_postgres else None))
    else:
        results["skipped"].append("PostgreSQL: DATABASE_URL does not point at PostgreSQL")
    log(f"benchmark {'(quick) ' if s.quick else ''}on {results['meta']['cores']} cores; artifacts in {ARTIFACTS}")
    ceiling = Gunicorn("ceiling", "bench.apps.ceiling:app", base_env()).start()
    try:
        for name, url, small_url, csv_url in backends:
            results["backends"][name] = run_backend(s, name, url, small_url, csv_url, ceiling)
    finally:
        ceiling.stop()
    results["meta"]["total_seconds"] = round(time.monotonic() - STARTED)
    results["meta"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    # A quick smoke run never replaces the real numbers in BENCHMARKS.md.
    suffix = "-quick" if s.quick else ""
    results_path = ARTIFACTS / f"bench-results{suffix}.json"
    markdown_path = ARTIFACTS / "BENCHMARKS-quick.md" if s.quick else ROOT / "BENCHMARKS.md"
    results_path.write_text(json.dumps(results, indent=2, default=str))
    text, markdown = report.render(results)
    print()
    print(text)
    report.write_markdown(markdown_path, markdown)
    explains = report.write_explains(results)
    log(f"done: {', '.join(str(path) for path in (markdown_path, results_path, *explains))} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
