"""What a comment may hold, in one place: the readers' form, the staff edit form and the import
all check here, so a limit changes in one line and every way in says the same thing.

Text is kept as typed: nothing is stripped out of it or converted (it is escaped when shown).
Only line ends are made LF and the blank space around it trimmed, so that an unchanged text
saved again is the same text.
"""

import re
from dataclasses import dataclass, fields

MAX_LENGTH = {"name": 100, "job_title": 150, "organisation": 150, "email": 320, "text": 5000}
MIN_TEXT = 2
NAMES = {
    "name": "name",
    "job_title": "job title",
    "organisation": "organisation",
    "email": "email address",
    "text": "comment",
}
# What counts as a link: an address with its scheme, or one that starts www. (spam's two
# forms), each up to the next space, so https://www.… counts once.
LINK = re.compile(r"(?i)\b(?:https?://|www\.)\S*")
# One address, no spaces or line breaks (the outbox's own rule: nothing to smuggle a header in).
EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


class RuleBroken(ValueError):
    """A value a comment may not hold; ``str()`` says why and what to do."""


@dataclass(frozen=True)
class CommentDetails:
    """What is published with a comment: everything a reader types but the email address."""

    name: str
    job_title: str | None
    organisation: str | None
    text: str


DETAIL_NAMES = tuple(f.name for f in fields(CommentDetails))


def clean_line(value: str | None) -> str:
    """A one-line field as it is stored: line breaks and other control characters become
    spaces, runs of spaces one, and the ends trimmed."""
    flat = "".join(ch if ch.isprintable() else " " for ch in value or "")
    return " ".join(flat.split())


def clean_text(value: str | None) -> str:
    """The comment as it is stored: as typed, with LF line ends and no blank space around it."""
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def count_links(text: str) -> int:
    return len(LINK.findall(text or ""))


def _length(name: str, value: str) -> None:
    limit = MAX_LENGTH[name]
    if len(value) > limit:
        raise RuleBroken(
            f"Your {NAMES[name]} is {len(value):,} characters long; the most it may be is {limit:,}."
        )


def _no_links(name: str, value: str) -> None:
    if count_links(value):
        raise RuleBroken(f"Please leave web addresses out of your {NAMES[name]}.")


def check_name(value: str) -> None:
    if not value:
        raise RuleBroken("Enter your name, as you would like it shown with your comment.")
    _length("name", value)
    _no_links("name", value)


def _optional_line(name: str):
    def check(value: str | None) -> None:
        if value:
            _length(name, value)
            _no_links(name, value)

    return check


def check_email(value: str) -> None:
    if not value:
        raise RuleBroken("Enter your email address, so that our moderators can contact you.")
    _length("email", value)
    if not EMAIL.match(value):
        raise RuleBroken("Enter an email address like name@example.org.")


def check_text(value: str, max_links: int | None = None) -> None:
    """``max_links``: the most links a reader's comment may carry (None: no cap, for staff edits
    and imported comments, which a person has already read)."""
    if len(value) < MIN_TEXT:
        raise RuleBroken("Write your comment.")
    _length("text", value)
    if max_links is not None:
        links = count_links(value)
        if links > max_links:
            allowed = "no links" if max_links == 0 else f"at most {max_links} link{'s' * (max_links != 1)}"
            raise RuleBroken(
                f"Your comment has {links} link{'s' * (links != 1)}; it may have {allowed}. Please remove "
                f"{'them' if max_links == 0 else 'some'} and send it again."
            )


CHECKS = {
    "name": check_name,
    "job_title": _optional_line("job_title"),
    "organisation": _optional_line("organisation"),
    "email": check_email,
    "text": check_text,
}


def check(name: str, value, max_links: int | None = None) -> None:
    """Raise ``RuleBroken`` if ``value`` is not acceptable for the field ``name``; ``max_links``
    caps the links in the text (see check_text)."""
    if name == "text":
        check_text(value, max_links)
    else:
        CHECKS[name](value)


def check_details(details: CommentDetails, max_links: int | None = None) -> dict[str, str]:
    """What is wrong with each published field, as ``{name: message}``; empty when all is well."""
    problems = {}
    for name in DETAIL_NAMES:
        try:
            check(name, getattr(details, name), max_links)
        except RuleBroken as broken:
            problems[name] = str(broken)
    return problems
