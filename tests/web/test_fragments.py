"""Kept rows (shop.web.fragments): a row's HTML is kept per tuple of the values it shows, so a
kept row is what a fresh render would write, and a change to anything shown is a new row."""

import re
from datetime import timedelta

import pytest
from jinja2 import DictLoader, Template, meta

from shop.timeutil import utcnow
from shop.web import fragments
from tests.conftest import make_order
from tests.staff.test_roles import member


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
    now = utcnow()
    oldest = make_order(name="Oldest", created_at=now - timedelta(hours=3))
    newest = make_order(name="Newest", created_at=now - timedelta(hours=1))
    staff_client.get("/staff/orders")
    between = make_order(name="Between", created_at=now - timedelta(hours=2))
    page = staff_client.get("/staff/orders").get_data(as_text=True)
    assert row_renders == [2, 1]  # the second page rendered only the new row, kept rows around it
    references = [re.search(r'value="([A-Z0-9-]+)"', row)[1] for row in rows_of(page)]
    assert references == [newest.reference, between.reference, oldest.reference]
    assert [re.search(r'data-label="Customer">(\w+)', row)[1] for row in rows_of(page)] == ["Newest", "Between", "Oldest"]


def test_the_page_s_own_values_are_part_of_the_key(app, staff_client, db):
    order = make_order()
    assert f'name="ref" value="{order.reference}"' in staff_client.get("/staff/orders").get_data(as_text=True)
    # Finance reads the same list without the batch bar: the same order, without a tick box.
    finance = member(app, ["finance"], "money@example.org").get("/staff/orders").get_data(as_text=True)
    assert order.reference in finance and 'name="ref"' not in finance


def test_the_row_template_reads_only_its_arguments(app):
    # What it may read is in the key; the request, the session or a CSRF token would be shared
    # between staff. (Filters such as localtime and money are fixed for the app's life.)
    source = app.jinja_loader.get_source(app.jinja_env, "staff/orders/_rows.html")[0]
    names = meta.find_undeclared_variables(app.jinja_env.parse(source))
    assert names == {"items", "batches", "tick_all", "order_url_prefix", "row_end"}


def test_a_row_template_that_miscounts_its_rows_is_refused(app, monkeypatch):
    loader = DictLoader({"twice.html": "{% for item in items %}<tr>{{ item }}</tr>{{ row_end }}{{ row_end }}{% endfor %}"})
    monkeypatch.setattr(app.jinja_env, "loader", loader)
    with app.test_request_context(), pytest.raises(RuntimeError, match="wrote 4 row ends for 2 rows"):
        fragments.kept_rows("twice.html", ["a", "b"])
    assert len(app.extensions[fragments.EXTENSION]) == 0


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


def test_nothing_is_kept_while_templates_reload_on_change(app, staff_client, db, monkeypatch):
    monkeypatch.setattr(app.jinja_env, "auto_reload", True)  # debug: an edited row shows at once
    make_order()
    assert len(rows_of(staff_client.get("/staff/orders").get_data(as_text=True))) == 1
    assert len(app.extensions[fragments.EXTENSION]) == 0
