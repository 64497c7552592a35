"""Configuration from the environment. Nothing is read at import time: ``load_config()`` does it."""

import math
import os
import string
import zlib
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"

# Countries a Checkout Session accepts for each delivery region. Stripe needs an explicit list.
EUROPE = ["AD", "AL", "AT", "BA", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FO", "FR", "GI", "GL", "GR", "HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MC", "MD", "ME", "MK", "MT", "NL", "NO", "PL", "PT", "RO", "RS", "SE", "SI", "SK", "SM", "UA", "VA"]
REST_OF_WORLD = ["AE", "AR", "AU", "BD", "BR", "CA", "CL", "CN", "CO", "EG", "GH", "HK", "ID", "IL", "IN", "JM", "JP", "KE", "KR", "LK", "MX", "MY", "NG", "NZ", "PH", "PK", "QA", "SA", "SG", "TH", "TR", "TT", "TW", "US", "VN", "ZA", "ZM", "ZW"]

# Postage in pence by region and number of copies: the first band whose ``up_to`` covers the
# copy count applies; ``None`` is the open top band.
POSTAGE_REGIONS: dict[str, dict[str, Any]] = {
    "uk": {
        # Royal Mail charges its UK prices to the Channel Islands and the Isle of Man.
        "label": "UK, Channel Islands and Isle of Man",
        "countries": ["GB", "GG", "IM", "JE"],
        "bands": [(1, 250), (3, 395), (10, 695), (None, 1195)],
    },
    "europe": {
        "label": "Europe",
        "countries": EUROPE,
        "bands": [(1, 650), (3, 1050), (10, 1950), (None, 3450)],
    },
    "world": {
        "label": "Rest of world",
        "countries": REST_OF_WORLD,
        "bands": [(1, 950), (3, 1550), (10, 2950), (None, 4950)],
    },
}

# How long delivery usually takes once an order is paid, in working days (from, to), by region
# key of POSTAGE_REGIONS: shown on the publication page, the basket, the confirmation and emails.
DELIVERY_ESTIMATES: dict[str, tuple[int, int]] = {
    "uk": (2, 5),
    "europe": (5, 10),
    "world": (7, 21),
}

# Carriers whose tracking page takes the number in its address; ``{number}`` is replaced by the
# tracking number (URL-quoted). A carrier not listed is shown with its plain number.
CARRIERS: dict[str, str] = {
    "Royal Mail": "https://www.royalmail.com/track-your-item#/tracking-results/{number}",
    "Parcelforce": "https://www.parcelforce.com/track-trace?trackNumber={number}",
    "DPD": "https://track.dpd.co.uk/parcels/{number}",
    "Evri": "https://www.evri.com/track/parcel/{number}/details",
}

# Who sells, in development: plainly an example (the 01632 960 numbers are Ofcom's, for drama).
DEVELOPMENT_SELLER = {
    "SELLER_NAME": "Example Publisher Ltd",
    "SELLER_ADDRESS": "1 Example Street, Exampleton, EX0 0EX, United Kingdom",
    "SELLER_EMAIL": "orders@example.org",
    "SELLER_PHONE": "01632 960000",
}
SELLER_KEYS = ("SELLER_NAME", "SELLER_ADDRESS", "SELLER_EMAIL", "SELLER_PHONE",
               "SELLER_VAT_NUMBER", "SELLER_REGISTRATION", "SELLER_ADR")
REQUIRED_SELLER_KEYS = ("SELLER_NAME", "SELLER_ADDRESS", "SELLER_EMAIL")

# Whether Stripe sends each invoice at once, or after a member of staff approves it.
INVOICE_APPROVALS = ("auto", "manual")
MAX_DAYS_UNTIL_DUE = 365

DEV_SECRET_KEY = "dev-only-not-secret"
ENVIRONMENTS = ("development", "production", "test")
# What scripts/run.sh gives the local sandbox: a production shop must never run on them.
SANDBOX_KEYS = {"STRIPE_SECRET_KEY": "sk_test_local_sandbox", "STRIPE_WEBHOOK_SECRET": "whsec_local_sandbox"}
MIN_SECRET_BITS = 256
ZLIB_FRAMING = 11  # bytes zlib adds around any input: header, end of block, checksum
MAKE_A_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
# Character classes for estimating a key's strength: (members, how many symbols the class has).
KEY_ALPHABETS = (
    (set(string.ascii_lowercase), 26),
    (set(string.ascii_uppercase), 26),
    (set(string.digits), 10),
    (set("-_"), 2),  # the rest of the URL-safe alphabet (secrets.token_urlsafe)
    (set(string.punctuation + " ") - set("-_"), 31),
)
HEX_DIGITS = (set("0123456789abcdef"), set("0123456789ABCDEF"))


def estimated_bits(key: str) -> int:
    """How many bits of randomness ``key`` could hold at most, as if each character were drawn
    at random from the alphabet of the character classes it uses: its length × log2(that
    alphabet). The classes are lower case (26), upper case (26), digits (10), ``-`` and ``_``
    (2), other ASCII punctuation and the space (31) and anything else (128); a key of hex digits
    alone counts as 16 symbols. A key whose characters repeat so much that they carry less than
    3 bits each by their own frequencies (``aaaa…``, ``abab…``) counts as 0, whatever its length.
    A repeated pattern is counted at most as its compressed size (zlib, less its 11 bytes of
    framing): ``"0123456789abcdef" * 4`` is about 128 bits, not 256.
    ``secrets.token_urlsafe(48)`` gives about 380; ``secrets.token_hex(32)`` exactly 256."""
    if not key:
        return 0
    compressed = 8 * max(len(zlib.compress(key.encode(), 9)) - ZLIB_FRAMING, 0)
    counts = Counter(key)
    per_character = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    if per_character < 3:
        return 0
    used = set(key)
    if any(used <= hex_digits for hex_digits in HEX_DIGITS):
        alphabet = 16
    else:
        known = set().union(*(members for members, _ in KEY_ALPHABETS))
        alphabet = sum(size for members, size in KEY_ALPHABETS if used & members)
        alphabet += 128 if used - known else 0
    return min(int(len(key) * math.log2(alphabet)), compressed)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}") from None


def _names(name: str) -> tuple[str, ...]:
    """A comma-separated list of names (``card,bacs_debit``), lower-cased, each once."""
    raw = os.environ.get(name) or ""
    names = [part.strip().lower() for part in raw.split(",") if part.strip()]
    return tuple(dict.fromkeys(names))


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "on")


def declared_workers() -> int:
    """How many worker processes gunicorn was asked for, as far as this process can see: the
    ``-w``/``--workers`` on its command line (a worker keeps its master's ``sys.argv``) or in
    ``GUNICORN_CMD_ARGS``, else ``WEB_CONCURRENCY`` (gunicorn's own default), else 1. A
    ``workers =`` in a gunicorn config file is not seen: deploy/gunicorn.conf.py takes it from
    WEB_CONCURRENCY for that reason."""
    import shlex
    import sys

    def from_args(args: list[str]) -> int | None:
        found = None
        for index, arg in enumerate(args):
            if arg in ("-w", "--workers") and index + 1 < len(args):
                found = args[index + 1]
            elif arg.startswith("--workers="):
                found = arg.partition("=")[2]
            elif arg.startswith("-w") and arg[2:].isdigit():
                found = arg[2:]
        return int(found) if found and found.isdigit() else None

    counts = [from_args(shlex.split(os.environ.get("GUNICORN_CMD_ARGS", "")))]
    if sys.argv and "gunicorn" in sys.argv[0]:
        counts.append(from_args(sys.argv[1:]))
    concurrency = os.environ.get("WEB_CONCURRENCY", "")
    counts.append(int(concurrency) if concurrency.isdigit() else None)
    return max((count for count in counts if count is not None), default=1)


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'shop.sqlite3'}"


def load_config() -> dict[str, Any]:
    """Read settings from the environment; in production a missing secret stops start-up."""
    env = os.environ.get("SHOP_ENV", "development")
    if env not in ENVIRONMENTS:
        # Exactly one of these: "Production" or "production " must not quietly run as development.
        raise RuntimeError(f"SHOP_ENV must be one of {', '.join(ENVIRONMENTS)} (exactly), got {env!r}")
    production = env == "production"
    config: dict[str, Any] = {
        "SHOP_ENV": env,
        "SHOP_NAME": os.environ.get("SHOP_NAME", "The King's Fund print shop"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO").upper(),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or (None if production else DEV_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL") or default_database_url(),
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        # A pooled connection idle this long is checked before use (not SQLite). See shop/__init__.
        "DATABASE_PING_AFTER_IDLE_SECONDS": _int("DATABASE_PING_AFTER_IDLE_SECONDS", 10),
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY"),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET"),
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE") or None,
        # Payment methods Checkout may offer (Stripe's names); empty: those the Stripe
        # dashboard turns on. Checked against stripe-python's list at start-up.
        "STRIPE_PAYMENT_METHODS": _names("STRIPE_PAYMENT_METHODS"),
        "STRIPE_TIMEOUT_SECONDS": _int("STRIPE_TIMEOUT_SECONDS", 10),
        "STRIPE_MAX_RETRIES": _int("STRIPE_MAX_RETRIES", 2),
        "SHOP_BASE_URL": (
            os.environ.get("SHOP_BASE_URL") or ("" if production else "http://127.0.0.1:5000")
        ).rstrip("/"),
        "MAX_COPIES_PER_LINE": _int("MAX_COPIES_PER_LINE", 50),
        # Stripe Checkout lets buyers enter a promotion code made in Stripe's dashboard.
        "STRIPE_ALLOW_PROMOTION_CODES": _flag("STRIPE_ALLOW_PROMOTION_CODES"),
        # Paying by invoice (shop.orders.invoicing): the least an order's copies must come to
        # (pence, before postage), the most copies of a title, whether staff approve each invoice
        # before Stripe sends it, and the days the organisation has to pay.
        "INVOICE_MINIMUM": _int("INVOICE_MINIMUM", 4000),
        "INVOICE_MAX_COPIES_PER_LINE": _int("INVOICE_MAX_COPIES_PER_LINE", 500),
        "INVOICE_APPROVAL": (os.environ.get("INVOICE_APPROVAL") or "auto").strip().lower(),
        "INVOICE_DAYS_UNTIL_DUE": _int("INVOICE_DAYS_UNTIL_DUE", 30),
        # Copies of a title that unpaid invoices from one client address, or one basket, may
        # hold at once (they hold them for weeks, not half an hour). See orders.holds.
        "INVOICE_HOLD_LIMIT": _int("INVOICE_HOLD_LIMIT", 2 * _int("INVOICE_MAX_COPIES_PER_LINE", 500)),
        "CHECKOUT_EXPIRY_MINUTES": _int("CHECKOUT_EXPIRY_MINUTES", 30),
        "ORDER_REFERENCE_PREFIX": os.environ.get("ORDER_REFERENCE_PREFIX", "KF"),
        "CATALOGUE_PAGE_SIZE": _int("CATALOGUE_PAGE_SIZE", 20),
        # Rendered catalogue and publication pages kept per worker for readers without a session
        # (about 6 KB each; 0 turns the cache off). See shop.web.pagecache.
        "PUBLIC_PAGE_CACHE_SIZE": _int("PUBLIC_PAGE_CACHE_SIZE", 2000),
        # Rendered rows of the staff order list kept per worker (about 1.5 KB each with their
        # keys; 0 turns the cache off). See shop.web.fragments.
        "FRAGMENT_CACHE_SIZE": _int("FRAGMENT_CACHE_SIZE", 2000),
        # How many publication ids a worker keeps of recent catalogue listings (8 bytes each).
        "CATALOGUE_LISTING_IDS": _int("CATALOGUE_LISTING_IDS", 500_000),
        # ONIX out: who the messages say they come from, and what each record's reference starts
        # with (then the ISBN): it must never change once sent, so recipients can match records.
        "ONIX_SENDER_NAME": os.environ.get("ONIX_SENDER_NAME")
        or os.environ.get("SHOP_NAME", "The King's Fund print shop"),
        "ONIX_RECORD_PREFIX": os.environ.get("ONIX_RECORD_PREFIX", "print-shop:"),
        "POSTAGE_REGIONS": POSTAGE_REGIONS,
        "DEFAULT_REGION": "uk",
        # The basket lives in the signed session cookie; permanent, so it outlives the browser.
        "PERMANENT_SESSION_LIFETIME": _int("BASKET_LIFETIME_DAYS", 30) * 86400,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        # Larger bodies are refused before anything reads them (a cover image is the largest).
        # Form fields one request may carry: a batch dispatch of STAFF_BATCH_LIMIT orders sends
        # a tracking field for each (Werkzeug's default is 1,000).
        "MAX_FORM_PARTS": _int("MAX_FORM_PARTS", 3000),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 4 * 1024 * 1024),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session cookie
        # Said outright: Flask-Limiter's one limiter object keeps the last app's setting.
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # memory:// keeps each process's counts to itself; production takes it only when told
        # that one process serves the shop (see check_production).
        "RATELIMIT_ALLOW_MEMORY": _flag("RATELIMIT_ALLOW_MEMORY"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "STAFF_LOGIN_LIMIT_PER_ADDRESS": os.environ.get(
            "STAFF_LOGIN_LIMIT_PER_ADDRESS", "20 per 10 minutes"
        ),
        # Failed sign-ins to one account from one address (or from one browser that has signed
        # in to it before), and from browsers it has never been used in, all addresses together.
        # Counted before the password is checked: shop.staff.throttle.
        "STAFF_LOGIN_LIMIT_PER_ACCOUNT": os.environ.get(
            "STAFF_LOGIN_LIMIT_PER_ACCOUNT", "5 per 10 minutes"
        ),
        "STAFF_LOGIN_LIMIT_UNKNOWN_BROWSERS": os.environ.get(
            "STAFF_LOGIN_LIMIT_UNKNOWN_BROWSERS", "30 per hour"
        ),
        "STAFF_KNOWN_BROWSER_DAYS": _int("STAFF_KNOWN_BROWSER_DAYS", 180),
        "STAFF_KNOWN_BROWSER_COOKIE_NAME": "shop_staff_device",
        # How often one address may start a checkout (each asks Stripe for a session).
        "CHECKOUT_LIMIT_PER_ADDRESS": os.environ.get(
            "CHECKOUT_LIMIT_PER_ADDRESS", "30 per 10 minutes"
        ),
        # Notify-me requests: how long a confirmation link works (an unconfirmed request is
        # then deleted), and how many requests one client address may make.
        "NOTIFY_CONFIRM_DAYS": _int("NOTIFY_CONFIRM_DAYS", 7),
        "NOTIFY_LIMIT_PER_ADDRESS": os.environ.get("NOTIFY_LIMIT_PER_ADDRESS", "10 per hour"),
        # Each checkout holds copies for half an hour: one address (or one basket) cannot hold
        # more than this many copies of a title in unpaid checkouts at once. See orders.holds.
        "CHECKOUT_HOLD_LIMIT": _int("CHECKOUT_HOLD_LIMIT", 2 * _int("MAX_COPIES_PER_LINE", 50)),
        # Staff sessions are rows in staff_session, named by their own cookie (shop.staff.sessions):
        # they end after this long without a request, and this long after signing in regardless.
        "STAFF_IDLE_MINUTES": _int("STAFF_IDLE_MINUTES", 60),
        "STAFF_SESSION_HOURS": _int("STAFF_SESSION_HOURS", 12),
        "STAFF_SESSION_COOKIE_NAME": "shop_staff",
        # A refund above this many pence needs the password typed in the last STAFF_REAUTH_MINUTES
        # (shop.staff.reauth); this many wrong tries end the session.
        "STAFF_REAUTH_REFUND_PENCE": _int("STAFF_REAUTH_REFUND_PENCE", 10_000),
        "STAFF_REAUTH_MINUTES": _int("STAFF_REAUTH_MINUTES", 10),
        "STAFF_REAUTH_LIMIT": "5 per 10 minutes",
        # Two-factor sign-in (shop.staff.totp): the roles that must have it (production: admin
        # and finance; checked against shop.staff.roles at start-up), and wrong codes allowed per
        # account, in a short and a long window, counted before each check.
        "STAFF_REQUIRE_2FA_ROLES": _names("STAFF_REQUIRE_2FA_ROLES")
        if "STAFF_REQUIRE_2FA_ROLES" in os.environ else (("admin", "finance") if production else ()),
        "STAFF_2FA_LIMIT": os.environ.get("STAFF_2FA_LIMIT", "5 per 10 minutes"),
        "STAFF_2FA_LIMIT_PER_DAY": os.environ.get("STAFF_2FA_LIMIT_PER_DAY", "20 per day"),
        # Argon2id cost of staff passwords: RFC 9106's low-memory profile (argon2-cffi's own
        # default). Raising it rehashes each password at its next sign-in.
        "ARGON2_TIME_COST": _int("ARGON2_TIME_COST", 3),
        "ARGON2_MEMORY_KIB": _int("ARGON2_MEMORY_KIB", 65536),
        "ARGON2_PARALLELISM": _int("ARGON2_PARALLELISM", 4),
        "STAFF_PASSWORD_MIN_LENGTH": 12,
        "STAFF_ORDERS_PER_PAGE": 50,
        "STAFF_CATALOGUE_PER_PAGE": 50,
        # Uploaded cover images, named by ISBN; outside the package so a deploy keeps them.
        "COVERS_DIR": os.environ.get("COVERS_DIR") or str(INSTANCE_DIR / "covers"),
        "COVER_MAX_BYTES": _int("COVER_MAX_BYTES", 2 * 1024 * 1024),
        # Catalogue imports: a larger file is refused unread, so a huge one cannot eat the memory.
        "CATALOGUE_IMPORT_MAX_BYTES": _int("CATALOGUE_IMPORT_MAX_BYTES", 20 * 1024 * 1024),
        "CATALOGUE_ONIX_MAX_BYTES": _int("CATALOGUE_ONIX_MAX_BYTES", 50 * 1024 * 1024),
        "CATALOGUE_IMPORT_MAX_ROWS": _int("CATALOGUE_IMPORT_MAX_ROWS", 50_000),  # rows or products
        "CATALOGUE_IMPORT_ERRORS_SHOWN": _int("CATALOGUE_IMPORT_ERRORS_SHOWN", 100),
        "DISPATCH_WARNING_DAYS": _int("DISPATCH_WARNING_DAYS", 3),
        "LOW_STOCK_THRESHOLD": _int("LOW_STOCK_THRESHOLD", 20),
        # Most orders one batch action (dispatch, slips, labels, Click & Drop) takes at once.
        "STAFF_BATCH_LIMIT": _int("STAFF_BATCH_LIMIT", 1000),
        # Address labels: which A4 sheet (shop.orders.labels.SHEETS).
        "LABEL_SHEET": os.environ.get("LABEL_SHEET", "L7160"),
        # Royal Mail Click & Drop export: grams of one copy and of the packing, and the service
        # codes (or aliases) of the account, for UK and for other addresses.
        "COPY_WEIGHT_GRAMS": _int("COPY_WEIGHT_GRAMS", 170),
        "PACKAGING_WEIGHT_GRAMS": _int("PACKAGING_WEIGHT_GRAMS", 40),
        "CLICK_DROP_SERVICE_UK": os.environ.get("CLICK_DROP_SERVICE_UK", "TPS48"),
        "CLICK_DROP_SERVICE_INTERNATIONAL": os.environ.get("CLICK_DROP_SERVICE_INTERNATIONAL", "MTK"),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USE_TLS": _flag("MAIL_USE_TLS"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_FROM": os.environ.get("MAIL_FROM", "The King's Fund print shop <orders@localhost>"),
        "MAIL_TIMEOUT_SECONDS": _int("MAIL_TIMEOUT_SECONDS", 10),
        # With no MAIL_SERVER, emails are written here as .eml files instead of being sent.
        "MAIL_FOLDER": os.environ.get("MAIL_FOLDER") or str(INSTANCE_DIR / "mail"),
        # Behind a proxy, how many X-Forwarded-For hops to trust (for rate limits by address).
        "TRUSTED_PROXY_HOPS": _int("TRUSTED_PROXY_HOPS", 0),
        "DELIVERY_ESTIMATES": DELIVERY_ESTIMATES,
        "CARRIERS": CARRIERS,
        # A publisher's own text for /terms, /privacy and the other pages: <name>.md here.
        "PAGES_DIR": os.environ.get("PAGES_DIR") or str(INSTANCE_DIR / "pages"),
        # Reader comments (shop.comments): who is told that one waits, how long rejected and spam
        # comments are kept, and the anti-spam limits of the public form.
        "COMMENTS_NOTIFY": os.environ.get("COMMENTS_NOTIFY", ""),
        "COMMENTS_RETENTION_DAYS": _int("COMMENTS_RETENTION_DAYS", 90),
        "COMMENTS_LIMIT_PER_ADDRESS": os.environ.get("COMMENTS_LIMIT_PER_ADDRESS", "10 per hour"),
        "COMMENTS_MAX_LINKS": _int("COMMENTS_MAX_LINKS", 2),
        "COMMENTS_MIN_SECONDS": _int("COMMENTS_MIN_SECONDS", 5),
        "COMMENTS_FORM_MAX_AGE_HOURS": _int("COMMENTS_FORM_MAX_AGE_HOURS", 24),
        "STAFF_COMMENTS_PER_PAGE": 50,
    }
    # Who sells: the footer of every page, every email, the packing slip and the receipt. In
    # production these come from the environment or the shop does not start.
    for key in SELLER_KEYS:
        default = None if production else DEVELOPMENT_SELLER.get(key)
        config[key] = (os.environ.get(key) or "").strip() or default
    if config["INVOICE_APPROVAL"] not in INVOICE_APPROVALS:
        raise RuntimeError(f"INVOICE_APPROVAL must be auto or manual, got {config['INVOICE_APPROVAL']!r}")
    if not 1 <= config["INVOICE_DAYS_UNTIL_DUE"] <= MAX_DAYS_UNTIL_DUE:
        raise RuntimeError(f"INVOICE_DAYS_UNTIL_DUE must be from 1 to {MAX_DAYS_UNTIL_DUE}")
    if not 30 <= config["CHECKOUT_EXPIRY_MINUTES"] <= 23 * 60:
        raise RuntimeError("CHECKOUT_EXPIRY_MINUTES must be from 30 to 1380 (Stripe allows 30 min to 24 h)")
    if production:
        check_production(config)
    return config


def check_production(config: dict[str, Any]) -> None:
    """Refuse to start a production shop on development defaults."""
    for key in ("SECRET_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "SHOP_BASE_URL",
                *REQUIRED_SELLER_KEYS):
        if not config.get(key):
            raise RuntimeError(f"{key} must be set in the environment when SHOP_ENV=production")
    secret = config["SECRET_KEY"]
    if DEV_SECRET_KEY in secret or estimated_bits(secret) < MIN_SECRET_BITS:
        # Anyone who can guess the key can sign a staff cookie or a CSRF token.
        raise RuntimeError(
            f"SECRET_KEY is too weak for production (under {MIN_SECRET_BITS} random bits, or the "
            f"development default). Make one with: {MAKE_A_KEY}"
        )
    for key, sandbox_value in SANDBOX_KEYS.items():
        if config[key] == sandbox_value:
            raise RuntimeError(f"{key} is the local sandbox's; set the key Stripe gave you")
    if config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
        # Each process would count sign-in attempts on its own: two workers, twice the guesses.
        workers = declared_workers()
        if not config["RATELIMIT_ALLOW_MEMORY"]:
            raise RuntimeError(
                "RATELIMIT_STORAGE_URI is memory://, which each process counts on its own: set it "
                "to redis://… (shared), or set RATELIMIT_ALLOW_MEMORY=1 if exactly one process "
                "serves the shop"
            )
        if workers > 1:
            raise RuntimeError(
                f"RATELIMIT_STORAGE_URI is memory:// but gunicorn runs {workers} workers, which "
                "would each count sign-in attempts on their own: use redis://…"
            )
    base = urlsplit(config["SHOP_BASE_URL"])
    if base.scheme != "https" or not base.hostname:
        raise RuntimeError(
            f"SHOP_BASE_URL must be the shop's https:// address in production, got {config['SHOP_BASE_URL']!r}"
        )
    api_base = config.get("STRIPE_API_BASE")
    if api_base and not api_base.startswith("https://"):
        # The local sandbox speaks plain HTTP on loopback; it must never take real orders.
        raise RuntimeError(
            f"STRIPE_API_BASE={api_base!r} is not Stripe: a sandbox cannot be used in production"
        )
