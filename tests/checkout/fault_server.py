"""The shop in a process of its own, for tests that kill it mid-request.

``python -m tests.checkout.fault_server --port P --pause-file F`` serves the shop; while F exists,
recording a payment stops right after the order row was claimed (inside the open transaction),
writes ``F.reached`` and sleeps, so a test can SIGKILL the process at exactly that point."""

import argparse
import time
from pathlib import Path

from werkzeug.serving import make_server

from shop import create_app
from shop.orders import fulfilment


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pause-file", type=Path, required=True)
    args = parser.parse_args()
    claim = fulfilment.transition

    def claim_then_pause(*claim_args, **claim_kwargs):
        claimed = claim(*claim_args, **claim_kwargs)
        if claimed and args.pause_file.exists():
            args.pause_file.with_suffix(".reached").touch()
            time.sleep(60)
        return claimed

    fulfilment.transition = claim_then_pause
    app = create_app()  # configured from the environment the test passes
    make_server("127.0.0.1", args.port, app, threaded=True).serve_forever()


if __name__ == "__main__":
    main()
