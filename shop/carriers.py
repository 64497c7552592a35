"""Tracking links from the carrier table in config (``CARRIERS``: name -> address with
``{number}``). Staff type the carrier's name when they dispatch; a name in the table (in any case
or spacing, "royalmail" too) gets a link to that carrier's tracking page, any other a plain
number."""

import re
from urllib.parse import quote

_NOT_LETTERS = re.compile(r"[^a-z0-9]")


def _key(name: str) -> str:
    return _NOT_LETTERS.sub("", name.lower())


def known_carrier(carrier: str | None, carriers: dict[str, str]) -> str | None:
    """The table's own spelling of ``carrier``, or None when it is not in the table."""
    if not carrier:
        return None
    wanted = _key(carrier)
    return next((name for name in carriers if _key(name) == wanted), None)


def tracking_url(carrier: str | None, number: str | None, carriers: dict[str, str]) -> str | None:
    """The carrier's tracking page for ``number``, or None (no number, or a carrier not listed).
    The number is quoted, so nothing a member of staff typed can change where the link goes."""
    name = known_carrier(carrier, carriers)
    number = (number or "").strip()
    if name is None or not number:
        return None
    return carriers[name].replace("{number}", quote(number, safe=""))
