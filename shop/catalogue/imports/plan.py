"""What a catalogue file asks for (``ImportPlan``), what it would change (``compare``), and
applying it through the admin service (``apply``), so an import is written, audited and guarded
exactly as a member of staff's edit is.

Reading a file never touches the database, ``compare`` only reads it, ``apply`` changes it and
flushes (the caller commits). Prices are integer pence throughout.
"""

from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field, fields
from datetime import date
from typing import Any

from sqlalchemy import select

from shop import isbn as isbns
from shop.catalogue import admin, covers
from shop.catalogue.models import Publication
from shop.catalogue.rules import DETAIL_NAMES, PublicationDetails, RuleBroken, check
from shop.errors import InvalidISBN
from shop.extensions import db
from shop.money import format_pence
from shop.progress import Advance, nothing

# Publication attribute -> the CSV column staff know it by, where the names differ.
COLUMN_OF = {"price_pence": "price", "cover_path": "cover"}
# What a new publication gets when the file does not say.
NEW_DEFAULTS: dict[str, Any] = {
    "stock": 0, "summary": "", "subtitle": None, "pdf_url": None,
    **{f.name: f.default for f in fields(PublicationDetails) if f.default is not MISSING},
}


@dataclass
class Record:
    """One publication as a file describes it, keyed by ``Publication`` attribute."""

    isbn: str
    source: str  # "row 3", "product 2": where it came from
    fields: dict[str, Any]  # set on a new publication and updated on an existing one
    new_only: dict[str, Any] = field(default_factory=dict)  # set on a new publication only


@dataclass(frozen=True)
class ImportLimits:
    """How large a file an import reads at all (config CATALOGUE_IMPORT_MAX_BYTES for CSV,
    CATALOGUE_ONIX_MAX_BYTES for ONIX) and how many rows or products it takes
    (CATALOGUE_IMPORT_MAX_ROWS). A file over either is refused whole, before it is checked."""

    max_bytes: int = 20 * 1024 * 1024
    max_rows: int = 50_000


def too_large(name: str, size: int, limits: ImportLimits) -> str | None:
    """The message for a file of ``size`` bytes over the cap, or None."""
    if size <= limits.max_bytes:
        return None
    from shop.catalogue.covers import describe_size

    return (
        f"{name} is larger than {describe_size(limits.max_bytes)}, the most one import reads. "
        "Split it into smaller files. Nothing was imported."
    )


@dataclass
class ImportPlan:
    """What a file asks for. Any ``errors`` mean nothing may be imported; ``skipped`` lists
    records left out (ONIX) while the other ``records`` may still be imported."""

    records: list[Record] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was left out of imported records


@dataclass
class Change:
    """What importing one record does: ``action`` is ``add``, ``update`` or ``unchanged``;
    ``fields`` lists ``(attribute, old, new)`` for an update."""

    isbn: str
    title: str
    action: str
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)

    def describe(self) -> str:
        line = f"{self.action:<10} {self.isbn}  {self.title}"
        if self.fields:
            line += "\n" + "\n".join(
                f"    {COLUMN_OF.get(name, name)}: {shown(name, old)} -> {shown(name, new)}"
                for name, old, new in self.fields
            )
        return line


class Invalid(ValueError):
    """One value in a file that cannot be imported; the message says why."""


def quoted(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def shown(attribute: str, value: Any) -> str:
    if value is None or value == "" or value == ():
        return "(empty)"
    if attribute == "price_pence":
        return format_pence(value)
    if isinstance(value, tuple):  # contributors (A01:Name) or Thema codes, as the CSV writes them
        return quoted(";".join(item.coded() if hasattr(item, "coded") else item for item in value), 80)
    if isinstance(value, date):
        return value.isoformat()
    return quoted(value, 60) if isinstance(value, str) else str(value)


def checked(name: str, value: Any) -> Any:
    """``value`` if the catalogue's rules accept it for ``name``; else ``Invalid``."""
    try:
        check(name, value)
    except RuleBroken as broken:
        raise Invalid(str(broken)) from None
    return value


def parse_isbn(text: str) -> str:
    if not text:
        raise Invalid("the ISBN is empty.")
    try:
        return isbns.normalise(text)
    except InvalidISBN as error:
        raise Invalid(error.message) from None


def _existing(isbn_list: Iterable[str]) -> dict[str, Publication]:
    found: dict[str, Publication] = {}
    isbn_list = list(isbn_list)
    for start in range(0, len(isbn_list), 500):  # keep IN lists well under driver limits
        chunk = isbn_list[start : start + 500]
        found.update(
            (p.isbn, p)
            for p in db.session.scalars(select(Publication).where(Publication.isbn.in_(chunk)))
        )
    return found


def _changes(plan: ImportPlan) -> tuple[list[Change], dict[str, Publication]]:
    existing = _existing(record.isbn for record in plan.records)
    changes = []
    for record in plan.records:
        publication = existing.get(record.isbn)
        title = record.fields.get("title") or (publication.title if publication else "")
        if publication is None:
            changes.append(Change(record.isbn, title, "add"))
            continue
        differences = [
            (attribute, getattr(publication, attribute), value)
            for attribute, value in record.fields.items()
            if getattr(publication, attribute) != value
        ]
        changes.append(
            Change(record.isbn, title, "update" if differences else "unchanged", differences)
        )
    return changes, existing


def compare(plan: ImportPlan) -> list[Change]:
    """What ``apply(plan)`` would do to each record, in file order; reads, never writes."""
    return _changes(plan)[0]


def apply(plan: ImportPlan, actor: str, advance: Advance = nothing) -> list[Change]:
    """Add the plan's new publications and update the existing ones through ``admin``, so each
    change is in that title's history by ``actor`` (``import: <file name>``), then flush.
    Returns what was done, in file order. Order lines keep their own copies of prices.

    An update is written only while the fields still hold what ``compare`` read, as a staff
    edit is: if someone changed one meanwhile, ``admin.CatalogueError`` says so and the caller
    rolls the whole import back. Raises ``ValueError`` for a plan with errors.
    """
    if plan.errors:
        raise ValueError("a plan with errors must not be applied")
    changes, existing = _changes(plan)
    for record, change in zip(plan.records, changes, strict=True):
        advance(1)
        if change.action == "add":
            values = {**NEW_DEFAULTS, **record.new_only, **record.fields}
            details = PublicationDetails(**{name: values[name] for name in DETAIL_NAMES})
            extra = {k: v for k, v in values.items() if k not in DETAIL_NAMES and k != "stock"}
            admin.create_publication(record.isbn, details, values["stock"], actor, **extra)
        elif change.action == "update":
            after = {name: new for name, _old, new in change.fields}
            if "cover_path" in after:
                covers.renamed_by_import(existing[record.isbn], after["cover_path"])
            admin.import_changes(
                existing[record.isbn],
                before={name: old for name, old, _new in change.fields},
                after=after,
                actor=actor,
            )
    db.session.flush()
    return changes
