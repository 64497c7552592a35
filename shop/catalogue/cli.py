"""``flask --app wsgi catalogue …``: one commit per command."""

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from shop.catalogue.models import Publication
from shop.extensions import db

catalogue_cli = AppGroup("catalogue", help="Manage the catalogue.")

# The first title. Facts from the publication; the summary is our own wording.
SEED = [
    {
        "isbn": "9781857176407",
        "title": "Leadership and engagement for improvement in the NHS",
        "subtitle": "Together we can",
        "publisher": "The King's Fund",
        "year": 2012,
        "pages": 48,
        "price_pence": 850,
        "stock": 200,
        "summary": (
            "The final report of the 2012 review of leadership and management in the NHS. "
            "It considers how leadership, and the engagement of staff and patients, can drive "
            "improvement in NHS care. This is the 48-page print edition of the report."
        ),
        "pdf_url": None,
    }
]


@catalogue_cli.command("seed")
def seed_catalogue() -> None:
    """Load the first publication when the catalogue is empty (safe to run every start)."""
    if db.session.scalar(select(func.count()).select_from(Publication)):
        click.echo("Catalogue already has publications; nothing seeded.")
        return
    db.session.add_all(Publication(**row) for row in SEED)
    db.session.commit()
    click.echo(f"Seeded {len(SEED)} publication(s).")
