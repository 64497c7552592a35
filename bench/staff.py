"""A staff account for the desk pages, made the documented way:
``flask --app wsgi staff create EMAIL --role admin --password-stdin``."""

import subprocess

from bench.servers import base_env
from bench.settings import ROOT, STAFF_EMAIL, STAFF_PASSWORD, VENV_BIN


def create_staff(database_url: str) -> None:
    env = base_env()
    env.update(DATABASE_URL=database_url, SHOP_ENV="development")
    done = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", "staff", "create", STAFF_EMAIL, "--role", "admin", "--password-stdin"],
        cwd=ROOT, env=env, input=STAFF_PASSWORD + "\n", capture_output=True, text=True, timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"staff create failed: {done.stdout}{done.stderr}")
