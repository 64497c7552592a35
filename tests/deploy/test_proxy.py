"""deploy/: nginx (deploy/nginx/shop.conf, with TLS) in front of gunicorn (deploy/gunicorn.conf.py)
on loopback, as in production. Eight slow clients stall gunicorn on its own; behind nginx they
do not. The client's address and HTTPS reach the app through TRUSTED_PROXY_HOPS=1, and an
X-Forwarded-For the client forges does not.

Needs Debian's nginx and openssl; skipped without them unless SHOP_REQUIRE_NGINX is set (.ci/run
sets it, after installing nginx-light)."""

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.conftest import STAFF_EMAIL, STRIPE_KEY, WEBHOOK_SECRET
from tests.support import form_token

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
OPENSSL = shutil.which("openssl")
CLIENT_ADDRESS = "127.0.0.2"  # the client's own loopback address; nginx talks to gunicorn from 127.0.0.1
SLOW_CLIENTS = 8

if os.environ.get("SHOP_REQUIRE_NGINX") and not (NGINX and OPENSSL):
    raise RuntimeError("nginx and openssl are required for tests/deploy (apt-get install nginx-light openssl)")
pytestmark = [
    pytest.mark.waits,  # on nginx and gunicorn
    pytest.mark.skipif(not (NGINX and OPENSSL), reason="needs nginx and openssl (apt-get install nginx-light)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, **kwargs) -> None:
    deadline = time.time() + 30
    while True:
        try:
            requests.get(url, timeout=1, **kwargs).raise_for_status()
            return
        except requests.RequestException:
            assert time.time() < deadline, f"{url} did not come up"
            time.sleep(0.2)


def _substitute(text: str, old: str, new: str) -> str:
    assert old in text, f"deploy/nginx/shop.conf no longer has {old!r}: update this test with it"
    return text.replace(old, new)


def site_config(https_port: int, http_port: int, app_port: int, cert: Path, key: Path) -> str:
    """deploy/nginx/shop.conf with only what a test on loopback must change: ports, addresses,
    certificate paths and where the shop is checked out. Everything else is as deployed."""
    text = (DEPLOY / "nginx" / "shop.conf").read_text()
    text = _substitute(text, "server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
    text = _substitute(text, "    listen [::]:80;\n", "")
    text = _substitute(text, "    listen [::]:443 ssl http2;\n", "")
    text = _substitute(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
    text = _substitute(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    text = _substitute(text, "/etc/letsencrypt/live/shop.example.org/fullchain.pem", str(cert))
    text = _substitute(text, "/etc/letsencrypt/live/shop.example.org/privkey.pem", str(key))
    return _substitute(text, "/srv/shop/", f"{ROOT}/")


def main_config(folder: Path, site: Path) -> str:
    """What /etc/nginx/nginx.conf provides, pointed at a temporary folder, in the foreground."""
    user = "user root root;" if os.geteuid() == 0 else ""  # workers must reach the temporary folder
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
{user}
daemon off;
worker_processes 1;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'} warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
{temp}
    include {site};
}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory, database_url, stripe_server):
    """gunicorn (deploy/gunicorn.conf.py, one worker of four threads) and nginx in front of it."""
    folder = tmp_path_factory.mktemp("nginx")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    app_port, https_port, http_port = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ, "SHOP_ENV": "development", "DATABASE_URL": database_url,
        "SECRET_KEY": "deploy-test-secret", "STRIPE_SECRET_KEY": STRIPE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_BASE": stripe_server.url,
        "TRUSTED_PROXY_HOPS": "1", "GUNICORN_BIND": f"127.0.0.1:{app_port}",
        "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4",
    }
    env.pop("GUNICORN_CMD_ARGS", None)
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py"), "--access-logfile", "/dev/null",
         "tests.deploy.whoami_app:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    site = folder / "shop.conf"
    site.write_text(site_config(https_port, http_port, app_port, cert, key))
    conf = folder / "nginx.conf"
    conf.write_text(main_config(folder, site))
    nginx = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(f"http://127.0.0.1:{app_port}/healthz")
        _wait_for(f"https://127.0.0.1:{https_port}/healthz", verify=str(cert))
        yield {"app": f"http://127.0.0.1:{app_port}", "proxy": f"https://127.0.0.1:{https_port}",
               "http": f"http://127.0.0.1:{http_port}", "cert": str(cert), "https_port": https_port,
               "app_port": app_port}
    finally:
        nginx.terminate()
        gunicorn.terminate()
        nginx.wait(timeout=10)
        gunicorn.wait(timeout=30)


class FromAddress(HTTPAdapter):
    """Connections from a chosen local address (a second loopback address stands for a client)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client(stack) -> requests.Session:
    browser = requests.Session()
    browser.trust_env = False  # else REQUESTS_CA_BUNDLE would override verify
    browser.mount("https://", FromAddress(CLIENT_ADDRESS))
    browser.verify = stack["cert"]
    return browser


def slow_clients(port: int, count: int, tls_cert: str | None, stop: threading.Event) -> list[threading.Thread]:
    """``count`` clients that send a request a byte every 0.2 s (half of them a header, half a
    POST body), from their own sockets, until ``stop``."""
    def run(index: int) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            if tls_cert:
                context = ssl.create_default_context(cafile=tls_cert)
                sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
            if index % 2:
                request = b"GET /healthz HTTP/1.1\r\nHost: shop\r\nX-Slow: " + b"s" * 300 + b"\r\n\r\n"
            else:
                sock.sendall(b"POST /basket/add HTTP/1.1\r\nHost: shop\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 300\r\n\r\n")
                request = b"x" * 300
            for byte in request:
                if stop.is_set():
                    break
                sock.sendall(bytes([byte]))
                time.sleep(0.2)
            sock.close()
        except OSError:
            pass

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    return threads


def time_healthz(url: str, **kwargs) -> float | None:
    """Seconds /healthz took to answer 200, or None if it did not answer within 3 s."""
    started = time.perf_counter()
    try:
        response = requests.get(url + "/healthz", timeout=3, **kwargs)
    except requests.RequestException:
        return None
    return time.perf_counter() - started if response.status_code == 200 else None


def test_slow_clients_stall_gunicorn_alone_but_not_behind_nginx(stack):
    stop = threading.Event()
    threads = slow_clients(stack["app_port"], SLOW_CLIENTS, None, stop)
    time.sleep(1)
    direct = time_healthz(stack["app"])
    stop.set()
    for thread in threads:
        thread.join(10)
    assert direct is None, f"gunicorn answered in {direct:.2f} s: the control shows no stall"
    _wait_for(stack["app"] + "/healthz")  # its threads are free again

    stop = threading.Event()
    threads = slow_clients(stack["https_port"], SLOW_CLIENTS * 2, stack["cert"], stop)
    time.sleep(1)
    proxied = [time_healthz(stack["proxy"], verify=stack["cert"]) for _ in range(5)]
    stop.set()
    for thread in threads:
        thread.join(10)
    assert all(seconds is not None and seconds < 1 for seconds in proxied), proxied


def test_the_client_address_and_https_reach_the_app_and_a_forged_address_does_not(stack):
    browser = client(stack)
    seen = browser.get(stack["proxy"] + "/_deploy_test/whoami", headers={"X-Forwarded-For": "6.6.6.6"}).json()
    assert seen["remote_addr"] == CLIENT_ADDRESS
    assert seen["scheme"] == "https" and seen["is_secure"] is True
    forged = browser.get(stack["proxy"] + "/_deploy_test/whoami", headers={
        "X-Forwarded-For": "6.6.6.6, 7.7.7.7", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example",
    }).json()
    assert (forged["remote_addr"], forged["scheme"]) == (CLIENT_ADDRESS, "https")
    assert "evil.example" not in forged["host"]
    # Straight to gunicorn (what nginx does): one hop trusted, so its header is believed...
    direct = requests.get(stack["app"] + "/_deploy_test/whoami", headers={"X-Forwarded-For": "192.0.2.5"}).json()
    assert direct["remote_addr"] == "192.0.2.5"  # ...which is why gunicorn listens on loopback only


def test_sign_in_limits_count_the_real_address_whatever_the_client_claims(stack, staff_user, db):
    from shop.staff.models import StaffSession

    codes = []
    for n in range(6):
        browser = client(stack)
        page = browser.get(stack["proxy"] + "/staff/login").text
        token = form_token(page)
        response = browser.post(
            stack["proxy"] + "/staff/login", allow_redirects=False,
            data={"csrf_token": token, "email": STAFF_EMAIL, "password": f"wrong {n}"},
            headers={"X-Forwarded-For": f"203.0.113.{n}", "Referer": stack["proxy"] + "/staff/login"},
        )
        codes.append(response.status_code)
    assert codes == [401] * 5 + [429]  # a new forged address each time changed nothing

    from tests.conftest import STAFF_PASSWORD

    browser = requests.Session()  # from 127.0.0.1 this time: another address, not held back
    browser.trust_env = False
    browser.verify = stack["cert"]
    page = browser.get(stack["proxy"] + "/staff/login").text
    token = form_token(page)
    signed_in = browser.post(stack["proxy"] + "/staff/login", allow_redirects=False,
                             data={"csrf_token": token, "email": STAFF_EMAIL, "password": STAFF_PASSWORD},
                             headers={"Referer": stack["proxy"] + "/staff/login"})
    assert signed_in.status_code == 303
    db.session.expire_all()
    [record] = db.session.scalars(db.select(StaffSession)).all()
    assert record.ip_address == "127.0.0.1"


def test_the_body_limit_matches_the_app_and_plain_http_is_sent_to_https(stack, app):
    config = (DEPLOY / "nginx" / "shop.conf").read_text()
    megabytes = int(re.search(r"client_max_body_size (\d+)m;", config).group(1))
    assert megabytes * 1024 * 1024 == app.config["MAX_CONTENT_LENGTH"]
    too_big = requests.post(stack["proxy"] + "/basket/add", data=b"x" * (megabytes * 1024 * 1024 + 1),
                            verify=stack["cert"], headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert too_big.status_code == 413
    redirect = requests.get(stack["http"] + "/basket", allow_redirects=False)
    assert redirect.status_code == 301 and redirect.headers["Location"].startswith("https://")
