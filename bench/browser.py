"""A browser for setting up the load: uses the shop's forms over HTTP, CSRF tokens included, and
hands out the resulting session cookie for the load generator to replay.

The shop runs with ``SHOP_ENV=production`` and so marks its cookie ``Secure``; over plain HTTP on
loopback a browser would not send it back, so this one clears the flag after each response.
"""

from __future__ import annotations

import requests

from bench.settings import USER_AGENT
from tests.support import csrf_token


class Browser:
    def __init__(self, base_url: str):
        self.base = base_url
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only: never a proxy
        self.session.headers["User-Agent"] = USER_AGENT

    def _after(self, response: requests.Response) -> requests.Response:
        for cookie in self.session.cookies:
            cookie.secure = False
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        return self._after(self.session.get(self.base + path, timeout=60, **kwargs))

    def post(self, path: str, data: dict, **kwargs) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        return self._after(self.session.post(self.base + path, data=data, timeout=60, **kwargs))

    def token(self, path: str) -> str:
        token = csrf_token(self.get(path).text)
        if not token:
            raise RuntimeError(f"no CSRF token on {path}")
        return token

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)

    def cookie_value(self, name: str = "session") -> str:
        return self.session.cookies.get(name)

    def sign_in(self, email: str, password: str) -> None:
        token = self.token("/staff/login")
        response = self.post("/staff/login", {"csrf_token": token, "email": email, "password": password})
        if response.status_code != 303:
            raise RuntimeError(f"staff sign-in failed: {response.status_code}")
