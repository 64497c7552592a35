"""The production entry point (``gunicorn wsgi:app``)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_start_up_objects_are_left_out_of_garbage_collection(tmp_path):
    # A full collection scanned every start-up object while holding the GIL (50-120 ms pauses
    # every few hundred requests; docs/performance.md); frozen, they are never scanned.
    env = {**os.environ, "SHOP_ENV": "development", "DATABASE_URL": f"sqlite:///{tmp_path / 'w.sqlite3'}"}
    frozen = subprocess.run(
        [sys.executable, "-c", "import gc, wsgi; print(gc.get_freeze_count())"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert int(frozen) > 50_000
