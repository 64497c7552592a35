"""Load generation on loopback, always bounded in time (or in count).

wrk (Debian's package) when it is installed, with a generated Lua script for the method, the
headers (cookie, user agent) and the body; otherwise a bounded threaded Python client. Both
report requests/s and latency percentiles of the same requests.
"""

from __future__ import annotations

import http.client
import json
import queue
import random
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.settings import ARTIFACTS, USER_AGENT


@dataclass
class Request:
    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    expect: int = 200
    # Appended to ``path`` with each letter's case drawn at random, request by request: the same
    # search, but a query text the shop has not seen (its listings are keyed by the text as typed).
    varied_case: str = ""

    @property
    def full_path(self) -> str:
        return self.path + self.varied_case

    def sample_path(self) -> str:
        return self.path + "".join(
            (letter.upper() if random.getrandbits(1) else letter.lower()) for letter in self.varied_case
        )

    def all_headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, **self.headers}
        if self.body is not None:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return headers


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    errors: int  # connect/read/write/timeout errors and HTTP statuses >= 400
    tool: str
    max_ms: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def merge(parts: list[LoadResult]) -> LoadResult:
    """Consecutive runs of one request as one: rates from the totals; the median run's p50, the
    worst run's p99 and maximum."""
    return LoadResult(
        requests=sum(part.requests for part in parts), seconds=sum(part.seconds for part in parts),
        p50_ms=statistics.median(part.p50_ms for part in parts), p99_ms=max(part.p99_ms for part in parts),
        mean_ms=statistics.fmean(part.mean_ms for part in parts), errors=sum(part.errors for part in parts),
        tool=parts[0].tool, max_ms=max(part.max_ms for part in parts),
    )


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(value: str) -> str:
    level = "=" * 3
    assert f"]{level}]" not in value
    return f"[{level}[{value}]{level}]"


_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH-JSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d, " ..
    "\\"mean_us\\": %.1f, \\"max_us\\": %d, \\"errors\\": %d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def _wrk_script(request: Request, name: str) -> Path:
    lines = [f"wrk.method = {_lua_string(request.method)}"]
    for key, value in request.all_headers().items():
        lines.append(f"wrk.headers[ {_lua_string(key)} ] = {_lua_string(value)}")
    if request.body is not None:
        lines.append(f"wrk.body = {_lua_string(request.body)}")
    if request.varied_case:
        lines += [
            f"local fixed, varied = {_lua_string(request.path)}, {_lua_string(request.varied_case)}",
            "math.randomseed(os.time())",
            "request = function()",
            "  local text = varied:gsub('%a', function(c)",
            "    if math.random(2) == 1 then return c:upper() end",
            "    return c:lower()",
            "  end)",
            "  return wrk.format(nil, fixed .. text)",
            "end",
        ]
    path = ARTIFACTS / "wrk" / f"{name}.lua"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n" + _DONE)
    return path


def run(base_url: str, request: Request, duration: float, connections: int, name: str) -> LoadResult:
    if have_wrk():
        result = run_wrk(base_url, request, duration, connections, name)
    else:
        result = run_python(base_url, [request], duration, connections, repeat=True)
    drain(result)
    return result


def drain(result: LoadResult) -> None:
    """When the load generator stops, the server is still working through the requests it had
    already accepted (up to one per connection; a slow page's take seconds). Wait that out, so
    the next measurement does not start on a busy server and inherit its latency."""
    time.sleep(min(result.max_ms / 1000 * 1.5, 15.0) + 0.25)


def run_wrk(base_url: str, request: Request, duration: float, connections: int, name: str) -> LoadResult:
    script = _wrk_script(request, name)
    seconds = max(1, round(duration))  # wrk takes whole seconds
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(script), base_url + request.full_path]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-JSON "):
            data = json.loads(line[len("BENCH-JSON "):])
            return LoadResult(
                requests=data["requests"], seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000,
                mean_ms=data["mean_us"] / 1000, errors=data["errors"], tool="wrk",
                max_ms=data["max_us"] / 1000,
            )
    raise RuntimeError(f"wrk printed no result: {done.stdout}\n{done.stderr}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def run_python(base_url: str, requests_: list[Request], duration: float | None, connections: int,
               repeat: bool, on_response=None) -> LoadResult:
    """``connections`` threads, each with one keep-alive connection. ``repeat``: send
    ``requests_[0]`` over and over until ``duration`` is up; otherwise send each request of the
    list once (a shared queue), stopping at ``duration`` if given. ``on_response(request, status,
    body)`` sees every answer."""
    parts = urlsplit(base_url)
    deadline = time.monotonic() + duration if duration else None
    work: queue.Queue[Request] = queue.Queue()
    if not repeat:
        for item in requests_:
            work.put(item)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine: list[float] = []
        failed = 0
        while deadline is None or time.monotonic() < deadline:
            if repeat:
                item = requests_[0]
            else:
                try:
                    item = work.get_nowait()
                except queue.Empty:
                    break
            started = time.perf_counter()
            try:
                body = item.body.encode("utf-8") if isinstance(item.body, str) else item.body
                conn.request(item.method, item.sample_path(), body=body, headers=item.all_headers())
                response = conn.getresponse()
                answer = response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                failed += 1
                continue
            mine.append(time.perf_counter() - started)
            if status >= 400:
                failed += 1
            if on_response is not None:
                on_response(item, status, answer)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    ms = [value * 1000 for value in latencies]
    return LoadResult(
        requests=len(latencies), seconds=seconds, p50_ms=percentile(ms, 50), p99_ms=percentile(ms, 99),
        mean_ms=statistics.fmean(ms) if ms else 0.0, errors=errors[0], tool="python",
        max_ms=max(ms, default=0.0),
    )
