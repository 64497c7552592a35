"""Configuration from the environment. Nothing is read at import time: ``load_config()`` does it."""

import os
from pathlib import Path
from typing import Any

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"

# Countries a Checkout Session accepts for each delivery region. Stripe needs an explicit list.
EUROPE = ["AD", "AL", "AT", "BA", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FO", "FR", "GI", "GL", "GR", "HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MC", "MD", "ME", "MK", "MT", "NL", "NO", "PL", "PT", "RO", "RS", "SE", "SI", "SK", "SM", "UA", "VA"]
REST_OF_WORLD = ["AE", "AR", "AU", "BD", "BR", "CA", "CL", "CN", "CO", "EG", "GH", "HK", "ID", "IL", "IN", "JM", "JP", "KE", "KR", "LK", "MX", "MY", "NG", "NZ", "PH", "PK", "QA", "SA", "SG", "TH", "TR", "TT", "TW", "US", "VN", "ZA", "ZM", "ZW"]

# Postage in pence by region and number of copies: the first band whose ``up_to`` covers the
# copy count applies; ``None`` is the open top band.
POSTAGE_REGIONS: dict[str, dict[str, Any]] = {
    "uk": {
        "label": "United Kingdom",
        "countries": ["GB"],
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

DEV_SECRET_KEY = "dev-only-not-secret"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}") from None


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'shop.sqlite3'}"


def load_config() -> dict[str, Any]:
    """Read settings from the environment; in production a missing secret stops start-up."""
    env = os.environ.get("SHOP_ENV", "development")
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
        "STRIPE_TIMEOUT_SECONDS": _int("STRIPE_TIMEOUT_SECONDS", 10),
        "STRIPE_MAX_RETRIES": _int("STRIPE_MAX_RETRIES", 2),
        "SHOP_BASE_URL": (
            os.environ.get("SHOP_BASE_URL") or ("" if production else "http://127.0.0.1:5000")
        ).rstrip("/"),
        "MAX_COPIES_PER_LINE": _int("MAX_COPIES_PER_LINE", 50),
        "CHECKOUT_EXPIRY_MINUTES": _int("CHECKOUT_EXPIRY_MINUTES", 30),
        "ORDER_REFERENCE_PREFIX": os.environ.get("ORDER_REFERENCE_PREFIX", "KF"),
        "CATALOGUE_PAGE_SIZE": _int("CATALOGUE_PAGE_SIZE", 20),
        # Rendered catalogue and publication pages kept per worker for readers without a session
        # (about 6 KB each; 0 turns the cache off). See shop.web.pagecache.
        "PUBLIC_PAGE_CACHE_SIZE": _int("PUBLIC_PAGE_CACHE_SIZE", 2000),
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
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 4 * 1024 * 1024),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session cookie
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "STAFF_LOGIN_LIMIT_PER_ADDRESS": os.environ.get(
            "STAFF_LOGIN_LIMIT_PER_ADDRESS", "20 per 10 minutes"
        ),
        "STAFF_LOGIN_LIMIT_PER_ACCOUNT": os.environ.get(
            "STAFF_LOGIN_LIMIT_PER_ACCOUNT", "5 per 10 minutes"
        ),
        # Each checkout holds copies for half an hour: one address cannot hold the whole stock.
        "CHECKOUT_LIMIT_PER_ADDRESS": os.environ.get(
            "CHECKOUT_LIMIT_PER_ADDRESS", "30 per 10 minutes"
        ),
        # Notify-me requests: how long a confirmation link works (an unconfirmed request is
        # then deleted), and how many requests one client address may make.
        "NOTIFY_CONFIRM_DAYS": _int("NOTIFY_CONFIRM_DAYS", 7),
        "NOTIFY_LIMIT_PER_ADDRESS": os.environ.get("NOTIFY_LIMIT_PER_ADDRESS", "10 per hour"),
        "STAFF_IDLE_MINUTES": _int("STAFF_IDLE_MINUTES", 60),
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
        "DISPATCH_WARNING_DAYS": _int("DISPATCH_WARNING_DAYS", 3),
        "LOW_STOCK_THRESHOLD": _int("LOW_STOCK_THRESHOLD", 20),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USE_TLS": os.environ.get("MAIL_USE_TLS", "").lower() in ("1", "true", "yes", "on"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_FROM": os.environ.get("MAIL_FROM", "The King's Fund print shop <orders@localhost>"),
        "MAIL_TIMEOUT_SECONDS": _int("MAIL_TIMEOUT_SECONDS", 10),
        # With no MAIL_SERVER, emails are written here as .eml files instead of being sent.
        "MAIL_FOLDER": os.environ.get("MAIL_FOLDER") or str(INSTANCE_DIR / "mail"),
        # Behind a proxy, how many X-Forwarded-For hops to trust (for rate limits by address).
        "TRUSTED_PROXY_HOPS": _int("TRUSTED_PROXY_HOPS", 0),
    }
    if not 30 <= config["CHECKOUT_EXPIRY_MINUTES"] <= 23 * 60:
        raise RuntimeError("CHECKOUT_EXPIRY_MINUTES must be from 30 to 1380 (Stripe allows 30 min to 24 h)")
    if production:
        check_production(config)
    return config


def check_production(config: dict[str, Any]) -> None:
    """Refuse to start a production shop on development defaults."""
    for key in ("SECRET_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "SHOP_BASE_URL"):
        if not config.get(key):
            raise RuntimeError(f"{key} must be set in the environment when SHOP_ENV=production")
    api_base = config.get("STRIPE_API_BASE")
    if api_base and not api_base.startswith("https://"):
        # The local sandbox speaks plain HTTP on loopback; it must never take real orders.
        raise RuntimeError(
            f"STRIPE_API_BASE={api_base!r} is not Stripe: a sandbox cannot be used in production"
        )
