"""Run the sandbox app on loopback in background threads."""

from __future__ import annotations

import logging
import threading

from werkzeug.serving import BaseWSGIServer, make_server

from .app import create_sandbox_app
from .state import SandboxState

log = logging.getLogger(__name__)


class SandboxServer:
    """A Stripe-compatible sandbox on ``http://host:port`` (``port=0``: pick a free one).

    ``start()`` serves with a threaded werkzeug server in a daemon thread plus a sweeper
    thread that every ``sweep_interval`` seconds expires overdue open sessions and settles
    payments and refunds whose time has come (``Config.settle_after``), and returns the base
    URL; ``stop()`` shuts both down. ``state`` gives direct Python
    access to the data the HTTP API serves.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, webhook_url: str | None = None,
                 webhook_secret: str | None = None, sweep_interval: float = 2.0) -> None:
        self.host, self.port = host, port
        self.state = SandboxState(webhook_url, webhook_secret)
        self.app = create_sandbox_app(self.state)
        self.sweep_interval = sweep_interval
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (valid once started)."""
        if self._server is None:
            raise RuntimeError("SandboxServer is not running")
        return f"http://{self.host}:{self._server.server_port}"

    def start(self) -> str:
        """Start serving; return the base URL."""
        if self._server is not None:
            return self.url
        self._server = make_server(self.host, self.port, self.app, threaded=True)
        self._stopping.clear()
        self._threads = [
            # Checks for shutdown every 50 ms (default 500): stopping it is what tests wait on.
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                             name="stripe-sandbox", daemon=True),
            threading.Thread(target=self._sweep, name="stripe-sandbox-sweeper", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.info("Stripe sandbox listening on %s", self.url)
        return self.url

    def stop(self) -> None:
        """Stop serving and sweeping (idempotent)."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server, self._threads = None, []
        log.info("Stripe sandbox stopped")

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _sweep(self) -> None:
        while not self._stopping.wait(self.sweep_interval):
            try:
                self.state.expire_due_sessions()
                self.state.settle_due()
            except Exception:  # keep sweeping whatever one pass hit
                log.exception("sweeper failed")
