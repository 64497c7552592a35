"""The staff CSV export of every order line, timed, with the serving process's peak memory.

A single-worker gunicorn (otherwise the README's settings) serves it, so the worker's
``/proc/<pid>/status`` VmHWM is the peak resident memory of the one process that did the export.
"""

from __future__ import annotations

import threading
import time

import requests

from bench import datagen
from bench.browser import Browser
from bench.servers import Gunicorn, proc_status, shop_env
from bench.settings import STAFF_EMAIL, STAFF_PASSWORD
from bench.staff import create_staff


def reset_peak(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def export_once(name: str, database_url: str) -> dict:
    server = Gunicorn(name, "wsgi:app", shop_env(database_url), args=["--workers", "1", "--threads", "4"],
                      ready_path="/healthz")
    with server:
        browser = Browser(server.url)
        browser.sign_in(STAFF_EMAIL, STAFF_PASSWORD)
        assert browser.get("/staff/orders?status=all&q=nobody").status_code == 200
        [pid] = server.worker_pids()
        before = proc_status(pid)
        # Signing in verified an Argon2 hash (64 MiB of working memory), which set the worker's
        # VmHWM; start the peak afresh so it is the export's own (Linux: "5" > clear_refs).
        peak_reset = reset_peak(pid)
        samples: list[int] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.25):
                try:
                    samples.append(proc_status(pid)["VmRSS"])
                except OSError:
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        response = browser.get("/staff/orders.csv?status=all", stream=True)
        first_byte = time.perf_counter() - started
        size = newlines = 0
        error = None
        try:
            for chunk in response.iter_content(chunk_size=1 << 20):
                size += len(chunk)
                newlines += chunk.count(b"\n")
        except requests.RequestException as exc:
            error = f"download broke off: {type(exc).__name__}"
        seconds = time.perf_counter() - started
        stop.set()
        sampler.join()
        after = proc_status(pid)
    if error:
        for line in reversed(server.log_path.read_text(errors="replace").splitlines()):
            if "Error" in line:
                message = line.strip()
                error += f" (server: {message[:150] + '…' if len(message) > 150 else message})"
                break
    rows = max(newlines - 1, 0)  # the header
    return {
        "status": response.status_code, "rows": rows, "megabytes": size / 1e6, "seconds": seconds,
        "first_byte_seconds": first_byte, "rows_per_s": rows / seconds if seconds else 0.0,
        "rss_before_mb": before["VmRSS"] / 1024, "peak_before_mb": before["VmHWM"] / 1024,
        "peak_rss_mb": after["VmHWM"] / 1024, "peak_reset": peak_reset,
        "rss_after_mb": after["VmRSS"] / 1024, "max_sampled_rss_mb": max(samples, default=0) / 1024,
        "error": error,
    }


def measure(name: str, database_url: str, lines: int, seed: int, publications: int, log=print) -> dict:
    dataset = datagen.generate(database_url, publications, lines=lines, seed=seed + 1, log=log)
    create_staff(database_url)
    result = export_once(f"csv-{name}", database_url)
    log(f"  CSV export ({name}): {result['rows']:,} of {dataset.lines:,} rows, "
        f"{result['megabytes']:.0f} MB in {result['seconds']:.1f} s ({result['rows_per_s']:,.0f} rows/s); "
        f"worker RSS {result['rss_before_mb']:.0f} MB before, peak during the export {result['peak_rss_mb']:.0f} MB "
        f"(peak since start, sign-in included, {max(result['peak_before_mb'], result['peak_rss_mb']):.0f} MB)"
        + (f"; {result['error']}" if result["error"] else ""))
    return {"dataset_orders": dataset.orders, "dataset_lines": dataset.lines,
            "generate_seconds": dataset.seconds, "export": result}
