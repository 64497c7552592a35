"""Two app servers, one PostgreSQL and one Redis: a customer's basket, a staff session and the
sign-in rate limit work whichever server a request lands on."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ISBN, STAFF_EMAIL, STAFF_PASSWORD, STRIPE_KEY, WEBHOOK_SECRET
from tests.support import form_token

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgresql")
# .ci/run sets SHOP_REQUIRE_SERVICES on its PostgreSQL run, so these can never be skipped there.
if os.environ.get("SHOP_REQUIRE_SERVICES") and ON_POSTGRES and not _redis_available():
    raise RuntimeError(f"Redis is required for the scale-out tests and is not answering at {REDIS_URL}")
pytestmark = [
    pytest.mark.skipif(
        not ON_POSTGRES, reason="needs PostgreSQL: set DATABASE_URL=postgresql+psycopg://... (.ci/run does)"
    ),
    pytest.mark.skipif(not _redis_available(), reason=f"needs Redis at {REDIS_URL}"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def servers(database_url, stripe_server):
    """Two gunicorn instances on two ports, started once for the module."""
    env = {
        **os.environ,
        "SHOP_ENV": "development",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "shared-between-servers",
        "STRIPE_SECRET_KEY": STRIPE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_server.url,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
    }
    servers, urls = [], []
    for _ in range(2):
        port = _free_port()
        servers.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        urls.append(f"http://127.0.0.1:{port}")
    deadline = time.time() + 30
    for url in urls:
        while True:
            try:
                requests.get(url + "/healthz", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                assert time.time() < deadline, "gunicorn did not start"
                time.sleep(0.2)
    yield urls
    for server in servers:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def two_servers(servers, app, publication, staff_user):
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    return servers


def _token(browser, url) -> str:
    return form_token(browser.get(url).text)


def test_the_basket_follows_the_customer_across_servers(two_servers):
    a, b = two_servers
    browser = requests.Session()
    browser.post(f"{a}/basket/add", data={"isbn": ISBN, "quantity": "2"})
    token = _token(browser, f"{a}/basket")
    page = browser.get(f"{b}/basket").text
    assert "£17.00" in page
    # A form rendered by one server is accepted by the other.
    browser.post(f"{b}/basket/update", data={"csrf_token": token, "isbn": ISBN, "quantity": "3"})
    assert "£25.50" in browser.get(f"{a}/basket").text


def test_a_staff_session_works_on_either_server(two_servers):
    a, b = two_servers
    browser = requests.Session()
    token = _token(browser, f"{a}/staff/login")
    signed_in = browser.post(f"{a}/staff/login", data={"csrf_token": token, "email": STAFF_EMAIL, "password": STAFF_PASSWORD}, allow_redirects=False)
    assert signed_in.status_code == 303
    response = browser.get(f"{b}/staff/orders", allow_redirects=False)
    assert response.status_code == 200 and "Orders" in response.text


def test_the_sign_in_limit_is_shared_through_redis(two_servers):
    a, b = two_servers
    codes = []
    for attempt in range(6):
        server = (a, b)[attempt % 2]
        browser = requests.Session()
        token = _token(browser, f"{server}/staff/login")
        codes.append(browser.post(f"{server}/staff/login", data={"csrf_token": token, "email": STAFF_EMAIL, "password": f"wrong {attempt}"}).status_code)
    assert codes == [401] * 5 + [429]
