"""deploy/gunicorn.conf.py sends each request to a worker with a thread free, and `make bench`
serves the shop the same way."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from gunicorn.config import Config

from bench.settings import GUNICORN_ARGS

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
THREADS = 2  # the shipped default
pytestmark = pytest.mark.waits  # on gunicorn processes


def _shipped() -> Config:
    """The settings the shipped file gives by default (read as gunicorn reads it)."""
    saved = dict(os.environ)
    for name in ("WEB_CONCURRENCY", "GUNICORN_THREADS"):
        os.environ.pop(name, None)
    try:
        config = Config()
        namespace: dict = {"__file__": str(CONFIG), "__name__": "__config__"}
        exec(compile(CONFIG.read_text(), str(CONFIG), "exec"), namespace)
        for name, value in namespace.items():
            if name in config.settings:
                config.set(name, value)
        return config
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _from_command_line(args: list[str]) -> Config:
    config = Config()
    parsed = config.parser().parse_args([*args, "app:app"])
    for name, value in vars(parsed).items():
        if name in config.settings and value is not None:
            config.set(name, value)
    return config


def test_the_benchmark_serves_the_shop_as_the_shipped_config_does():
    shipped, bench = _shipped(), _from_command_line(GUNICORN_ARGS)
    for name in ("workers", "threads", "keepalive", "worker_connections"):
        assert bench.settings[name].get() == shipped.settings[name].get(), name
    assert shipped.worker_class_str == "gthread" and bench.settings["threads"].get() > 1  # gunicorn then uses gthread
    assert shipped.settings["keepalive"].get() == 0
    assert shipped.settings["worker_connections"].get() == shipped.settings["threads"].get()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def two_workers():
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "GUNICORN_CMD_ARGS"}
    env.pop("WEB_CONCURRENCY", None)
    env.pop("GUNICORN_THREADS", None)  # the shipped defaults: two workers of two threads
    env.update(GUNICORN_BIND=f"127.0.0.1:{port}", SHOP_ENV="development")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "--access-logfile", "/dev/null",
         "tests.deploy.busy_app:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        pids: set[str] = set()
        while len(pids) < 2:  # both workers up
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start: {server.stderr.read().decode() if server.stderr else ''}")
            try:
                pids.add(requests.get(url, timeout=5).text)
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _all_at_once(clients: list[requests.Session], url: str) -> list[str]:
    """Each client's GET, sent together; the worker pid each got its answer from."""
    served_by: list[str] = []
    start = threading.Barrier(len(clients))

    def send(client: requests.Session) -> None:
        start.wait()
        served_by.append(client.get(url, timeout=10).text)

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(served_by) == len(clients)
    return served_by


def test_requests_at_once_are_shared_between_the_two_workers(two_workers):
    """As many clients as the two workers have threads, each on a new connection it would keep
    open, send requests that each wait 0.3 s, at once, five times over. With kept-alive
    connections a worker can hold more connections than it has threads, and the requests beyond
    its threads wait for one while the other worker has one free (that round takes 0.6 s). Here
    each worker takes as many as it has threads."""
    for round_ in range(5):
        clients = [requests.Session() for _ in range(2 * THREADS)]  # new connections each round
        served_by = _all_at_once(clients, two_workers)
        shares = sorted(served_by.count(pid) for pid in set(served_by))
        assert shares == [THREADS, THREADS], f"round {round_}: {shares}"
        for client in clients:
            client.close()

