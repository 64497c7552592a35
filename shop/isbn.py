"""ISBN parsing and display, done by python-stdnum's registration-group ranges."""

from functools import lru_cache

from stdnum import isbn as stdnum_isbn
from stdnum.exceptions import InvalidChecksum, ValidationError

from shop.errors import InvalidISBN


def normalise(raw: str) -> str:
    """Return the 13 digits of an ISBN-10 or ISBN-13 written in any spacing or hyphenation.

    Raises ``InvalidISBN`` with a message that says what is wrong.
    """
    text = (raw or "").strip()
    shown = text if len(text) <= 40 else text[:40] + "…"
    try:
        return _validated(text)
    except InvalidChecksum:
        raise InvalidISBN(f"'{shown}' is not an ISBN: its check digit is wrong.") from None
    except ValidationError:
        raise InvalidISBN(f"'{shown}' is not an ISBN.") from None


@lru_cache(maxsize=65536)
def _validated(text: str) -> str:
    # Every publication page validates its ISBN; a refused one raises and is not cached.
    return stdnum_isbn.validate(text, convert=True)


@lru_cache(maxsize=65536)
def hyphenate(isbn13: str) -> str:
    """``'9781857176407'`` -> ``'978-1-85717-640-7'``."""
    return stdnum_isbn.format(isbn13)
