"""Managing staff accounts: invitations and resets by one-time link, roles, disabling, and the
audit trail of each (``StaffAudit``). Used by /staff/accounts and the ``staff`` commands.

Rules kept here, whoever calls: there is always an active admin with a password (the last
one cannot be disabled, reset or lose the role; the rows of every active admin are locked
first, so two admins removing each other at once cannot both succeed), and nobody disables,
resets or demotes themselves (``by``: the member of staff acting; None from the command line).
Services flush; the caller commits.
"""

import hashlib
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from shop.emails.outbox import queue_message, usable_address
from shop.extensions import db, rows_changed
from shop.staff import auth, roles, sessions, totp
from shop.staff.auth import StaffAccountError
from shop.staff.models import INVITE, RESET, StaffAudit, StaffLink, StaffRole, StaffUser
from shop.timeutil import as_utc

LINK_LIFETIME = timedelta(hours=48)
COMMAND_LINE = "command line"
STAFF_LINK_EMAIL = "staff_link"  # templates/emails/staff_link.{txt,html}

LinkUrl = Callable[[str], str]  # a token -> the absolute address of its page


def actor_name(by: StaffUser | None) -> str:
    return by.email if by is not None else COMMAND_LINE


def audit(by: StaffUser | None, action: str, subject: StaffUser, now: datetime, **detail: Any) -> StaffAudit:
    entry = StaffAudit(
        at=now, actor=actor_name(by), action=action, subject_id=subject.id, subject_email=subject.email,
        detail=detail or None,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def history(user: StaffUser) -> list[StaffAudit]:
    return list(db.session.scalars(
        select(StaffAudit).where(StaffAudit.subject_id == user.id).order_by(StaffAudit.at.desc(), StaffAudit.id.desc())
    ))


def all_accounts() -> list[StaffUser]:
    return list(db.session.scalars(select(StaffUser).order_by(StaffUser.active.desc(), StaffUser.email)))


def active_admins() -> int:
    return len(db.session.scalars(
        select(StaffUser.id).join(StaffRole, StaffRole.user_id == StaffUser.id)
        .where(StaffRole.role == roles.ADMIN, StaffUser.active.is_(True), StaffUser.password_hash != "")
    ).all())


def get(user_id: int) -> StaffUser | None:
    return db.session.get(StaffUser, user_id)


# --- roles ------------------------------------------------------------------------------------

def _replace_roles(user: StaffUser, wanted: frozenset[str]) -> None:
    user.role_rows = [row for row in user.role_rows if row.role in wanted] + [
        StaffRole(role=role) for role in roles.ordered(wanted - user.roles)
    ]
    db.session.flush()


def _lock_active_admins() -> list[int]:
    """Lock every active admin's account row (PostgreSQL: FOR UPDATE, in id order) and return
    their ids, read after the lock, so a decision about the last admin sees every change made
    before it."""
    return list(db.session.scalars(
        select(StaffUser.id)
        .join(StaffRole, StaffRole.user_id == StaffUser.id)
        .where(StaffRole.role == roles.ADMIN, StaffUser.active.is_(True), StaffUser.password_hash != "")
        .order_by(StaffUser.id)
        .with_for_update(of=StaffUser)
    ))


def _keep_an_admin(user: StaffUser, doing: str, change: Callable[[], None]) -> None:
    """Make ``change`` (which takes ``user``'s admin rights away) unless that would leave no
    active admin with a password. The admins' rows are locked first (PostgreSQL), and counted
    again after the change (flushed), which on SQLite, where writers queue, is what sees a
    simultaneous change committed first."""
    if _lock_active_admins() == [user.id]:
        raise StaffAccountError(
            f"{user.email} is the only active admin: make someone else an admin before you {doing}."
        )
    change()
    if not _lock_active_admins():
        raise StaffAccountError(
            f"That would leave no active admin (another change was made at the same moment): "
            f"nothing was done to {user.email}."
        )


def set_roles(user: StaffUser, wanted: Iterable[str], by: StaffUser | None, now: datetime, *,
              last_admin_ok: bool = False) -> bool:
    """Give ``user`` exactly ``wanted``; whether anything changed. Audited. Flushes.
    ``last_admin_ok``: the command line may leave no admin (it can make one again)."""
    wanted = roles.parse(wanted)
    before = user.roles
    if wanted == before:
        return False
    if roles.ADMIN in before and roles.ADMIN not in wanted:
        if by is not None and by.id == user.id:
            raise StaffAccountError("You cannot remove your own admin role: ask another admin.")
        if not last_admin_ok:
            _keep_an_admin(user, "remove this one's admin role", lambda: _replace_roles(user, wanted))
    _replace_roles(user, wanted)  # nothing more to change if done already
    audit(by, "roles_changed", user, now, before=roles.ordered(before), after=roles.ordered(wanted))
    return True


# --- creating, disabling ----------------------------------------------------------------------

def create(email: str, password: str, wanted: Iterable[str], min_length: int, by: StaffUser | None,
           now: datetime) -> StaffUser:
    """An account with a password (the command line's ``staff create``). Audited. Flushes."""
    wanted = roles.parse(wanted)
    user = auth.create_staff(email, password, min_length)
    _replace_roles(user, wanted)
    audit(by, "created", user, now, roles=roles.ordered(wanted))
    return user


def disable(user: StaffUser, by: StaffUser | None, now: datetime, *, last_admin_ok: bool = False) -> None:
    """Disable the account and end its sessions. Audited. Flushes. ``last_admin_ok``: the
    command line may disable the last admin (it can make one again)."""
    if not user.active:
        raise StaffAccountError(f"{user.email} is already disabled.")
    if by is not None and by.id == user.id:
        raise StaffAccountError("You cannot disable your own account: ask another admin.")
    if roles.ADMIN in user.roles and not last_admin_ok:
        _keep_an_admin(user, "disable this account", lambda: auth.disable(user))
    else:
        auth.disable(user)
    _expire_links(user, now)
    audit(by, "disabled", user, now)


def enable(user: StaffUser, by: StaffUser | None, now: datetime) -> None:
    """Let a disabled account sign in again (with its password as it was). Audited. Flushes."""
    if user.active:
        raise StaffAccountError(f"{user.email} is already active.")
    user.active = True
    db.session.flush()
    audit(by, "enabled", user, now)


# --- one-time links: invitations and resets ---------------------------------------------------

def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _expire_links(user: StaffUser, now: datetime) -> None:
    rows_changed(
        update(StaffLink)
        .where(StaffLink.user_id == user.id, StaffLink.used_at.is_(None), StaffLink.expires_at > now)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )


def _send_link(user: StaffUser, purpose: str, by: StaffUser | None, now: datetime, link_url: LinkUrl,
               shop_name: str) -> StaffLink:
    """A new one-time link for ``user`` (earlier ones stop working), emailed through the outbox."""
    _expire_links(user, now)
    token = secrets.token_urlsafe(32)
    link = StaffLink(
        token_hash=_hash(token), user_id=user.id, purpose=purpose, created_by=actor_name(by),
        created_at=now, expires_at=now + LINK_LIFETIME,
    )
    db.session.add(link)
    db.session.flush()
    invited = purpose == INVITE
    queue_message(
        STAFF_LINK_EMAIL, user.email, topic=f"staff-link-{link.id}",
        subject=f"{'Your staff account' if invited else 'Set a new password'} for {shop_name}",
        invited=invited, link_url=link_url(token), hours=int(LINK_LIFETIME.total_seconds() // 3600),
        sender=actor_name(by), roles=[roles.label(role) for role in roles.ordered(user.roles)],
    )
    return link


def invite(email: str, wanted: Iterable[str], by: StaffUser | None, now: datetime, link_url: LinkUrl,
           shop_name: str) -> StaffUser:
    """A new account with ``wanted`` roles and no password yet, and an email with a link
    (valid LINK_LIFETIME, once) to set one. Audited. Flushes."""
    wanted = roles.parse(wanted)
    address = auth.normalise_email(email)
    if not usable_address(address):
        raise StaffAccountError(f"'{email.strip()}' is not an email address we can send to.")
    if auth.find_staff(address) is not None:
        raise StaffAccountError(
            f"{address} already has a staff account: change its roles, or send it a reset link, "
            "from its page."
        )
    user = StaffUser(email=address, password_hash="")
    db.session.add(user)
    db.session.flush()
    _replace_roles(user, wanted)
    _send_link(user, INVITE, by, now, link_url, shop_name)
    audit(by, "invited", user, now, roles=roles.ordered(wanted))
    return user


def reset(user: StaffUser, by: StaffUser | None, now: datetime, link_url: LinkUrl, shop_name: str) -> None:
    """Start the account again: its password and second factor stop working at once, every
    session ends, and a new one-time link is emailed (a reset of an invitation not yet taken
    up sends a fresh invitation). Audited. Flushes."""
    if not user.active:
        raise StaffAccountError(f"{user.email} is disabled: enable it first.")
    if by is not None and by.id == user.id:
        raise StaffAccountError("You cannot reset your own account: ask another admin.")
    purpose = RESET if user.has_password or user.last_login_at else INVITE

    def forget_password() -> None:
        user.password_hash = ""
        db.session.flush()

    if roles.ADMIN in user.roles and user.has_password:
        _keep_an_admin(user, "reset this account", forget_password)
    else:
        forget_password()
    totp.turn_off(user)
    sessions.revoke_all(user, sessions.RESET, now)
    _send_link(user, purpose, by, now, link_url, shop_name)
    audit(by, "reset", user, now)


def find_link(token: str | None, now: datetime) -> StaffLink | None:
    """The unused, unexpired link ``token`` names, for an active account; else None."""
    if not token or len(token) > 100 or not token.isascii():
        return None
    link = db.session.scalar(select(StaffLink).filter_by(token_hash=_hash(token)))
    if link is None or link.used_at is not None or as_utc(link.expires_at) <= now or not link.user.active:
        return None
    return link


def accept(link: StaffLink, password: str, min_length: int, now: datetime) -> StaffUser:
    """Set the account's password from its link, which is then used up (a second use, even at
    the same moment, fails). Audited. Flushes."""
    auth.check_password_rules(password, min_length)
    claimed = rows_changed(
        update(StaffLink)
        .where(StaffLink.id == link.id, StaffLink.used_at.is_(None), StaffLink.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed != 1:
        raise StaffAccountError("This link has already been used, or has expired. Ask an admin for a new one.")
    user = link.user
    auth.set_password(user, password, min_length)
    audit(user, "password_set", user, now, by_link=link.purpose)
    return user
