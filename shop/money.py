"""Money is integer pence everywhere; these helpers are the only place it becomes text."""

import re
from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency

CURRENCY = "GBP"
LOCALE = "en_GB"


def format_pence(pence: int, currency: str = CURRENCY) -> str:
    """Format minor units for display: ``850`` -> ``'£8.50'``."""
    if isinstance(pence, bool) or not isinstance(pence, int):
        raise TypeError(f"money must be integer minor units, got {pence!r}")
    return _format(pence, currency.upper())


@lru_cache(maxsize=8192)
def _format(pence: int, currency: str) -> str:
    # Babel's pattern formatting costs tens of microseconds; a page repeats the same few amounts.
    return format_currency(Decimal(pence).scaleb(-2), currency, locale=LOCALE)


def decimal_pounds(pence: int) -> str:
    """Pounds with two decimals and no symbol, as forms, CSV files and schema.org want them:
    ``850`` -> ``'8.50'``, ``-125`` -> ``'-1.25'``."""
    if isinstance(pence, bool) or not isinstance(pence, int):
        raise TypeError(f"money must be integer minor units, got {pence!r}")
    sign = "-" if pence < 0 else ""
    return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"


class InvalidAmount(ValueError):
    """An amount typed by a person that is not pounds and pence; the message says why."""


_AMOUNT = re.compile(r"^(\d{1,7})(?:\.(\d{1,2}))?$")


def parse_pounds(text: str) -> int:
    """``'8.50'`` -> ``850`` pence. Accepts ``8``, ``8.5``, ``8.50`` and a leading ``£``;
    refuses anything else (``8,50``, ``-1``, ``8.505``, ``abc``) with a message, never guesses."""
    raw = (text or "").strip()
    candidate = raw[1:].strip() if raw.startswith("£") else raw
    match = _AMOUNT.match(candidate)
    shown = raw if len(raw) <= 20 else raw[:20] + "…"
    if not raw:
        raise InvalidAmount("Enter an amount in pounds and pence, such as 8.50.")
    if raw.startswith("-"):
        raise InvalidAmount(f"'{shown}' is negative: enter an amount above zero.")
    if "," in candidate and match is None:
        raise InvalidAmount(f"'{shown}' uses a comma: write pounds and pence with a point, such as 8.50.")
    if match is None:
        raise InvalidAmount(f"'{shown}' is not an amount in pounds and pence, such as 8.50.")
    pounds, pence = match.group(1), (match.group(2) or "0").ljust(2, "0")
    return int(pounds) * 100 + int(pence)
