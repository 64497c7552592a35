"""Generated data: publications, orders with 1-3 lines each, and readers' comments, written with
bulk Core inserts.

The schema always comes from the shop's own migrations (``flask db upgrade``), so indexes are the
ones production has. Everything is deterministic for a given seed. Nothing here goes through the
ORM unit of work: rows are plain dicts inserted with ``executemany`` in chunks.
"""

from __future__ import annotations

import contextlib
import io
import random
import string
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import Engine, make_url

from tests.support import isbn13

CHUNK = 10_000

TOPICS = [
    "Leadership", "Engagement", "Integrated care", "Mental health", "Social care", "Primary care",
    "General practice", "Workforce", "Health inequalities", "Public health", "Commissioning",
    "Community services", "Hospital finances", "Patient safety", "Digital health",
    "Urgent and emergency care", "Dementia care", "Maternity services", "Population health",
    "Quality improvement", "NHS funding", "Care homes", "Children's health", "End of life care",
    "Obesity", "Alcohol policy", "Long-term conditions", "Waiting times",
    "Health and wellbeing boards", "Local government", "Volunteering", "Unpaid carers",
    "Housing and health", "Nursing", "Medical education", "Clinical commissioning",
    "Accountable care", "Place-based systems", "Health technology", "Data and analytics",
    "Hospital productivity", "Cancer services", "Learning disability services", "Pharmacy",
    "Dentistry", "Health visiting", "Prevention", "Person-centred care", "Staff wellbeing",
    "Clinical leadership",
]
PATTERNS = [
    "{t} in the NHS", "{t}", "The future of {tl}", "Improving {tl}", "{t} and {ul}",
    "Making the case for {tl}", "Transforming {tl}", "{t} in England", "Rethinking {tl}",
    "Funding {tl}", "Understanding {tl}", "{t}: lessons from {place}", "Reforming {tl}",
    "Delivering {tl} at scale", "{t} for older people", "A new settlement for {tl}",
    "Measuring {tl}", "{t} and {ul} in {place}", "Spending on {tl}", "Who cares? {t}",
]
SUBTITLES = [
    "together we can", "time to think differently", "what works", "a review of the evidence",
    "lessons from abroad", "the next ten years", "an independent review", "priorities for boards",
    "a guide for commissioners", "where next?", "how to get there", "building on progress",
    "the view from the front line", "a framework for action", "from vision to reality",
    "key facts and figures", "an analysis of trends", "options for reform", "a practical guide",
    "reflections on a decade of change",
]
PLACES = [
    "Canterbury", "Sweden", "Wales", "Scotland", "Jönköping", "Denmark", "the Netherlands",
    "Northern Ireland", "Greater Manchester", "Cornwall", "Torbay", "Québec", "New Zealand",
    "Kaiser Permanente", "Île-de-France",
]
PUBLISHERS = ["The King's Fund"] * 8 + ["Nuffield Trust", "Health Foundation"]
WORDS = ["care", "services", "patients", "staff", "funding", "system", "local", "national", "evidence", "quality", "access", "outcomes", "commissioners", "providers", "boards", "policy", "reform", "pressures", "demand", "capacity", "workforce", "primary", "community", "hospital", "integration", "prevention", "population", "inequalities", "budgets", "leadership", "culture", "improvement", "digital", "data", "partnership", "neighbourhood", "councils"]

FIRST = ["Ada", "Ben", "Chloë", "Dev", "Eilidh", "Farah", "Gareth", "Hannah", "Imran", "Jo", "Kwame", "Lucy", "Mohammed", "Niamh", "Oluwaseun", "Priya", "Rhys", "Siân", "Tom", "Uma", "Viktor", "Wen", "Xavier", "Yasmin", "Zoë", "Aoife", "Bartosz", "Catrin", "Dafydd", "Emeka", "Fatima", "Grace", "Hamish", "Isla", "Jakub", "Kiran", "Leila", "Marek", "Nadia", "Owen", "Patrick", "Rosa", "Sandeep", "Tariq", "Ursula", "Wiktoria", "Ahmed", "Bethan", "Callum", "Deborah"]
LAST = ["Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis", "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook", "Carter", "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox", "Richards", "Khan", "Marshall", "Anderson", "Simpson", "Ellis", "Adams", "Singh", "Begum", "Wilkinson", "Foster", "Chapman", "Powell", "Webb", "Rogers", "Gray", "Mason", "Ali", "Hunt", "Hussain", "Campbell", "Matthews", "Owen", "Palmer", "Holmes", "Mills", "Barnes", "Knight", "Lloyd", "Butler", "Russell", "Barker", "Fisher", "Stevens", "Jenkins", "O'Neill", "Ó_Briain", "Nguyễn", "Kowalski", "MacLeod"]
LAST = [name.replace("_", " ") for name in LAST]
DOMAINS = ["example.org", "example.com", "nhs.example.net", "council.example.gov", "mail.example.co.uk"]
CITIES = [
    ("London", "E"), ("London", "SW"), ("London", "N"), ("Leeds", "LS"), ("Manchester", "M"),
    ("Birmingham", "B"), ("Bristol", "BS"), ("Cardiff", "CF"), ("Glasgow", "G"), ("Edinburgh", "EH"),
    ("Belfast", "BT"), ("Newcastle upon Tyne", "NE"), ("Sheffield", "S"), ("Nottingham", "NG"),
    ("Norwich", "NR"), ("Exeter", "EX"), ("Aberdeen", "AB"), ("Brighton", "BN"), ("York", "YO"),
    ("Oxford", "OX"),
]
ABROAD = [
    ("europe", "IE", "Dublin", "D02 X285"), ("europe", "FR", "Paris", "75011"),
    ("europe", "DE", "Berlin", "10115"), ("europe", "NL", "Utrecht", "3511 AB"),
    ("europe", "SE", "Jönköping", "553 20"), ("world", "US", "Boston", "02115"),
    ("world", "AU", "Melbourne", "3000"), ("world", "CA", "Toronto", "M5V 2T6"),
    ("world", "NZ", "Christchurch", "8011"),
]
STREETS = ["High Street", "Station Road", "Church Lane", "Victoria Road", "Mill Lane", "Park Avenue",
           "King's Road", "Queen Street", "Ward Street", "Hospital Lane"]
CARRIERS = ["Royal Mail", "Royal Mail", "Royal Mail", "DPD", "Parcelforce"]
# Placed orders (paid, dispatched, refunded) are most; the rest never got paid.
UNPAID = [("expired", 55), ("cancelled", 25), ("payment_failed", 12), ("failed_to_start", 3),
          ("pending_payment", 5)]
# Not a status: an order partly refunded keeps "paid" or "dispatched" and carries the amount in
# refunded_pence (shop.orders.status). The generator draws it like one, then writes it so.
PARTLY_REFUNDED = "partly refunded"
POSTAGE = {"uk": [(1, 250), (3, 395), (10, 695), (None, 1195)],
           "europe": [(1, 650), (3, 1050), (10, 1950), (None, 3450)],
           "world": [(1, 950), (3, 1550), (10, 2950), (None, 4950)]}
_ALNUM = string.ascii_letters + string.digits


def postage(region: str, copies: int) -> int:
    for up_to, pence in POSTAGE[region]:
        if up_to is None or copies <= up_to:
            return pence
    raise AssertionError


def _ascii(text_: str) -> str:
    return unicodedata.normalize("NFKD", text_).encode("ascii", "ignore").decode().lower()


@dataclass
class Dataset:
    url: str
    publications: int
    orders: int
    lines: int
    seconds: float
    search_matches: int = 0


# -- schema -------------------------------------------------------------------------------------

def reset_schema(url: str) -> None:
    """An empty database with every migration of the shop applied."""
    from flask_migrate import upgrade

    from shop import create_app
    from shop.extensions import db

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database)
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        if parsed.get_backend_name() == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        with contextlib.redirect_stderr(io.StringIO()):  # alembic's INFO lines
            upgrade()
        db.engine.dispose()


def ensure_postgres_database(url: str) -> None:
    """Create the database named in ``url`` when it does not exist yet (like ``createdb``)."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                 {"n": parsed.database})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


# -- rows ---------------------------------------------------------------------------------------

def publication_rows(count: int, rng: random.Random, now: datetime):
    for n in range(1, count + 1):
        topic = rng.choice(TOPICS)
        other = rng.choice(TOPICS)
        title = rng.choice(PATTERNS).format(
            t=topic, tl=topic[0].lower() + topic[1:] if not topic.startswith("NHS") else topic,
            ul=other[0].lower() + other[1:] if not other.startswith("NHS") else other,
            place=rng.choice(PLACES),
        )
        if rng.random() < 0.15:
            title += f": briefing {rng.randint(1, 60)}"
        subtitle = rng.choice(SUBTITLES) if rng.random() < 0.6 else None
        # The first 20 are always buyable: the basket and add-to-basket targets use them.
        on_sale = n <= 20 or rng.random() < 0.97
        stock = 500 if n <= 20 else (0 if rng.random() < 0.04 else rng.randint(1, 800))
        year = rng.randint(1998, 2026)
        created = now - timedelta(days=rng.randint(0, 3000), seconds=rng.randint(0, 86399))
        yield {
            "id": n,
            "isbn": isbn13(n),
            "title": title[:300],
            "subtitle": subtitle,
            "publisher": rng.choice(PUBLISHERS),
            "year": year,
            "pages": rng.randint(12, 420),
            "price_pence": rng.randrange(500, 4550, 50),
            "stock": stock,
            "summary": " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 110))).capitalize() + ".",
            "pdf_url": f"https://publisher.example.org/reports/{isbn13(n)}.pdf" if rng.random() < 0.8 else None,
            # Most titles have an uploaded cover (pages show it with its srcset); the files
            # themselves are not served here, only the pages that name them.
            **({"cover_path": f"{isbn13(n)}-{rng.getrandbits(64):016x}.jpg", "cover_width": 900,
                "cover_height": 1273} if rng.random() < 0.8 or n in (250, 251) else
               {"cover_path": None, "cover_width": None, "cover_height": None}),
            "on_sale": on_sale,
            "created_at": created,
            "updated_at": created,
        }


class OrderMaker:
    """Orders spread over the past year, ids increasing with time like real inserts."""

    def __init__(self, rng: random.Random, publications: list[tuple[int, str, str, int]], now: datetime,
                 first_id: int = 1, first_line_id: int = 1):
        self.rng = rng
        self.pubs = publications  # (id, isbn, full title, price)
        self.now = now
        self.order_id = first_id
        self.line_id = first_line_id

    def _publication(self):
        # Skewed: a few titles sell far more than the rest.
        index = int(len(self.pubs) * self.rng.random() ** 2.5)
        return self.pubs[index]

    def _status(self, created: datetime) -> str:
        rng = self.rng
        age = self.now - created
        if rng.random() < 0.13:
            status = rng.choices([s for s, _ in UNPAID], [w for _, w in UNPAID])[0]
            if status == "pending_payment" and age > timedelta(hours=1):
                status = "expired"
            return status
        if age < timedelta(days=2):
            return "paid" if rng.random() < 0.9 else "dispatched"
        roll = rng.random()
        if roll < 0.015:
            return "paid"  # overdue for dispatch: the desk flags these
        if roll < 0.035:
            return "refunded"
        if roll < 0.045:
            return PARTLY_REFUNDED
        return "dispatched"

    def batch(self, count: int, span: timedelta, start: datetime, max_lines: int | None = None):
        """``count`` orders created between ``start`` and ``start + span``; stops early when
        ``max_lines`` lines are made (the last order may get fewer lines)."""
        rng = self.rng
        orders, lines = [], []
        step = span / max(count, 1)
        made_lines = 0
        for i in range(count):
            if max_lines is not None and made_lines >= max_lines:
                break
            created = start + step * i + timedelta(seconds=rng.uniform(0, step.total_seconds()))
            status = self._status(created)
            oid = self.order_id
            self.order_id += 1
            n_lines = rng.choices((1, 2, 3), (50, 30, 20))[0]
            if max_lines is not None:
                n_lines = min(n_lines, max_lines - made_lines)
            chosen = {}
            while len(chosen) < n_lines:
                pub = self._publication()
                chosen[pub[0]] = pub
            subtotal = copies = 0
            for pid, isbn, title, price in chosen.values():
                qty = rng.choices((1, 2, 3, 5, 10), (70, 15, 7, 5, 3))[0]
                subtotal += price * qty
                copies += qty
                lines.append({"id": self.line_id, "order_id": oid, "publication_id": pid, "isbn": isbn,
                              "title": title, "unit_price_pence": price, "quantity": qty})
                self.line_id += 1
            made_lines += n_lines
            orders.append(self._order(oid, created, status, subtotal, copies))
        return orders, lines

    def _order(self, oid: int, created: datetime, status: str, subtotal: int, copies: int) -> dict:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        if rng.random() < 0.85:
            region, country = "uk", "GB"
            city, area = rng.choice(CITIES)
            postcode = (f"{area}{rng.randint(1, 28)} {rng.randint(1, 9)}"
                        f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}")
        else:
            region, country, city, postcode = rng.choice(ABROAD)
        post = postage(region, copies)
        total = subtotal + post
        placed = status in ("paid", "dispatched", "refunded", PARTLY_REFUNDED)
        paid_at = created + timedelta(minutes=rng.uniform(1, 12)) if placed else None
        dispatched_at = (paid_at + timedelta(hours=rng.uniform(12, 70))
                         if status == "dispatched" or (status in ("refunded", PARTLY_REFUNDED) and rng.random() < 0.5)
                         else None)
        if dispatched_at and dispatched_at > self.now:
            dispatched_at = self.now
        refunded = total if status == "refunded" else (rng.randint(1, max(total - 1, 1)) // 50 * 50 or 50
                                                       if status == PARTLY_REFUNDED else 0)
        if status == PARTLY_REFUNDED:  # a fact beside the status, which stays paid or dispatched
            status = "dispatched" if dispatched_at else "paid"
        closed_at = created + timedelta(minutes=30) if status in ("expired", "cancelled", "payment_failed", "failed_to_start") else None
        has_session = status != "failed_to_start"
        email = f"{_ascii(first)}.{_ascii(last).replace(' ', '').replace(chr(39), '')}{rng.randint(1, 999)}@{rng.choice(DOMAINS)}"
        return {
            "id": oid,
            "reference": f"KF-{created.year}-{oid:06d}",
            "status": status,
            "region": region,
            "currency": "gbp",
            "subtotal_pence": subtotal,
            "postage_pence": post,
            "total_pence": total,
            "copies": copies,
            "stripe_session_id": f"cs_test_bench{oid:09d}" + "".join(rng.choices(_ALNUM, k=40)) if has_session else None,
            "checkout_error": "We could not reach our payment provider." if status == "failed_to_start" else None,
            "payment_intent_id": f"pi_bench{oid:09d}" if placed else None,
            "amount_charged_pence": total if placed else None,
            "currency_charged": "gbp" if placed else None,
            "amount_mismatch": placed and rng.random() < 0.002,
            "refunded_pence": refunded,
            "customer_email": email if placed else None,
            "customer_name": name if placed else None,
            "ship_name": name if placed else None,
            "ship_line1": f"{rng.randint(1, 240)} {rng.choice(STREETS)}" if placed else None,
            "ship_line2": (f"Flat {rng.randint(1, 40)}" if rng.random() < 0.2 else None) if placed else None,
            "ship_city": city if placed else None,
            "ship_state": None,
            "ship_postal_code": postcode if placed else None,
            "ship_country": country if placed else None,
            "carrier": rng.choice(CARRIERS) if dispatched_at else None,
            "tracking_number": f"RM{rng.randint(10**8, 10**9 - 1)}GB" if dispatched_at else None,
            "created_at": created,
            "updated_at": dispatched_at or paid_at or closed_at or created,
            "paid_at": paid_at,
            "dispatched_at": dispatched_at,
            "closed_at": closed_at,
        }


# The publication whose page the benchmark reads with 50 published comments (bench.targets); it
# also has comments waiting and rejected, which the page must leave out.
COMMENTED_PUBLICATION_ID = 251
COMMENTS_SHOWN = 50
JOB_TITLES = ["Practice nurse", "Head of engagement", "Clinical director", "GP partner", "Chief executive",
              "Policy officer", "Ward manager", "Medical director", "Researcher", "Director of nursing",
              "Patient representative", "Commissioning manager", "Consultant physician", "Student"]
ORGANISATIONS = ["Leeds PCT", "NHS Improving Quality", "Royal Free London NHS Foundation Trust",
                 "University of Birmingham", "Healthwatch Cornwall", "Greater Manchester ICS",
                 "Cardiff and Vale University Health Board", "Age UK", "NHS Providers", "Local Government Association"]


def comment_rows(rng: random.Random, now: datetime, publications: int):
    """Published, waiting, rejected and spam comments with one series of numbers: exactly
    ``COMMENTS_SHOWN`` published on ``COMMENTED_PUBLICATION_ID``, and some on one title in ten."""
    number = 0

    def comment(publication_id: int, status: str, posted: datetime) -> dict:
        nonlocal number
        number += 1
        paragraphs = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 45))).capitalize() + "."
            for _ in range(rng.choice((1, 1, 2, 3)))
        ]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        return {
            "id": number,
            "number": number,
            "publication_id": publication_id,
            "status": status,
            "name": f"{first} {last}",
            "job_title": rng.choice(JOB_TITLES) if rng.random() < 0.8 else None,
            "organisation": rng.choice(ORGANISATIONS) if rng.random() < 0.7 else None,
            "email": f"{_ascii(first)}.{rng.randint(1, 999)}@{rng.choice(DOMAINS)}",
            "text": "\n\n".join(paragraphs),
            "posted_at": posted,
            "moderated_at": None if status == "pending" else posted + timedelta(hours=rng.uniform(1, 48)),
            "moderated_by": None if status == "pending" else "desk@example.org",
            "revision": 1,
            "notified_at": None,
            "erased_at": None,
        }

    start = now - timedelta(days=400)
    for n in range(COMMENTS_SHOWN):
        yield comment(COMMENTED_PUBLICATION_ID, "approved", start + timedelta(days=n * 7, seconds=rng.randint(0, 86399)))
    for status in ("pending", "pending", "rejected", "spam"):
        yield comment(COMMENTED_PUBLICATION_ID, status, now - timedelta(hours=rng.randint(1, 200)))
    for publication_id in range(1, publications + 1, 10):
        if publication_id == COMMENTED_PUBLICATION_ID:
            continue
        for _ in range(rng.randint(0, 6)):
            status = rng.choices(("approved", "pending", "rejected", "spam"), (80, 5, 10, 5))[0]
            yield comment(publication_id, status, now - timedelta(days=rng.uniform(0, 700)))


# -- writing ------------------------------------------------------------------------------------

def _insert(conn, table, rows) -> int:
    """Bulk insert: Core ``executemany`` in chunks; on PostgreSQL, COPY (several times faster than
    even SQLAlchemy's batched multi-row INSERT, which matters for the 1M-line export data)."""
    rows = list(rows)
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        columns = list(rows[0])
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        return len(rows)
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[start:start + CHUNK])
    return len(rows)


def _fix_sequences(conn, engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    for table in ("publication", "shop_order", "order_line", "order_event", "staff_user", "refund", "comment"):
        conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
        ))


def analyze(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    finally:
        engine.dispose()


def generate(url: str, publications: int, orders: int | None = None, lines: int | None = None,
             seed: int = 1, log=print) -> Dataset:
    """Reset the schema and fill it: ``publications`` titles, then either ``orders`` orders or as
    many orders as make exactly ``lines`` order lines, spread over the past year."""
    from shop.catalogue.models import Publication
    from shop.comments.models import Comment
    from shop.orders.models import Order, OrderLine

    started = time.perf_counter()
    reset_schema(url)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    engine = create_engine(url)
    made_orders = made_lines = 0
    try:
        with engine.begin() as conn:
            _insert(conn, Publication.__table__, publication_rows(publications, rng, now))
            pubs = [
                (row.id, row.isbn, f"{row.title}: {row.subtitle}" if row.subtitle else row.title, row.price_pence)
                for row in conn.execute(select(Publication.id, Publication.isbn, Publication.title,
                                               Publication.subtitle, Publication.price_pence)
                                        .where(Publication.on_sale.is_(True)).order_by(Publication.id))
            ]
        maker = OrderMaker(rng, pubs, now)
        year_ago = now - timedelta(days=365)
        # Enough orders for ``lines`` lines: the mean is 1.7 lines an order.
        total_orders = orders if orders is not None else int(lines / 1.7) + 1000
        per_batch = 20_000
        batches = (total_orders + per_batch - 1) // per_batch
        span = (now - timedelta(minutes=2) - year_ago) / batches
        for b in range(batches):
            count = min(per_batch, total_orders - b * per_batch)
            left = None if lines is None else lines - made_lines
            if left is not None and left <= 0:
                break
            order_rows, line_rows = maker.batch(count, span, year_ago + span * b, max_lines=left)
            with engine.begin() as conn:
                made_orders += _insert(conn, Order.__table__, order_rows)
                made_lines += _insert(conn, OrderLine.__table__, line_rows)
        with engine.begin() as conn:
            # After the publications, so that the triggers give each a comments version.
            _insert(conn, Comment.__table__, comment_rows(rng, now, publications))
            _fix_sequences(conn, engine)
    finally:
        engine.dispose()
    analyze(url)
    seconds = time.perf_counter() - started
    log(f"  generated {publications:,} publications, {made_orders:,} orders, {made_lines:,} lines "
        f"in {seconds:.1f} s ({make_url(url).get_backend_name()})")
    return Dataset(url, publications, made_orders, made_lines, seconds)


def count_rows(url: str) -> dict[str, int]:
    from shop.catalogue.models import Publication
    from shop.orders.models import Order, OrderLine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "publications": conn.scalar(select(func.count()).select_from(Publication.__table__)),
                "orders": conn.scalar(select(func.count()).select_from(Order.__table__)),
                "lines": conn.scalar(select(func.count()).select_from(OrderLine.__table__)),
            }
    finally:
        engine.dispose()
