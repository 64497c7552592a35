"""Roles: every staff route and action, GET and POST, against every role and none, as
test_auth.py does for signing in; the table is complete and fails closed; pages show only the
links and actions a role may use."""

import re

import pytest

from shop.staff import roles
from shop.staff.accounts.services import create
from shop.timeutil import utcnow
from tests.conftest import STAFF_PASSWORD, csrf_token, make_order, page_token, sign_in

# What each role may use, written out here on purpose (not read from shop.staff.roles): the
# table there must agree with this, so opening refunds to the desk, say, fails a test.
OWN_ACCOUNT = {"staff.logout", "staff.me.show", "staff.me.two_factor", "staff.me.enrol", "staff.me.turn_off",
               "staff.me.recovery_codes"}
DASHBOARD = {"staff.dashboard", "staff.copies_per_day_csv", "staff.copies_by_title_csv"}
READ_ORDERS = {"staff.orders.index", "staff.orders.show", "staff.orders.note", "staff.orders.receipt"}
WAITING = {"staff.orders.waiting_list", "staff.orders.waiting_queue", "staff.orders.allocate",
           "staff.orders.send_new_date"}
EXPECTED = {
    "none": OWN_ACCOUNT,
    "desk": OWN_ACCOUNT | DASHBOARD | READ_ORDERS | WAITING | {
        "staff.orders.batch", "staff.orders.batch_dispatch", "staff.orders.tracking_import",
        "staff.orders.dispatch", "staff.orders.correct_tracking", "staff.orders.packing_slip",
        "staff.orders.resend_email",
    },
    "finance": OWN_ACCOUNT | DASHBOARD | READ_ORDERS | {
        "staff.orders.csv", "staff.orders.acknowledge_mismatch", "staff.orders.refund_start",
        "staff.orders.refund_check", "staff.orders.refund", "staff.orders.cancel_start", "staff.orders.cancel",
        "staff.orders.invoices", "staff.orders.approve_invoice", "staff.orders.decline_invoice",
        "staff.orders.resend_invoice", "staff.orders.void_invoice", "staff.orders.mark_invoice_paid",
    },
    "catalogue": OWN_ACCOUNT | DASHBOARD | WAITING | {
        endpoint for endpoint in roles.ENDPOINT_ROLES if endpoint.startswith(("staff.catalogue.", "staff.comments."))
    },
}
REFUSED = "Not for your role"


def staff_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("staff.")]


def concrete(rule) -> str:
    """A URL for the rule that names nothing that exists (so an allowed POST changes nothing)."""
    return re.sub(r"<int:[^>]+>", "999999", re.sub(r"<(?!int:)[^>]+>", "KF-2026-999999", rule.rule))


def member(app, role_names: list[str], email: str):
    """A signed-in client of a new account with ``role_names``."""
    from shop.extensions import db

    create(email, STAFF_PASSWORD, role_names, 12, None, utcnow())
    db.session.commit()
    client = app.test_client()
    assert sign_in(client, email=email).status_code == 303
    return client


def test_every_staff_endpoint_is_in_the_table_and_the_table_names_only_endpoints(app):
    endpoints = {rule.endpoint for rule in staff_rules(app)}
    undeclared = endpoints - roles.PUBLIC - set(roles.ENDPOINT_ROLES)
    assert not undeclared, f"give these their roles in shop/staff/roles.py: {sorted(undeclared)}"
    assert not (set(roles.ENDPOINT_ROLES) | roles.PUBLIC) - endpoints, "the table names endpoints that are gone"
    assert not roles.PUBLIC & set(roles.ENDPOINT_ROLES)
    assert set(roles.ENDPOINT_ROLES) >= roles.SECOND_STEP
    for needed in roles.ENDPOINT_ROLES.values():
        assert needed <= set(roles.ROLES)


def test_the_expected_matrix_matches_the_table(app):
    endpoints = set(roles.ENDPOINT_ROLES)
    for name, expected in EXPECTED.items():
        held = [] if name == "none" else [name]
        assert {e for e in endpoints if roles.allows(held, e)} == expected, name
    assert all(roles.allows(["admin"], e) for e in endpoints)
    # Several roles open what each opens.
    both = {e for e in endpoints if roles.allows(["desk", "finance"], e)}
    assert both == EXPECTED["desk"] | EXPECTED["finance"]


def test_the_database_knows_the_same_roles():
    from shop.staff.models import StaffRole

    [check] = [c for c in StaffRole.__table__.constraints if c.name and "known_role" in str(c.name)]
    assert set(re.findall(r"'([a-z]+)'", str(check.sqltext))) == set(roles.ROLES)


@pytest.mark.parametrize("name", ["none", "desk", "finance", "catalogue", "admin"])
def test_every_route_and_action_against_each_role(app, db, publication, name):
    """GET and POST (with a valid CSRF token) every staff URL as a member of staff with one role
    (or none): what the role may use is never refused; everything else is a 403 that says
    which role it needs."""
    client = member(app, [] if name == "none" else [name], f"{name}@example.org")
    token = page_token(client, "/staff/me")
    rules = sorted(staff_rules(app), key=lambda rule: rule.endpoint == "staff.logout")  # sign out last
    checked = 0
    for rule in rules:
        if rule.endpoint in roles.PUBLIC:
            continue
        url = concrete(rule)
        allowed = name == "admin" or rule.endpoint in EXPECTED[name]
        for method in ("GET", "POST"):
            if method not in rule.methods:
                continue
            if method == "GET":
                response = client.get(url)
            else:
                response = client.post(url, data={"csrf_token": token})
            body = response.get_data(as_text=True)
            if allowed:
                assert response.status_code != 403 and REFUSED not in body, (name, method, url)
            else:
                assert response.status_code == 403, (name, method, url, response.status_code)
                assert REFUSED in body and "KF-2026" not in body, (name, method, url)
                needed = roles.needed_for(rule.endpoint)
                assert needed and roles.describe(needed) in body
            checked += 1
    assert checked >= 55


def test_an_undeclared_endpoint_is_refused_even_to_an_admin(monkeypatch, staff_client):
    assert staff_client.get("/staff/orders").status_code == 200
    monkeypatch.delitem(roles.ENDPOINT_ROLES, "staff.orders.index")
    refused = staff_client.get("/staff/orders")
    assert refused.status_code == 403
    assert "has not been given to any role yet" in refused.get_data(as_text=True)


def test_a_refusal_names_the_role_needed_and_the_roles_held(app, db):
    client = member(app, ["desk"], "packer@example.org")
    order = make_order()
    refused = client.get(f"/staff/orders/{order.reference}/refund")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 403
    assert "for staff with the <strong>Finance</strong> role" in page
    assert "Your role is: Desk" in page
    both = client.get("/staff/orders/waiting").status_code
    assert both == 200


def test_several_roles_open_what_each_opens(app, db):
    client = member(app, ["desk", "finance"], "both@example.org")
    order = make_order()
    assert client.get(f"/staff/orders/{order.reference}/refund").status_code == 200
    assert client.get(f"/staff/orders/{order.reference}/packing-slip").status_code == 200
    assert client.get("/staff/catalogue").status_code == 403


def _nav(page: str) -> str:
    return page[page.index('<nav aria-label="Staff">'):page.index("</nav>")]


def test_the_header_shows_only_the_links_a_role_opens(app, db, staff_client):
    expected = {
        "desk": {"Dashboard", "To pack", "Orders", "Waiting for stock"},
        "finance": {"Dashboard", "Orders", "Invoices"},
        "catalogue": {"Dashboard", "Waiting for stock", "Catalogue", "Comments"},
    }
    for name, links in expected.items():
        page = member(app, [name], f"{name}-role@example.org").get("/staff").get_data(as_text=True)
        assert set(re.findall(r">([^<]+)</a>", _nav(page))) == links, name
    admin = staff_client.get("/staff").get_data(as_text=True)
    assert set(re.findall(r">([^<]+)</a>", _nav(admin))) == (
        {"Dashboard", "To pack", "Orders", "Waiting for stock", "Invoices", "Catalogue", "Comments", "Accounts"}
    )
    nobody = member(app, [], "nobody@example.org")
    refused = nobody.get("/staff")
    assert refused.status_code == 403 and "none yet" in refused.get_data(as_text=True)
    assert re.findall(r">([^<]+)</a>", _nav(refused.get_data(as_text=True))) == []


def test_an_order_page_shows_only_the_actions_a_role_may_take(app, db):
    order = make_order()
    order.payment_intent_id = "pi_test_roles"
    db.session.commit()
    desk = member(app, ["desk"], "desk2@example.org").get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    finance = member(app, ["finance"], "money@example.org").get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert "Mark dispatched" in desk and "Packing slip" in desk and "Refund…" not in desk
    assert "Refund…" in finance and "Cancel the order…" in finance
    assert "Mark dispatched" not in finance and "Packing slip" not in finance
    for page in (desk, finance):
        assert "Add note" in page


def test_the_orders_list_offers_batches_to_the_desk_and_the_export_to_finance(app, db):
    make_order()
    desk = member(app, ["desk"], "desk3@example.org").get("/staff/orders").get_data(as_text=True)
    finance = member(app, ["finance"], "money2@example.org").get("/staff/orders").get_data(as_text=True)
    assert "Print packing slips" in desk and 'name="ref"' in desk and "/staff/orders.csv" not in desk
    assert "/staff/orders.csv" in finance and "Print packing slips" not in finance and 'name="ref"' not in finance
    assert csrf_token(finance)  # the page still carries its forms' token


def test_a_change_of_roles_applies_to_a_session_at_once(app, db):
    from shop.staff.accounts.services import set_roles
    from shop.staff.auth import find_staff

    client = member(app, ["desk"], "mover@example.org")
    assert client.get("/staff/catalogue").status_code == 403
    set_roles(find_staff("mover@example.org"), ["catalogue"], None, utcnow())
    db.session.commit()
    assert client.get("/staff/catalogue").status_code == 200
    assert client.get("/staff/orders").status_code == 403
