"""At run time, in every test: only ``shop.orders.status.transition`` writes an order's status.

tests/orders/test_status.py reads the source for assignments to ``.status`` and ``values(status=…)``;
that cannot see ``values({Order.status: …})``, ``Order.__table__.update()``, an ORM attribute set
through ``setattr`` or raw SQL. This watches the SQL itself: an ``UPDATE shop_order SET … status =``
sent to any database while no ``transition()`` call is on the stack is recorded (and raised, so the
offending code fails where it stands); conftest fails the test that sent it. Inserting an order
with its first status is not a move and is not watched; nor is a migration rewriting old data
(migrations/versions/, which runs when a test database is made).
"""

import pathlib
import re
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine

from shop.orders import status

# The SET list runs up to WHERE (or the end); a column called exactly "status" in it is the
# order's status (payment_status and the like have a word character before "status").
_STATUS_SET = re.compile(r'^\s*UPDATE\s+"?shop_order"?\s+SET\s+(?:(?!\bWHERE\b).)*?(?<![\w.])"?status"?\s*=',
                         re.IGNORECASE | re.DOTALL)
_TRANSITION = status.transition.__code__
_MIGRATIONS = str(pathlib.Path(__file__).resolve().parents[1] / "migrations" / "versions")

offences: list[str] = []
_local = threading.local()


class StatusWrittenOutsideTransition(AssertionError):
    pass


def writes_status(statement: str) -> bool:
    return _STATUS_SET.match(statement) is not None


def _sent_by_a_writer() -> bool:
    """Whether ``transition()`` or a migration is on this thread's stack."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code is _TRANSITION or frame.f_code.co_filename.startswith(_MIGRATIONS):
            return True
        frame = frame.f_back
    return False


def _check(conn, cursor, statement, parameters, context, executemany) -> None:
    if getattr(_local, "allowed", False) or not writes_status(statement):
        return
    if _sent_by_a_writer():
        return
    where = "".join(traceback.format_stack(limit=12)[:-2])
    offences.append(f"{statement}\n{where}")
    raise StatusWrittenOutsideTransition(f"an order's status written outside transition(): {statement}")


def install() -> None:
    """Watch every engine (each test app makes its own). Idempotent."""
    if not event.contains(Engine, "before_cursor_execute", _check):
        event.listen(Engine, "before_cursor_execute", _check)


@contextmanager
def behind_the_back() -> Iterator[None]:
    """For a test that plays another process moving an order without the shop's rules."""
    _local.allowed = True
    try:
        yield
    finally:
        _local.allowed = False
