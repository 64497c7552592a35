"""Processes the benchmark starts and stops itself: gunicorn servers on loopback ports.

Only processes started here are ever signalled, by their own pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from bench.settings import (
    ARTIFACTS,
    GUNICORN_ARGS,
    RATELIMIT_STORAGE_URI,
    ROOT,
    SECRET_KEY,
    VENV_BIN,
    WEBHOOK_SECRET,
)

# Variables of the caller that must not leak into a server's configuration.
_SCRUB = ("DATABASE_URL", "STRIPE_API_BASE", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "SHOP_ENV",
          "SECRET_KEY", "SHOP_BASE_URL", "BENCH_DATABASE_URL", "GUNICORN_CMD_ARGS", "WEB_CONCURRENCY",
          "RATELIMIT_STORAGE_URI", "RATELIMIT_ALLOW_MEMORY")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def shop_env(database_url: str) -> dict[str, str]:
    """Production mode with dummy secrets. ``STRIPE_API_BASE`` stays unset: production refuses a
    plain-HTTP one, and no page or webhook measured here calls Stripe."""
    env = base_env()
    env.update(
        SHOP_ENV="production",
        SECRET_KEY=SECRET_KEY,
        STRIPE_SECRET_KEY="sk_test_bench_dummy",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        SHOP_BASE_URL="https://shop.bench.invalid",
        DATABASE_URL=database_url,
        SELLER_NAME="Bench Publisher Ltd",
        SELLER_ADDRESS="1 Bench Street, Benchton, BE0 0NC",
        SELLER_EMAIL="orders@bench.invalid",
        # The bench's staff account signs in with its password alone (a production admin would
        # first set up two-factor sign-in, which no measured page needs).
        STAFF_REQUIRE_2FA_ROLES="",
        RATELIMIT_STORAGE_URI=RATELIMIT_STORAGE_URI,
    )
    return env


class Gunicorn:
    """``gunicorn <args> --bind 127.0.0.1:<port> <app>`` in the project folder."""

    def __init__(self, name: str, app: str, env: dict[str, str], args: list[str] | None = None,
                 ready_path: str = "/"):
        self.name = name
        self.app = app
        self.env = env
        self.args = list(args or GUNICORN_ARGS)
        self.ready_path = ready_path
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = ARTIFACTS / "logs" / f"gunicorn-{name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Gunicorn:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 (open for the server's lifetime; closed in stop())
        command = [str(VENV_BIN / "gunicorn"), *self.args, "--bind", f"127.0.0.1:{self.port}", self.app]
        log.write(f"\n# {' '.join(command)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()  # the child has its own copy
        deadline = time.monotonic() + timeout
        session = requests.Session()
        session.trust_env = False
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                session.get(self.url + self.ready_path, timeout=5, allow_redirects=False)
                # Both workers answer once the master has forked them; give the second a moment.
                if len(self.worker_pids()) >= self.workers:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s; see {self.log_path}")

    @property
    def workers(self) -> int:
        return int(self.args[self.args.index("--workers") + 1]) if "--workers" in self.args else 1

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def pids(self) -> list[int]:
        """The master and its workers (every thread of a process counts in its own times)."""
        return [self.proc.pid, *self.worker_pids()] if self.proc is not None else []

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of a process, in kB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far (a process gone is left out)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / _TICKS


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on this machine: the backends serving the apps' connections, and
    the server's own (small) background work."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class CpuMeter:
    """CPU seconds used by one server, and by PostgreSQL with it when the database is PostgreSQL.

    Read before and after a measurement, divided by the requests served: the CPU each request
    cost. Neither the load generator's share of the cores nor the time the hypervisor gives other
    machines (steal) is charged to it; a virtual CPU slowed by a neighbour on its physical core
    is, so on a shared machine it swings too (BENCHMARKS.md, "Two measures of one pair")."""

    def __init__(self, server: Gunicorn, with_postgres: bool):
        self.server = server
        self.with_postgres = with_postgres

    def read(self) -> float:
        pids = self.server.pids() + (postgres_pids() if self.with_postgres else [])
        return cpu_seconds(pids)
