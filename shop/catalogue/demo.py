"""A demo catalogue for newcomers: about 40 fictitious titles with drawn covers, so that search,
pagination and covers can be seen before any real title is added.

Every title, summary and the publisher ("Example Press (demo)") are made up here and say so;
the ISBNs are computed in one block (979-8-9899-9xxx-x) with valid check digits. Each title is
created through ``admin.create_publication`` (audited as ``seed --demo``) and its cover through
``covers.store_cover``, the staff upload's own path, so it gets the same resized copies.
Running it again adds only what is missing."""

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from shop.catalogue import admin, covers
from shop.catalogue.models import Publication
from shop.catalogue.rules import PublicationDetails
from shop.extensions import db

PUBLISHER = "Example Press (demo)"
ACTOR = "seed --demo"
FONTS = Path(__file__).resolve().parent.parent / "fonts"
COVER_SIZE = (480, 720)  # small enough to seed quickly; the largest copy is this wide
PALETTE = [(138, 21, 56), (29, 79, 145), (30, 107, 52), (95, 14, 38), (74, 74, 74), (140, 80, 10)]

SUBJECTS = [
    "Community nursing", "Hospital discharge", "Mental health crisis care", "Social care funding",
    "Primary care networks", "Waiting lists", "Health inequalities", "Digital outpatients",
    "Workforce wellbeing", "Integrated care", "Maternity safety", "End-of-life care",
    "Children's community services", "Public health budgets", "Urgent and emergency care",
    "Clinical leadership", "Patient involvement", "Care homes", "Prevention in practice",
    "Health and housing",
]
FORMS = [
    ("a practical guide for boards", "guide", 64),
    ("lessons from ten local areas", "study", 96),
]


@dataclass(frozen=True)
class DemoTitle:
    isbn: str
    details: PublicationDetails
    stock: int


def demo_isbn(n: int) -> str:
    """The n-th ISBN of the demo block (check digit computed)."""
    body = f"979898999{n:03d}"
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def demo_titles() -> list[DemoTitle]:
    titles = []
    for n, (subject, (form, kind, pages)) in enumerate(
        (subject, form) for subject in SUBJECTS for form in FORMS
    ):
        summary = (
            f"An example title in the demo catalogue: it is not a real publication, and {PUBLISHER} "
            "is not a real publisher.\n\n"
            f"This made-up {kind} looks at {subject.lower()}: what is changing, what has worked "
            "and what to ask next. It is here so that you can try searching, paging through the "
            "catalogue and buying a copy.\n\n"
            "In this example:\n"
            f"- why {subject.lower()} matters now\n"
            "- three questions for local leaders\n"
            "- where to find out more"
        )
        titles.append(DemoTitle(
            isbn=demo_isbn(n),
            details=PublicationDetails(
                title=f"{subject}: {form}",
                subtitle="Demo title (example only)",
                publisher=PUBLISHER,
                year=2020 + n % 6,
                pages=pages + 8 * (n % 5),
                price_pence=(500, 750, 850, 1000, 1250)[n % 5],
                summary=summary,
                pdf_url=None,
            ),
            stock=(0 if n % 13 == 12 else 25 + 10 * (n % 7)),  # a few out of stock, to see
        ))
    return titles


def draw_cover(title: str, colour: tuple[int, int, int]) -> bytes:
    """A plain JPEG cover: the title on a coloured ground, marked as a demo."""
    image = Image.new("RGB", COVER_SIZE, colour)
    draw = ImageDraw.Draw(image)
    bold = ImageFont.truetype(str(FONTS / "DejaVuSans-Bold.ttf"), 36)
    small = ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), 24)
    draw.rectangle((0, 0, COVER_SIZE[0], 22), fill=(255, 255, 255))
    y = 110
    for line in textwrap.wrap(title, width=17)[:9]:
        draw.text((40, y), line, font=bold, fill=(255, 255, 255))
        y += 47
    draw.text((40, COVER_SIZE[1] - 96), PUBLISHER, font=small, fill=(255, 255, 255))
    draw.text((40, COVER_SIZE[1] - 60), "Demo: not a real book", font=small, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def seed_demo(covers_dir: str) -> int:
    """Add the demo titles not yet in the catalogue, each with its cover; returns how many were
    added. Flushes; the caller commits."""
    titles = demo_titles()
    present = set(db.session.scalars(
        select(Publication.isbn).where(Publication.isbn.in_([t.isbn for t in titles]))
    ))
    added = 0
    for n, title in enumerate(titles):
        if title.isbn in present:
            continue
        publication = admin.create_publication(title.isbn, title.details, title.stock, ACTOR)
        covers.store_cover(
            publication, draw_cover(title.details.title, PALETTE[n % len(PALETTE)]), covers_dir, ACTOR
        )
        added += 1
    return added
