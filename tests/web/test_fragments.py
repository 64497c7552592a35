"""Kept rows (shop.web.fragments): a row's HTML is kept per tuple of the values it shows, so a
kept row is what a fresh render would write, and a change to anything shown is a new row."""

import re

import pytest
from jinja2 import Template

from shop.web import fragments
from tests.conftest import make_order


@pytest.fixture
def row_renders(monkeypatch):
    """How many rows of the order list each call of its row template rendered."""
    calls: list[int] = []
    render = Template.render

    def counted(self, *args, **kwargs):
        if self.name == "staff/orders/_rows.html":
            calls.append(len(kwargs["items"]))
        return render(self, *args, **kwargs)

    monkeypatch.setattr(Template, "render", counted)
    return calls


def rows_of(page: str) -> list[str]:
    return re.findall(r"<tr>\s*<td class=\"tick\">.*?</tr>", page, re.S)


def test_a_kept_row_is_what_a_fresh_render_writes(app, staff_client, db, row_renders):
    for n in range(3):
        make_order(name=f"Customer {n}", email=f"c{n}@example.org")
    first = staff_client.get("/staff/orders").get_data(as_text=True)
    again = staff_client.get("/staff/orders").get_data(as_text=True)
    assert row_renders == [3]  # the second page rendered no row
    assert len(rows_of(first)) == 3 and rows_of(again) == rows_of(first)
    app.extensions[fragments.EXTENSION] = None  # as with FRAGMENT_CACHE_SIZE=0
    fresh = staff_client.get("/staff/orders").get_data(as_text=True)
    assert rows_of(fresh) == rows_of(first)
    assert "<!--row-end-->" not in first


def test_only_the_rows_not_kept_are_rendered_in_the_lists_order(staff_client, db, row_renders):
    old = make_order(name="Old Customer")
    staff_client.get("/staff/orders")
    new = make_order(name="New Customer")
    page = staff_client.get("/staff/orders").get_data(as_text=True)
    assert row_renders == [1, 1]
    assert [re.search(r'value="([A-Z0-9-]+)"', row)[1] for row in rows_of(page)] == [new.reference, old.reference]


def test_a_change_to_anything_shown_is_a_new_row(staff_client, db):
    order = make_order(name="Rita Reader")
    assert "Rita Reader" in staff_client.get("/staff/orders").get_data(as_text=True)
    order.customer_name = "Rita Renamed"
    order.amount_mismatch = True
    db.session.commit()
    page = staff_client.get("/staff/orders").get_data(as_text=True)
    assert "Rita Renamed" in page and "Rita Reader" not in page and "Amount mismatch" in page
    ticked = staff_client.get("/staff/orders?tick=page").get_data(as_text=True)
    assert f'value="{order.reference}" id="tick-{order.reference}" checked' in ticked
    assert f'id="tick-{order.reference}" checked' not in staff_client.get("/staff/orders").get_data(as_text=True)


def test_kept_rows_stay_escaped_and_cannot_forge_a_row_end(staff_client, db):
    make_order(name="<script>alert(1)</script><!--row-end--><tr>", email="x@example.org")
    make_order(name="Plain Name")
    for _ in range(2):  # rendered, then kept
        page = staff_client.get("/staff/orders").get_data(as_text=True)
        assert "<script>alert(1)" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--row-end--&gt;&lt;tr&gt;" in page
        assert len(rows_of(page)) == 2


def test_the_cache_is_bounded(app, staff_client, db):
    app.extensions[fragments.EXTENSION].limit = 2
    for n in range(5):
        make_order(name=f"Customer {n}")
    page = staff_client.get("/staff/orders").get_data(as_text=True)
    assert len(rows_of(page)) == 5
    assert len(app.extensions[fragments.EXTENSION]) == 2
