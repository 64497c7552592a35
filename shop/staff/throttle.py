"""Password attempts, counted before the password is checked.

An attempt takes one from every counter that applies to it, each an atomic increment in the
rate limiter's storage (RATELIMIT_STORAGE_URI: Redis, shared by every worker and server, in
production), *before* the password is checked. If any counter is spent, the attempt is refused
unchecked and gives back what it took; an attempt whose password was right gives back what it
took too, so only failures count. So however many attempts arrive at once, at most a counter's
limit of passwords are checked and found wrong per window. The counters are fixed windows
(limits' FixedWindowRateLimiter), where giving back is a decrement.

Sign-in uses three counters for a browser it does not know, and one for a browser it does:

- per client address, any account (STAFF_LOGIN_LIMIT_PER_ADDRESS);
- per account and client address (STAFF_LOGIN_LIMIT_PER_ACCOUNT): guesses from one place hold
  back only that place, never the owner elsewhere;
- per account, browsers it does not know, all addresses together
  (STAFF_LOGIN_LIMIT_UNKNOWN_BROWSERS): a guesser with many addresses is stopped too;
- a browser that has signed in to the account before carries a signed cookie saying so
  (OWASP's "device cookie"), and is counted only per account and that browser
  (STAFF_LOGIN_LIMIT_PER_ACCOUNT). Guesses from elsewhere never lock the owner's browser out;
  a stranger's browser, the owner on a new one included, waits out the window.
"""

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import RateLimitItem, parse
from limits.strategies import FixedWindowRateLimiter

from shop.extensions import limiter

DEVICE_SALT = "staff-known-browser"


@dataclass(frozen=True)
class Counter:
    limit: str  # "5 per 10 minutes"
    key: str
    refusal: str  # what a refused attempt is told


@dataclass
class Attempt:
    """One password attempt against ``counters``: ``begin()`` before checking the password,
    ``succeeded()`` after a right one."""

    counters: Sequence[Counter]
    _taken: list[tuple[RateLimitItem, str]] = field(default_factory=list)
    retry_after: int = 0

    def _strategy(self) -> FixedWindowRateLimiter:
        return FixedWindowRateLimiter(limiter.storage)

    def begin(self) -> Counter | None:
        """Take one from each counter; the counter that refused (and nothing taken), or None."""
        strategy = self._strategy()
        for counter in self.counters:
            item = parse(counter.limit)
            allowed = strategy.hit(item, counter.key)
            self._taken.append((item, counter.key))
            if not allowed:
                reset = strategy.get_window_stats(item, counter.key).reset_time
                self.retry_after = max(int(reset - time.time()) + 1, 1)
                self._give_back()
                return counter
        return None

    def succeeded(self) -> None:
        """The password was right: this attempt counts against nothing."""
        self._give_back()

    def _give_back(self) -> None:
        storage = limiter.storage
        for item, key in self._taken:
            storage.incr(item.key_for(key), item.get_expiry(), amount=-1)
        self._taken.clear()


# --- the browsers an account has signed in from ------------------------------------------------

def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=DEVICE_SALT)


def known_browser_token(email: str) -> str:
    """The cookie value for a browser that has just signed in to ``email``'s account."""
    return _devices().dumps({"email": email, "browser": secrets.token_urlsafe(12)})


def known_browser(cookie: str | None, email: str) -> str | None:
    """This browser's id if its cookie says it has signed in to ``email``'s account before
    (signed by us, for that account, not older than STAFF_KNOWN_BROWSER_DAYS); else None."""
    if not cookie or len(cookie) > 300:
        return None
    try:
        value = _devices().loads(cookie, max_age=current_app.config["STAFF_KNOWN_BROWSER_DAYS"] * 86400)
    except BadSignature:
        return None
    if not isinstance(value, dict) or value.get("email") != email or not isinstance(value.get("browser"), str):
        return None
    return value["browser"]


FROM_ADDRESS = "Too many sign-in attempts from this address. Please wait and try again."
FOR_ACCOUNT = "Too many sign-in attempts for this account. Please wait and try again."
FOR_ACCOUNT_ELSEWHERE = (
    "Too many sign-in attempts for this account from browsers it has not been used in. "
    "Please wait and try again, or sign in from a browser you have signed in from before."
)


def sign_in_counters(email: str, address: str, browser: str | None) -> list[Counter]:
    """The counters a sign-in to ``email`` from ``address`` takes from; ``browser`` is the known
    browser's id (``known_browser``), or None."""
    config = current_app.config
    if browser is not None:
        return [Counter(config["STAFF_LOGIN_LIMIT_PER_ACCOUNT"], f"staff-login/{email}/browser/{browser}", FOR_ACCOUNT)]
    return [
        Counter(config["STAFF_LOGIN_LIMIT_PER_ADDRESS"], f"staff-login/address/{address}", FROM_ADDRESS),
        Counter(config["STAFF_LOGIN_LIMIT_PER_ACCOUNT"], f"staff-login/{email}/address/{address}", FOR_ACCOUNT),
        Counter(config["STAFF_LOGIN_LIMIT_UNKNOWN_BROWSERS"], f"staff-login/{email}/unknown", FOR_ACCOUNT_ELSEWHERE),
    ]


WRONG_CODES = "Too many wrong codes for this account. Please wait and sign in again."


def second_factor_counters(user_id: int) -> list[Counter]:
    """The counters a second-factor code (or recovery code) for account ``user_id`` takes
    from: per account, whatever the session or address (the password is known by then, so a
    new session must not mean new guesses)."""
    config = current_app.config
    return [
        Counter(config["STAFF_2FA_LIMIT"], f"staff-2fa/{user_id}", WRONG_CODES),
        Counter(config["STAFF_2FA_LIMIT_PER_DAY"], f"staff-2fa-day/{user_id}", WRONG_CODES),
    ]
