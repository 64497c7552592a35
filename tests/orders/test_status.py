"""The status table and ``transition``, the one writer of ``Order.status``: every pair of statuses
is tried; allowed moves happen exactly once even when raced, every other move is refused."""

import ast
import itertools
import pathlib

import pytest
from sqlalchemy import func, select, text
from sqlalchemy import update as sa_update

from shop.extensions import db as _db
from shop.orders.models import Order, OrderEvent
from shop.orders.status import ALLOWED, REQUIRES, InvalidTransition, sources, transition
from tests import status_guard
from tests.conftest import make_order
from tests.support import race

STATUSES = sorted(ALLOWED)
PAIRS = list(itertools.product(STATUSES, STATUSES))
ROOT = pathlib.Path(__file__).resolve().parents[2]


def _events(order_id: int, kind: str) -> int:
    return _db.session.scalar(
        select(func.count()).select_from(OrderEvent).filter_by(order_id=order_id, kind=kind)
    )


def _order_in(status: str, after: str, meeting_requirement: bool = True) -> Order:
    """An order in ``status``, with the fact a move to ``after`` requires set as it requires
    (or, with ``meeting_requirement=False``, the other way)."""
    order = make_order(status=status)
    column, must_be_set = REQUIRES.get((status, after), ("dispatched_at", order.dispatched_at is not None))
    if must_be_set == meeting_requirement:
        setattr(order, column, order.created_at)
    else:
        setattr(order, column, None)
    _db.session.commit()
    return order


@pytest.mark.parametrize("before, after", [p for p in PAIRS if p[1] in ALLOWED[p[0]]])
def test_an_allowed_move_happens_once_when_two_race_for_it(app, db, before, after):
    order_id = _order_in(before, after).id

    def move(_index: int):
        with app.app_context():
            order = _db.session.get(Order, order_id)
            left = transition(order, after, actor=f"racer {_index}")
            _db.session.commit()
            return left

    results = race(2, move)
    # One moves it; the other finds it moved (None) or, if it read the order after the first
    # had committed, asks for a move the table forbids.
    assert sorted(r for r in results if isinstance(r, str)) == [before], results
    assert all(r is None or isinstance(r, InvalidTransition) for r in results if not isinstance(r, str))
    db.session.expire_all()
    order = db.session.get(Order, order_id)
    assert order.status == after
    assert _events(order_id, after) == 1
    [event] = [e for e in order.events if e.kind == after]
    assert event.detail["before"] == {"status": before} and event.detail["after"] == {"status": after}


REFUSED = [(b, a, True) for b, a in PAIRS if a not in ALLOWED[b]] + [
    (b, a, False) for b, a in REQUIRES  # allowed by the table, but not without the fact
]


@pytest.mark.parametrize("before, after, meeting_requirement", REFUSED)
def test_every_other_move_is_refused_and_changes_nothing(db, before, after, meeting_requirement):
    order = _order_in(before, after, meeting_requirement)
    with pytest.raises(InvalidTransition):
        transition(order, after, actor="someone")
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == before
    assert _events(order.id, after) == 0


def test_a_move_someone_else_already_made_reports_that_it_did_not_move(db):
    """Seen as paid here, refunded meanwhile by another process: dispatching finds it gone."""
    order = make_order(status="paid")
    assert order.status == "paid"  # what this caller sees, and keeps seeing…
    with status_guard.behind_the_back():
        db.session.execute(Order.__table__.update().values(status="refunded"))  # …behind its back
    # Refunded may become dispatched only if it had been dispatched; this one never was.
    assert transition(order, "dispatched", actor="late") is None
    assert order.status == "refunded" and order.dispatched_at is None


def test_an_unknown_status_is_a_programming_error(db):
    order = make_order(status="paid")
    with pytest.raises(ValueError):
        transition(order, "lost_in_the_post", actor="someone")


def test_sources_is_the_table_read_backwards():
    for status in STATUSES:
        assert sources(status) == {before for before in STATUSES if status in ALLOWED[before]}


# Other things called "status" that other modules may write: a refund's (as Stripe reports
# it) and a moderation form's choice. An order's status is never among them.
OTHER_STATUSES = {("shop/orders/refunds.py", "row"), ("shop/staff/comments/forms.py", "self")}


def test_nothing_but_transition_writes_the_status():
    """No module of the shop but orders/status.py assigns anything's ``.status`` (besides the
    few other statuses listed above) or passes ``status=`` to an UPDATE's ``values()``: new code
    that tries is caught here, whatever it calls the order."""
    offenders = []
    for path in (ROOT / "shop").rglob("*.py"):
        where = path.relative_to(ROOT).as_posix()
        if where == "shop/orders/status.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Attribute) and target.attr == "status":
                        owner = target.value.id if isinstance(target.value, ast.Name) else "?"
                        if (where, owner) not in OTHER_STATUSES:
                            offenders.append(f"{where}:{node.lineno}")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "values" and any(k.arg == "status" for k in node.keywords)):
                offenders.append(f"{where}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("write", ["orm attribute", "setattr", "values by column", "values by name",
                                   "table update", "raw sql"])
def test_every_other_way_of_writing_the_status_is_caught_at_run_time(db, write):
    """The source check above cannot see these; tests/status_guard.py sees their SQL, in every
    test (conftest fails a test that sent one, even if the error was swallowed)."""
    order = make_order(status="paid")
    writes = {
        "orm attribute": lambda: (order.__setattr__("status", "dispatched"), db.session.flush()),
        "setattr": lambda: (setattr(order, "status", "dispatched"), db.session.flush()),
        "values by column": lambda: db.session.execute(
            sa_update(Order).where(Order.id == order.id).values({Order.status: "dispatched"})),
        "values by name": lambda: db.session.execute(
            sa_update(Order).where(Order.id == order.id).values({"status": "dispatched"})),
        "table update": lambda: db.session.execute(Order.__table__.update().values(status="dispatched")),
        "raw sql": lambda: db.session.execute(text("UPDATE shop_order SET status = 'dispatched'")),
    }
    with pytest.raises(status_guard.StatusWrittenOutsideTransition):
        writes[write]()
    assert len(status_guard.offences) == 1
    status_guard.offences.clear()  # seen: this test's own write is the one expected
    db.session.rollback()


def test_the_guard_lets_transition_and_other_columns_through(db):
    order = make_order(status="paid")
    db.session.execute(sa_update(Order).where(Order.id == order.id).values(ship_name="A. Reader"))
    assert transition(order, "dispatched", actor="desk") == "paid"
    assert status_guard.offences == []
    assert not status_guard.writes_status("UPDATE shop_order SET payment_status=? WHERE id = ?")
    assert not status_guard.writes_status("UPDATE shop_order SET ship_name=? WHERE status = ?")
    assert status_guard.writes_status('UPDATE "shop_order" SET updated_at=%(u)s, status=%(s)s WHERE id = 1')
