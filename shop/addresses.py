"""Postal addresses as people and postal services read them."""

from functools import lru_cache

from babel import Locale


@lru_cache(maxsize=1)
def _territories() -> dict[str, str]:
    return dict(Locale.parse("en_GB").territories)


def country_name(code: str | None) -> str | None:
    """``'IE'`` -> ``'Ireland'``; an unknown code is shown as it came."""
    if not code:
        return None
    return _territories().get(code.upper(), code)
