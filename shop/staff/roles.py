"""Who may use each staff page and action: one table, checked by the staff blueprint's guard.

Every endpoint of the ``staff`` blueprint and its nested blueprints is in ``PUBLIC`` (no sign-in)
or in ``ENDPOINT_ROLES`` (the roles that may use it; an empty set: any signed-in account). An
``admin`` may use every endpoint in the table. An endpoint in neither is refused to everyone,
admins included (fail closed), and tests/staff/test_roles.py fails until it is given its roles
here: a new route cannot be forgotten into being open.
"""

from collections.abc import Iterable

ADMIN = "admin"
DESK = "desk"
FINANCE = "finance"
CATALOGUE = "catalogue"

# Each role, its name on the pages, and what it is for. The database's check constraint on
# staff_role.role names the same four.
ROLES: dict[str, tuple[str, str]] = {
    ADMIN: ("Admin", "everything, and managing staff accounts"),
    DESK: ("Desk", "orders, packing, batches, Click & Drop, dispatch, tracking, notes, customer emails"),
    FINANCE: ("Finance", "refunds, cancelling orders, invoices, receipts, the orders export, amount mismatches"),
    CATALOGUE: ("Catalogue", "titles, stock, covers, waiting lists, reader comments"),
}

# Signing in, and the one-time links that set a password (the guard lets anyone through).
PUBLIC = frozenset({"staff.login", "staff.accounts.welcome"})
# What a session that has given the password but not yet the second factor may reach.
SECOND_STEP = frozenset({"staff.logout", "staff.me.two_factor", "staff.me.enrol"})

SIGNED_IN: frozenset[str] = frozenset()  # any account, whatever its roles
ANY_ROLE = frozenset(ROLES)
_DESK = frozenset({DESK})
_FINANCE = frozenset({FINANCE})
_CATALOGUE = frozenset({CATALOGUE})
_ADMIN = frozenset({ADMIN})
_ORDERS = frozenset({DESK, FINANCE})  # reading orders: who packs them and who refunds them
_STOCK = frozenset({DESK, CATALOGUE})  # waiting lists: goods in (catalogue) and packing (desk)

ENDPOINT_ROLES: dict[str, frozenset[str]] = {
    # Oneself: signing out, one's own second factor.
    "staff.logout": SIGNED_IN,
    "staff.me.show": SIGNED_IN,
    "staff.me.two_factor": SIGNED_IN,
    "staff.me.enrol": SIGNED_IN,
    "staff.me.turn_off": SIGNED_IN,
    "staff.me.recovery_codes": SIGNED_IN,
    # The dashboard and its charts' figures.
    "staff.dashboard": ANY_ROLE,
    "staff.copies_per_day_csv": ANY_ROLE,
    "staff.copies_by_title_csv": ANY_ROLE,
    # Orders.
    "staff.orders.index": _ORDERS,
    "staff.orders.show": _ORDERS,
    "staff.orders.note": _ORDERS,
    "staff.orders.receipt": _ORDERS,
    "staff.orders.csv": _FINANCE,
    "staff.orders.batch": _DESK,
    "staff.orders.batch_dispatch": _DESK,
    "staff.orders.tracking_import": _DESK,
    "staff.orders.dispatch": _DESK,
    "staff.orders.correct_tracking": _DESK,
    "staff.orders.packing_slip": _DESK,
    "staff.orders.resend_email": _DESK,
    "staff.orders.acknowledge_mismatch": _FINANCE,
    "staff.orders.refund_start": _FINANCE,
    "staff.orders.refund_check": _FINANCE,
    "staff.orders.refund": _FINANCE,
    "staff.orders.cancel_start": _FINANCE,
    "staff.orders.cancel": _FINANCE,
    # Orders paid by invoice: credit and money, so Finance's.
    "staff.orders.invoices": _FINANCE,
    "staff.orders.approve_invoice": _FINANCE,
    "staff.orders.decline_invoice": _FINANCE,
    "staff.orders.resend_invoice": _FINANCE,
    "staff.orders.void_invoice": _FINANCE,
    "staff.orders.mark_invoice_paid": _FINANCE,
    "staff.orders.waiting_list": _STOCK,
    "staff.orders.waiting_queue": _STOCK,
    "staff.orders.allocate": _STOCK,
    "staff.orders.send_new_date": _STOCK,
    # The catalogue.
    "staff.catalogue.index": _CATALOGUE,
    "staff.catalogue.create": _CATALOGUE,
    "staff.catalogue.edit": _CATALOGUE,
    "staff.catalogue.save": _CATALOGUE,
    "staff.catalogue.withdraw": _CATALOGUE,
    "staff.catalogue.return_to_sale": _CATALOGUE,
    "staff.catalogue.adjust_stock": _CATALOGUE,
    "staff.catalogue.upload_cover": _CATALOGUE,
    "staff.catalogue.remove_cover": _CATALOGUE,
    # Reader comments.
    "staff.comments.index": _CATALOGUE,
    "staff.comments.moderate": _CATALOGUE,
    "staff.comments.show": _CATALOGUE,
    "staff.comments.save": _CATALOGUE,
    "staff.comments.publication": _CATALOGUE,
    "staff.comments.set_open": _CATALOGUE,
    "staff.comments.erase": _CATALOGUE,
    # Staff accounts.
    "staff.accounts.index": _ADMIN,
    "staff.accounts.invite": _ADMIN,
    "staff.accounts.show": _ADMIN,
    "staff.accounts.set_roles": _ADMIN,
    "staff.accounts.disable": _ADMIN,
    "staff.accounts.enable": _ADMIN,
    "staff.accounts.reset": _ADMIN,
}


def allows(roles: Iterable[str], endpoint: str | None) -> bool:
    """Whether an account with ``roles`` may use ``endpoint`` (signed in, second factor done)."""
    if endpoint in PUBLIC:
        return True
    needed = ENDPOINT_ROLES.get(endpoint or "")
    if needed is None:
        return False  # not in the table: nobody, until someone decides
    held = set(roles)
    return not needed or ADMIN in held or bool(needed & held)


def needed_for(endpoint: str | None) -> frozenset[str] | None:
    """The roles any one of which opens ``endpoint``; None when it is in no table."""
    return ENDPOINT_ROLES.get(endpoint or "")


def label(role: str) -> str:
    return ROLES[role][0] if role in ROLES else role


def ordered(roles: Iterable[str]) -> list[str]:
    """``roles`` in the order of ROLES, unknown names left out."""
    held = set(roles)
    return [role for role in ROLES if role in held]


def describe(roles: Iterable[str]) -> str:
    """"Desk or Finance": the roles in words, for a refusal."""
    names = [label(role) for role in ordered(roles)]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def parse(names: Iterable[str]) -> frozenset[str]:
    """Role names as typed (any case, spaces); raises ValueError naming an unknown one."""
    roles = set()
    for name in names:
        role = name.strip().lower()
        if role not in ROLES:
            raise ValueError(f"'{name}' is not a role: use {', '.join(ROLES)}")
        roles.add(role)
    return frozenset(roles)
