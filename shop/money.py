"""Money is integer pence everywhere; these helpers are the only place it becomes text."""

from decimal import Decimal

from babel.numbers import format_currency

CURRENCY = "GBP"
LOCALE = "en_GB"


def format_pence(pence: int, currency: str = CURRENCY) -> str:
    """Format minor units for display: ``850`` -> ``'£8.50'``."""
    if isinstance(pence, bool) or not isinstance(pence, int):
        raise TypeError(f"money must be integer minor units, got {pence!r}")
    return format_currency(Decimal(pence).scaleb(-2), currency.upper(), locale=LOCALE)
