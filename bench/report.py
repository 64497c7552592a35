"""The printed table and BENCHMARKS.md, from the results of one run; EXPLAIN output goes to
artifacts/explain-<database>.md.

BENCHMARKS.md keeps whatever is outside the ``bench:begin``/``bench:end`` markers (written by
hand: how to run, the method, the targets); the run replaces what is between them.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from bench.settings import ARTIFACTS, ROOT

BEGIN = "<!-- bench:begin (written by `make bench`; edit outside these markers) -->"
END = "<!-- bench:end -->"
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
PAGE_KEYS = ["publication", "publication_comments", "catalogue_1", "catalogue_200", "search", "search_new",
             "basket", "add", "staff_orders", "staff_filtered", "staff_to_pack", "staff_search"]
GOALS = {"publication": 0.90, "publication_comments": 0.90, "catalogue_1": 0.75, "catalogue_200": 0.75,
         "search": 0.75}
P99_LIMIT_MS = 50.0
RSS_LIMIT_MB = 200.0


def ratio(pages: dict, key: str, base: str) -> float:
    """Against the realistic ceiling: the median over rounds of each round's median of paired
    one-second slices (page, and the ceiling right before it). Otherwise the median over rounds of
    this round's rate / the base's rate in the same round. (The ratio of the medians, when rounds
    are missing; results of runs before 2026-11-26 evening have one realistic run per page.)"""
    if base == "realistic" and pages[key].get("paired_ratios"):
        return statistics.median(pages[key]["paired_ratios"])
    mine, theirs = pages[key].get("rounds_rps"), pages[base].get("rounds_rps")
    if base == "realistic" and pages[key].get("paired_realistic_rps"):
        theirs = pages[key]["paired_realistic_rps"]  # measured just before this page, each round
    if mine and theirs and len(mine) == len(theirs):
        return statistics.median(a / b for a, b in zip(mine, theirs, strict=False) if b)
    return pages[key]["rps"] / pages[base]["rps"]


def cpu_ratio(pages: dict, key: str) -> float | None:
    """Against the realistic ceiling, by server CPU per request: the median over rounds of each
    round's median of paired slices (the ceiling's CPU per request / the page's). None for runs
    that did not measure CPU (before 2026-12-01 evening)."""
    ratios = pages[key].get("paired_cpu_ratios")
    return statistics.median(ratios) if ratios else None


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _rows(b: dict) -> list[list[str]]:
    pages = b["pages"]
    rows = [
        ["ceiling: bare Flask, short string", pages["ceiling"], 1.0, None, None, "–"],
        ["realistic ceiling: 1 row by PK + Jinja", pages["realistic"], ratio(pages, "realistic", "ceiling"), 1.0,
         1.0 if "cpu_ms" in pages["realistic"] else None, "1"],
    ]
    for key in PAGE_KEYS:
        if key not in pages:
            continue
        m = pages[key]
        queries = f"{b['queries_small'].get(key, '?')} / {b['queries'].get(key, '?')}"
        rows.append([b["labels"][key], m, ratio(pages, key, "ceiling"), ratio(pages, key, "realistic"),
                     cpu_ratio(pages, key), queries])
    out = []
    for label, m, vs_ceiling, vs_realistic, vs_realistic_cpu, queries in rows:
        errors = f" ({m['errors']} errors)" if m["errors"] else ""
        cpu_ms = f"{m['cpu_ms']:.2f}" if m.get("cpu_ms") else "–"
        out.append([label, f"{m['rps']:,.0f}{errors}", f"{m['p50_ms']:.1f}", f"{m['p99_ms']:.1f}",
                    _pct(vs_ceiling), _pct(vs_realistic), cpu_ms, _pct(vs_realistic_cpu), queries])
    return out


HEADER = ["page", "req/s", "p50 ms", "p99 ms", "vs ceiling", "vs realistic", "server CPU ms/request",
          "vs realistic, by CPU", "SQL/request (small / full data)"]


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    def line(r):
        return "  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(r))
    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    align = ["---"] + ["---:"] * (len(header) - 1)
    return "\n".join("| " + " | ".join(map(str, r)) + " |" for r in [header, align, *rows])


def _latency_rows(b: dict) -> list[list[str]]:
    rows = []
    for key, m in b["latency"].items():
        rows.append([b["labels"][key], f"{m['rps']:,.0f}", f"{m['p50_ms']:.1f}", f"{m['p99_ms']:.1f}",
                     f"{b['pages'][key]['p99_ms']:.1f}"])
    return rows


LAT_HEADER = ["page (one client at a time)", "req/s", "p50 ms", "p99 ms", "p99 ms at 8 connections"]


def targets(results: dict) -> list[tuple[bool, str]]:
    checks: list[tuple[bool, str]] = []
    for name, b in results["backends"].items():
        db = NAMES[name]
        pages = b["pages"]
        for key, goal in GOALS.items():
            if key not in pages:
                checks.append((False, f"{db}: {b['labels'].get(key, key)}: not measured ({b['errors'].get(key)})"))
                continue
            share = ratio(pages, key, "realistic")
            by_cpu = cpu_ratio(pages, key)
            # Judged by requests/s; the CPU ratio beside it says whether the page's own cost moved
            # with it (BENCHMARKS.md, "Two measures of one pair").
            cpu_note = f" ({by_cpu:.0%} by server CPU per request)" if by_cpu is not None else ""
            checks.append((share >= goal, f"{db}: {b['labels'][key]} >= {goal:.0%} of the realistic ceiling: "
                                          f"{share:.0%}{cpu_note}"))
        orders = b["dataset"]["orders"]
        for key in ("staff_orders", "staff_filtered"):
            if key not in b["latency"]:
                checks.append((False, f"{db}: {b['labels'].get(key, key)}: not measured ({b['errors'].get(key)})"))
                continue
            one = b["latency"][key]["p99_ms"]
            loaded = pages[key]["p99_ms"]
            checks.append((one < P99_LIMIT_MS, f"{db}: {b['labels'][key]} p99 < {P99_LIMIT_MS:.0f} ms with "
                                               f"{orders:,} orders, one client: {one:.1f} ms"))
            checks.append((loaded < P99_LIMIT_MS, f"{db}: {b['labels'][key]} p99 < {P99_LIMIT_MS:.0f} ms with "
                                                  f"{orders:,} orders, 8 connections: {loaded:.1f} ms"))
        if "csv" in b:
            c = b["csv"]
            shipped = _export(c)
            complete = shipped["status"] == 200 and not shipped["error"] and shipped["rows"] == c["dataset_lines"]
            ok = complete and shipped["peak_rss_mb"] < RSS_LIMIT_MB
            what = (f"{shipped['peak_rss_mb']:.0f} MB in {shipped['seconds']:.1f} s" if complete else
                    f"the download broke off after {shipped['rows']:,} rows ({_short(shipped['error'])})")
            checks.append((ok, f"{db}: CSV export of {c['dataset_lines']:,} lines under {RSS_LIMIT_MB:.0f} MB "
                               f"peak RSS: {what}"))
        differ = [k for k in b["queries"] if b["queries"][k] != b["queries_small"].get(k)]
        missing = sorted(set(b["labels"]) - set(b["queries"]) | set(b["labels"]) - set(b["queries_small"]))
        checks.append((not differ and not missing, f"{db}: SQL statements per page the same with small and full data"
                                   + (f" (differ: {', '.join(differ)})" if differ else "")
                                   + (f" (not counted: {', '.join(missing)})" if missing else "")))
    return checks


def _export(csv: dict) -> dict:
    """The export's result (results files before 2026-12 kept it as the "as shipped" variant)."""
    return csv["export"] if "export" in csv else csv["variants"]["as shipped"]


def _short(error: str | None) -> str | None:
    if error and len(error) > 190:
        return error[:190] + "…"
    return error


def render(results: dict) -> tuple[str, str]:
    meta = results["meta"]
    intro = (f"{meta['date']}; {meta['cores']} cores ({meta['cpu']}); Python {meta['python']}, SQLite "
             f"{meta['sqlite']}; shop at {meta['commit']}; gunicorn {meta['gunicorn']}; load: {meta['wrk']}, "
             f"{meta['connections']} connections, {meta['rounds']} round(s) of {meta['duration']:g} s per "
             f"target, medians; total run {meta.get('total_seconds', 0)} s; load average (other work on the machine) "
             f"{' '.join(meta.get('loadavg_start', []))} at the start, {' '.join(meta.get('loadavg_end', []))} at the end"
             + (" — QUICK SMOKE RUN: numbers are not meaningful" if meta["quick"] else ""))
    text = [f"Benchmark: {intro}", ""]
    md = [f"_{intro}._", ""]
    for name, b in results["backends"].items():
        d = b["dataset"]
        title = (f"{NAMES[name]}: {d['publications']:,} publications, {d['orders']:,} orders "
                 f"({d['lines']:,} lines), generated in {d['generate_seconds']} s"
                 + (f"; shop at {b['shop_version']}" if b.get("shop_version") else ""))
        rows = _rows(b)
        text += [title, _text_table(HEADER, rows), "", _text_table(LAT_HEADER, _latency_rows(b)), ""]
        md += [f"### {title}", "", _md_table(HEADER, rows), "", _md_table(LAT_HEADER, _latency_rows(b)), ""]
        w = b["webhook"]
        line = (f"Webhook fulfilment: {w['events']} signed checkout.session.completed events, "
                f"{w['concurrency']} at a time: {w['events_per_s']:.0f} events/s ({w['seconds']:.2f} s; "
                f"p50 {w['p50_ms']:.1f} ms, p99 {w['p99_ms']:.1f} ms; {w['errors']} errors; "
                f"{w['orders_paid']} of {w['events']} orders paid; outcomes {w['outcomes']})")
        text += [line]
        md += [f"- {line}"]
        if "batch_dispatch" in b:
            d = b["batch_dispatch"]
            line = (f"Batch dispatch from the “to pack” view: {d['orders']} orders in one POST "
                    f"/staff/orders/batch/dispatch: {d.get('seconds', 0):.2f} s ({d.get('orders_per_s') or 0:.0f} orders/s; "
                    f"answered {d.get('status')}), its confirmation page {d.get('confirm_seconds', 0):.2f} s; "
                    f"{d.get('dispatched', 0)} dispatched, {d.get('emails', 0)} dispatch emails queued"
                    + (f"; {d['error']}" if d.get("error") else ""))
            text += [line]
            md += [f"- {line}"]
        if "csv" in b:
            c, v = b["csv"], _export(b["csv"])
            at = f" (shop at {b['csv_shop_version']})" if b.get("csv_shop_version") else ""
            line = (f"CSV export `GET /staff/orders.csv?status=all`{at}, {c['dataset_lines']:,} lines in "
                    f"{c['dataset_orders']:,} orders: {v['rows']:,} lines, {v['megabytes']:.1f} MB in "
                    f"{v['seconds']:.1f} s ({v['rows_per_s']:,.0f} lines/s, first byte after "
                    f"{v['first_byte_seconds']:.2f} s); single-worker RSS {v['rss_before_mb']:.0f} MB before, "
                    f"peak (VmHWM) during the export {v['peak_rss_mb']:.0f} MB"
                    + ("" if v.get("peak_reset") else " (could not reset VmHWM: includes start-up and sign-in)")
                    + f", since the worker started {max(v['peak_before_mb'], v['peak_rss_mb']):.0f} MB"
                    + (f"; {_short(v['error'])}" if v["error"] else ""))
            text += [line]
            md += [f"- {line}"]
        for key, problem in {**b.get("errors_small", {}), **b.get("errors", {})}.items():
            line = f"Error: {b['labels'].get(key, key)}: {problem}"
            text += [line]
            md += [f"- {line}"]
        paths = ", ".join(f"{b['labels'][k]}: `{v}`" for k, v in b["paths"].items())
        md += [f"- Requests: {paths.replace('|', '%7C')}; search matches: {b['search_note']}.", ""]
        text += [""]
    checks = targets(results)
    text += ["Targets:"] + [f"  [{'PASS' if ok else 'MISS'}] {line}" for ok, line in checks]
    md += ["### Targets", ""] + [f"- **{'PASS' if ok else 'MISS'}** {line}" for ok, line in checks]
    for skipped in results.get("skipped", []):
        text.append(f"  (skipped) {skipped}")
        md.append(f"- (skipped) {skipped}")
    explained = [f"`{explain_path(name, results['meta']['quick']).relative_to(ROOT)}`"
                 for name, b in results["backends"].items() if b.get("explain")]
    if explained:
        line = f"EXPLAIN of the staff order list's statements: {', '.join(explained)}"
        text += ["", line]
        md += ["", f"{line}."]
    md.append("")
    return "\n".join(text), "\n".join(md)


def explain_path(name: str, quick: bool = False) -> Path:
    return ARTIFACTS / f"explain-{name}{'-quick' if quick else ''}.md"


def explain_markdown(results: dict) -> dict[str, str]:
    """Per database, the plans of the staff order list's statements as the shop sent them:
    EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite."""
    out = {}
    meta = results["meta"]
    for name, b in results["backends"].items():
        if not b.get("explain"):
            continue
        kind = "EXPLAIN (ANALYZE, BUFFERS)" if name == "postgresql" else "EXPLAIN QUERY PLAN"
        md = [f"# {kind} of the staff order list queries, {NAMES[name]}, {b['dataset']['orders']:,} orders", "",
              f"_{meta['date']}; shop at {b.get('shop_version') or meta['commit']}; written by `make bench`._", ""]
        for key, explained in b["explain"].items():
            explained = [explained] if isinstance(explained, dict) else explained  # older results
            for n, e in enumerate(explained, start=1):
                which = f"statement {n} of {len(explained)}"
                md += [f"{b['labels'][key]} (`{b['paths'][key].replace('|', '%7C')}`), {which}, "
                       f"parameters `{e['params']}`:", "",
                       "```sql", e["sql"].strip(), "```", "", "```", e["plan"], "```", ""]
        out[name] = "\n".join(md)
    return out


def write_explains(results: dict) -> list[Path]:
    written = []
    for name, markdown in explain_markdown(results).items():
        path = explain_path(name, results["meta"]["quick"])
        path.parent.mkdir(exist_ok=True)
        path.write_text(markdown)
        written.append(path)
    return written


def write_markdown(path: Path, generated: str) -> None:
    block = f"{BEGIN}\n{generated}\n{END}"
    if path.exists():
        current = path.read_text()
        if BEGIN in current and END in current:
            head, rest = current.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            path.write_text(head + block + tail)
            return
    path.write_text("# Benchmarks\n\nRun `make bench` (see the end of this file for how it works).\n\n"
                    "## Latest run\n\n" + block + "\n")


if __name__ == "__main__":
    # Re-render from a results file: python -m bench.report artifacts/bench-results.json [--write]
    source = Path(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "--write" else ARTIFACTS / "bench-results.json"
    results = json.loads(source.read_text())
    text, markdown = render(results)
    print(text)
    if "--write" in sys.argv:
        write_markdown(ROOT / "BENCHMARKS.md", markdown)
        write_explains(results)
