"""``flask --app wsgi catalogue …``: one commit per command."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from shop.catalogue.models import Publication
from shop.catalogue.rules import PublicationDetails
from shop.extensions import db

catalogue_cli = AppGroup("catalogue", help="Manage the catalogue.")

# The first title. Facts from the publication; the summary is our own wording.
SEED_ISBN = "9781857176407"
SEED_STOCK = 200
SEED = PublicationDetails(
    title="Leadership and engagement for improvement in the NHS",
    subtitle="Together we can",
    publisher="The King's Fund",
    year=2012,
    pages=48,
    price_pence=850,
    summary=(
        "The final report of the 2012 review of leadership and management in the NHS. "
        "It considers how leadership, and the engagement of staff and patients, can drive "
        "improvement in NHS care. This is the 48-page print edition of the report."
    ),
    pdf_url=None,
)


@catalogue_cli.command("seed")
@click.option("--demo", is_flag=True, help="Also add about 40 made-up example titles with covers.")
def seed_catalogue(demo: bool) -> None:
    """Load the first publication when the catalogue is empty (safe to run every start); with
    --demo, add the demo catalogue's titles that are not there yet."""
    if db.session.scalar(select(func.count()).select_from(Publication)):
        click.echo("Catalogue already has publications; nothing seeded.")
    else:
        from shop.catalogue.admin import create_publication

        create_publication(SEED_ISBN, SEED, SEED_STOCK, actor="seed")
        db.session.commit()
        click.echo("Seeded 1 publication.")
    if demo:
        from flask import current_app

        from shop.catalogue.demo import PUBLISHER, seed_demo

        added = seed_demo(current_app.config["COVERS_DIR"])
        db.session.commit()
        click.echo(f"Added {added} demo titles from {PUBLISHER}." if added else "The demo titles are all there already.")


@catalogue_cli.command("covers-rebuild")
def rebuild_covers() -> None:
    """Resize the covers that were never resized (named by an import, or uploaded before covers
    were resized on upload), so they get content-addressed names and their copies."""
    from flask import current_app

    from shop.catalogue import covers

    folder = current_app.config["COVERS_DIR"]
    done = failed = 0
    for publication in db.session.scalars(
        select(Publication).where(Publication.cover_path.is_not(None), Publication.cover_width.is_(None))
    ).all():
        path = covers.cover_file(publication, folder)
        try:
            if path is None:
                raise covers.CoverError(f"{publication.cover_path} is not in the covers folder.")
            covers.store_cover(publication, path.read_bytes(), folder, actor="covers-rebuild")
        except covers.CoverError as error:
            db.session.rollback()
            click.echo(f"{publication.isbn}: {error.message}", err=True)
            failed += 1
            continue
        db.session.commit()
        done += 1
    click.echo(f"Resized {done} cover(s)" + (f"; {failed} could not be read." if failed else "."))


@catalogue_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "onix"]),
    help="The file's format  [default: onix for .xml/.onx, else csv].",
)
@click.option("--dry-run", is_flag=True, help="Show what would change and change nothing.")
def import_catalogue(path: Path, file_format: str | None, dry_run: bool) -> None:
    """Add new publications and update existing ones (by ISBN) from a file.

    CSV: every row is checked first, and nothing is imported unless all are valid. ONIX 3.0:
    products that lack a GBP price, a page count or another essential are listed and skipped,
    the rest imported; the exit status is then 1.
    """
    from sqlalchemy.exc import IntegrityError

    from shop.catalogue.admin import CatalogueError
    from shop.catalogue.imports import csv, onix
    from shop.catalogue.imports import plan as plans
    from shop.progress import progress_bar

    config = current_app.config
    if file_format is None:
        file_format = "onix" if path.suffix.lower() in (".xml", ".onx") else "csv"
    if file_format == "onix":
        limits = plans.ImportLimits(config["CATALOGUE_ONIX_MAX_BYTES"], config["CATALOGUE_IMPORT_MAX_ROWS"])
        with progress_bar(onix.count_products(path, limits), f"Reading {path.name}") as advance:
            plan = onix.read_onix(path, limits, advance)
    else:
        limits = plans.ImportLimits(config["CATALOGUE_IMPORT_MAX_BYTES"], config["CATALOGUE_IMPORT_MAX_ROWS"])
        with progress_bar(csv.count_rows(path, limits), f"Reading {path.name}") as advance:
            plan = csv.read_csv(path, limits, advance)
    messages = plan.errors + plan.skipped + plan.notes
    shown = config["CATALOGUE_IMPORT_ERRORS_SHOWN"]
    for message in messages[:shown]:
        click.echo(message, err=True)
    if len(messages) > shown:
        click.echo(f"… and {len(messages) - shown:,} more problems, not shown.", err=True)
    if plan.errors:
        raise click.ClickException(
            f"{len(plan.errors)} problem(s) in {path.name}; nothing was imported."
        )
    if dry_run:
        changes = plans.compare(plan)
    else:
        try:
            with progress_bar(len(plan.records), "Importing") as advance:
                changes = plans.apply(plan, actor=f"import: {path.name}", advance=advance)
            db.session.commit()
        except CatalogueError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from None
        except IntegrityError:
            db.session.rollback()
            raise click.ClickException(
                "The catalogue changed while importing; nothing was imported. Run it again."
            ) from None
    for change in changes:
        if dry_run or change.action != "unchanged":
            click.echo(change.describe())
    counts = {a: sum(c.action == a for c in changes) for a in ("add", "update", "unchanged")}
    if dry_run:
        click.echo(
            f"Dry run: {counts['add']} to add, {counts['update']} to update, "
            f"{counts['unchanged']} unchanged. Nothing was changed."
        )
    else:
        click.echo(
            f"Imported {path.name}: {counts['add']} added, {counts['update']} updated, "
            f"{counts['unchanged']} unchanged."
        )
    if plan.skipped:
        click.echo(f"{len(plan.skipped)} product(s) skipped, listed above.", err=True)
        click.get_current_context().exit(1)


def _since(text: str | None):
    """``--since``: a day (2026-03-01, from its start in the shop's time zone) or a moment."""
    if not text:
        return None
    from datetime import date, datetime

    from shop.timeutil import SHOP_TZ, start_of_local_day

    try:
        return start_of_local_day(date.fromisoformat(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("write a date such as 2026-03-01, or 2026-03-01T09:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHOP_TZ)


@catalogue_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "onix"]),
    help="The file's format  [default: onix for .xml/.onx, else csv].",
)
@click.option("--isbn", "isbn_texts", multiple=True, help="Only this title (ONIX; repeat for more).")
@click.option("--since", "since_text", help="Only titles changed since this day or moment (ONIX).")
def export_catalogue(path: Path, file_format: str | None, isbn_texts: tuple[str, ...], since_text: str | None) -> None:
    """Write the catalogue to a file: CSV (every publication, ordered by title, as `import`
    reads it back) or ONIX for Books 3.0 (reference tags; every title, the ones named by
    --isbn, or those changed since --since: an update file)."""
    from shop.catalogue.export import count_publications, write_csv
    from shop.progress import progress_bar

    if file_format is None:
        file_format = "onix" if path.suffix.lower() in (".xml", ".onx") else "csv"
    try:
        if file_format == "onix":
            count = _export_onix(path, isbn_texts, _since(since_text))
        else:
            if isbn_texts or since_text:
                raise click.UsageError("--isbn and --since choose titles for ONIX only.")
            with progress_bar(count_publications(), f"Writing {path.name}") as advance:
                count = write_csv(path, advance)
    except OSError as error:
        raise click.ClickException(f"Could not write {path}: {error.strerror}.") from None
    click.echo(f"Wrote {count} publication(s) to {path}.")


def _export_onix(path: Path, isbn_texts: tuple[str, ...], since) -> int:
    from flask import current_app

    from shop import isbn as isbns
    from shop.catalogue import onix_export
    from shop.errors import InvalidISBN
    from shop.progress import progress_bar
    from shop.timeutil import utcnow

    try:
        chosen = [isbns.normalise(text) for text in isbn_texts]
    except InvalidISBN as error:
        raise click.BadParameter(error.message, param_hint="--isbn") from None
    config = current_app.config
    publications = db.session.scalars(
        onix_export.selected(chosen, since).execution_options(yield_per=500)
    )
    with progress_bar(onix_export.count(chosen, since), f"Writing {path.name}") as advance:
        return onix_export.write_onix(
            path, publications, config["ONIX_SENDER_NAME"], config["ONIX_RECORD_PREFIX"],
            utcnow(), advance,
        )
