import pytest

from shop import create_app
from shop.config import load_config

PRODUCTION = {
    "SHOP_ENV": "production",
    "SECRET_KEY": "s" * 40,
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "SHOP_BASE_URL": "https://shop.example.org",
    "DATABASE_URL": "postgresql+psycopg://shop@db/shop",
    "SELLER_NAME": "A Real Publisher Ltd",
    "SELLER_ADDRESS": "2 Real Road, London, N1 1AA",
    "SELLER_EMAIL": "shop@publisher.example",
}


@pytest.fixture
def production_env(monkeypatch):
    for key, value in PRODUCTION.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("STRIPE_API_BASE", raising=False)
    return monkeypatch


def test_production_starts_with_every_secret(production_env):
    config = load_config()
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["STRIPE_API_BASE"] is None


@pytest.mark.parametrize("missing", ["SECRET_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "SHOP_BASE_URL",
                                     "SELLER_NAME", "SELLER_ADDRESS", "SELLER_EMAIL"])
def test_production_refuses_to_start_without_a_secret(production_env, missing):
    production_env.delenv(missing)
    with pytest.raises(RuntimeError, match=missing):
        create_app()


def test_production_never_falls_back_on_the_example_seller(production_env):
    production_env.setenv("SELLER_NAME", "   ")
    with pytest.raises(RuntimeError, match="SELLER_NAME"):
        load_config()
    production_env.setenv("SELLER_NAME", "A Real Publisher Ltd")
    config = load_config()
    assert (config["SELLER_NAME"], config["SELLER_EMAIL"]) == ("A Real Publisher Ltd", "shop@publisher.example")
    assert config["SELLER_PHONE"] is None and config["SELLER_VAT_NUMBER"] is None


def test_development_seller_is_plainly_an_example(monkeypatch):
    for key in ("SHOP_ENV", "SELLER_NAME", "SELLER_ADDRESS", "SELLER_EMAIL", "SELLER_PHONE", "SELLER_VAT_NUMBER"):
        monkeypatch.delenv(key, raising=False)
    config = load_config()
    assert "Example" in config["SELLER_NAME"] and "Example Street" in config["SELLER_ADDRESS"]
    assert config["SELLER_EMAIL"].endswith("@example.org")
    assert "King's Fund" not in " ".join(str(config[k]) for k in ("SELLER_NAME", "SELLER_ADDRESS"))
    assert config["SELLER_VAT_NUMBER"] is None  # shown only when a publisher sets it


def test_production_refuses_the_local_sandbox(production_env):
    production_env.setenv("STRIPE_API_BASE", "http://127.0.0.1:12111")
    with pytest.raises(RuntimeError, match="sandbox cannot be used in production"):
        load_config()


def test_development_defaults(monkeypatch):
    for key in ["SHOP_ENV", "SECRET_KEY", "DATABASE_URL", "STRIPE_SECRET_KEY"]:
        monkeypatch.delenv(key, raising=False)
    config = load_config()
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///") and "instance" in config["SQLALCHEMY_DATABASE_URI"]
    assert config["MAX_COPIES_PER_LINE"] == 50
    assert config["SESSION_COOKIE_SECURE"] is False


def test_a_malformed_number_names_its_setting(monkeypatch):
    monkeypatch.setenv("MAX_COPIES_PER_LINE", "fifty")
    with pytest.raises(RuntimeError, match="MAX_COPIES_PER_LINE"):
        load_config()


def test_the_shop_starts_with_rate_limits_switched_off(database_url):
    # Flask-Limiter then registers no request hook for the shop to remove.
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, "RATELIMIT_ENABLED": False})
    assert app.test_client().get("/staff/login").status_code == 200


def test_staff_passwords_are_hashed_at_rfc_9106_cost_unless_told_otherwise(monkeypatch):
    """The suite hashes cheaply (conftest.CHEAP_HASHING); a real shop must not."""
    from argon2.profiles import RFC_9106_LOW_MEMORY

    for key in ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB", "ARGON2_PARALLELISM"):
        monkeypatch.delenv(key, raising=False)
    config = load_config()
    assert (config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_KIB"], config["ARGON2_PARALLELISM"]) == (
        RFC_9106_LOW_MEMORY.time_cost, RFC_9106_LOW_MEMORY.memory_cost, RFC_9106_LOW_MEMORY.parallelism
    )
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        from shop.staff.auth import _hashing

        hashed = _hashing().hasher.hash("a long enough passphrase")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
