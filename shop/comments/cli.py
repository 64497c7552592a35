"""``flask --app wsgi comments …``: erase a person's details, purge old rejected and spam comments,
import comments from a CSV file, email the moderators. One commit per command; each says what it
changed."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from shop.comments import services
from shop.extensions import db
from shop.timeutil import utcnow

comments_cli = AppGroup("comments", help="Reader comments: erase, purge, import, notify.")
ACTOR = "command line"


@comments_cli.command("erase")
@click.argument("email")
@click.option("--remove-text", is_flag=True, help="Also remove the text of their comments.")
def erase(email: str, remove_text: bool) -> None:
    """Anonymise every comment sent with EMAIL: the name becomes "Anonymous"; job title,
    organisation and email are removed (also from the comments' history); the text is kept
    unless --remove-text."""
    result = services.erase(email, remove_text, f"{ACTOR} (comments erase)", utcnow())
    db.session.commit()
    click.echo(result.describe())


@comments_cli.command("purge")
def purge() -> None:
    """Delete rejected and spam comments moderated more than COMMENTS_RETENTION_DAYS ago (for
    cron; safe to run again)."""
    days = current_app.config["COMMENTS_RETENTION_DAYS"]
    if days < 1:
        raise click.ClickException("COMMENTS_RETENTION_DAYS must be 1 or more.")
    result = services.purge(utcnow(), days)
    db.session.commit()
    click.echo(result.describe(days))


@comments_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and change nothing.")
def import_comments(path: Path, dry_run: bool) -> None:
    """Import published comments from a CSV file (isbn, number, name, job_title, organisation,
    posted_at, text): every row is checked first, and nothing is imported unless all are valid."""
    from flask import current_app

    from shop.catalogue.imports.plan import ImportLimits
    from shop.comments import imports
    from shop.progress import progress_bar

    now = utcnow()
    config = current_app.config
    limits = ImportLimits(config["CATALOGUE_IMPORT_MAX_BYTES"], config["CATALOGUE_IMPORT_MAX_ROWS"])
    with progress_bar(imports.count_rows(path, limits), f"Reading {path.name}") as advance:
        plan = imports.read_csv(path, now, limits, advance)
    shown = config["CATALOGUE_IMPORT_ERRORS_SHOWN"]
    for message in plan.errors[:shown]:
        click.echo(message, err=True)
    if len(plan.errors) > shown:
        click.echo(f"… and {len(plan.errors) - shown:,} more problems, not shown.", err=True)
    if plan.errors:
        raise click.ClickException(f"{len(plan.errors)} problem(s) in {path.name}; nothing was imported.")
    count = len(plan.comments)
    publications = len({comment.isbn for comment in plan.comments})
    what = f"{count} comment{'s' * (count != 1)} on {publications} publication{'s' * (publications != 1)}"
    if dry_run:
        click.echo(f"Dry run: {what} would be imported, published. Nothing was changed.")
        return
    try:
        imports.apply(plan, f"import: {path.name}", now)
    except services.CommentError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Imported {path.name}: {what}, published.")


@comments_cli.command("notify")
def notify() -> None:
    """Email COMMENTS_NOTIFY about the comments waiting that it has not been told of (for cron)."""
    from shop.comments.notify import notify_moderators, recipients

    config = current_app.config
    try:
        to = recipients(config["COMMENTS_NOTIFY"])
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if not to:
        click.echo("COMMENTS_NOTIFY is not set: no one to tell.")
        return
    try:
        count = notify_moderators(to, config["MAIL_FROM"], config["SHOP_BASE_URL"], utcnow())
    except OSError as error:  # smtplib's errors are OSErrors too
        db.session.rollback()
        raise click.ClickException(f"Could not send the email ({error}); nothing was marked as told.") from None
    db.session.commit()
    click.echo(f"Told {', '.join(to)} about {count} waiting comment{'s' * (count != 1)}." if count else "No new comments waiting.")
