"""``python -m sandbox``: run the sandbox in the foreground until SIGINT/SIGTERM.

Logs go to stderr; one line with the base URL goes to stdout once it is serving.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from .server import SandboxServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", help="where to POST events, e.g. http://127.0.0.1:5000/stripe/webhook")
    parser.add_argument("--webhook-secret", default=os.environ.get("STRIPE_WEBHOOK_SECRET"),
                        help="signing secret (default: $STRIPE_WEBHOOK_SECRET)")
    parser.add_argument("--api-version", default=None,
                        help="the account's default API version, which events are created in (default: the latest)")
    parser.add_argument("--settle-after", type=float, default=60.0,
                        help="seconds until a Bacs payment or a pending refund settles by itself (default: 60)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = SandboxServer(args.host, args.port, args.webhook_url, args.webhook_secret)
    server.state.configure(settle_after=args.settle_after,
                           **({"api_version": args.api_version} if args.api_version else {}))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    url = server.start()
    sys.stdout.write(f"Stripe sandbox running at {url}\n")  # the one line callers wait for
    sys.stdout.flush()
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
