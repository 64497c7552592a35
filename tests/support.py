"""Helpers shared by the test suite, the benchmarks (``bench/``) and the load test
(``loadtest/``), written once: test ISBNs, the CSRF token a page carries, and a race harness that
starts many callers at the same instant."""

import re
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Flask-WTF renders the token either way round, depending on the field's other attributes.
CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def with_check_digit(body: str) -> str:
    """The ISBN-13 whose first twelve digits are ``body``."""
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def isbn13(n: int) -> str:
    """The n-th valid ISBN-13 in the 978-0 range (check digit computed), for bulk test data."""
    return with_check_digit(f"9780{n:08d}")


def form_token(page: str) -> str:
    """The CSRF token of the first form on ``page``; fails the test when there is none."""
    token = csrf_token(page)
    assert token is not None, "the page has no form with a CSRF token"
    return token


def csrf_token(page: str) -> str | None:
    """The CSRF token of the first form on ``page`` (HTML), or None when it has none."""
    match = CSRF_RE.search(page)
    return (match.group(1) or match.group(2)) if match else None


def race(count: int, action: Callable[[int], T], timeout: float = 60) -> list[T | BaseException]:
    """Run ``action(0) … action(count - 1)`` in ``count`` threads released at the same instant
    (a barrier), and return what each returned or raised, in index order. For webhook
    redeliveries, double clicks and checkouts of the last copy."""
    barrier = threading.Barrier(count)
    results: list[T | BaseException] = [RuntimeError("did not finish")] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = action(index)
        except BaseException as error:  # reported to the caller, which asserts on it
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results
