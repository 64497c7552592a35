import secrets

import pytest

from shop import create_app
from shop.config import load_config

# A key made as the error message says: secrets.token_urlsafe(48).
STRONG_KEY = "qMNPczxkMD_D42p339G9oTbLlmBrOnjQmFmxQugcMwqYlMtpCZkUyzH2qONnwSd7"
PRODUCTION = {
    "SHOP_ENV": "production",
    "SECRET_KEY": STRONG_KEY,
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "SHOP_BASE_URL": "https://shop.example.org",
    "DATABASE_URL": "postgresql+psycopg://shop@db/shop",
    "SELLER_NAME": "A Real Publisher Ltd",
    "SELLER_ADDRESS": "2 Real Road, London, N1 1AA",
    "SELLER_EMAIL": "shop@publisher.example",
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
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


# --- finding 1: weak secrets and a mistyped environment -----------------------------------------

@pytest.mark.parametrize(
    "key",
    [
        "dev-only-not-secret",  # the published development default
        "a",
        " ",
        "s" * 40,
        "s" * 200,  # long, but one letter: nothing random in it
        "ab" * 100,
        "correct horse battery",
        "k" * 32,
        "dev-only-not-secret" * 3,  # the published key, repeated
        "0123456789abcdef" * 4,  # hex digits, all different, but a pattern
        "Q7f!" + "dev-only-not-secret" + "x9Z_" * 10,  # the published key inside a longer one
    ],
)
def test_production_refuses_a_weak_secret_key_and_says_how_to_make_one(production_env, key):
    production_env.setenv("SECRET_KEY", key)
    with pytest.raises(RuntimeError, match="SECRET_KEY") as refused:
        create_app()
    assert 'python -c "import secrets; print(secrets.token_urlsafe(48))"' in str(refused.value)


@pytest.mark.parametrize("maker", [lambda: secrets.token_urlsafe(48), lambda: secrets.token_hex(32)])
def test_production_accepts_generated_keys(production_env, maker):
    for _ in range(20):
        production_env.setenv("SECRET_KEY", maker())
        assert load_config()["SECRET_KEY"]


def test_the_entropy_estimate(production_env):
    from shop.config import estimated_bits

    assert estimated_bits("") == 0
    assert estimated_bits("s" * 500) == 0
    assert estimated_bits(STRONG_KEY) >= 256
    assert estimated_bits("9d5adfc460a062b8c9474db9c8ff9056b97fe65dbbda43f263c5e3e40d3d9d68") == 256  # hex: 4 bits a digit
    assert estimated_bits("9d5adfc460a062b8c9474db9c8ff9056") == 128  # secrets.token_hex(16): too short


@pytest.mark.parametrize("env", ["Production", "production ", " production", "PRODUCTION", "prod", "staging", ""])
def test_an_unknown_shop_env_is_refused(monkeypatch, env):
    monkeypatch.setenv("SHOP_ENV", env)
    with pytest.raises(RuntimeError, match="SHOP_ENV"):
        load_config()


@pytest.mark.parametrize("env", ["development", "test"])
def test_the_other_environments_start(monkeypatch, env):
    monkeypatch.setenv("SHOP_ENV", env)
    assert load_config()["SHOP_ENV"] == env


@pytest.mark.parametrize("url", ["http://shop.example.org", "shop.example.org", "ftp://shop.example.org", "https://"])
def test_production_refuses_a_base_url_that_is_not_https(production_env, url):
    production_env.setenv("SHOP_BASE_URL", url)
    with pytest.raises(RuntimeError, match="SHOP_BASE_URL"):
        load_config()


@pytest.mark.parametrize(
    "key, value", [("STRIPE_SECRET_KEY", "sk_test_local_sandbox"), ("STRIPE_WEBHOOK_SECRET", "whsec_local_sandbox")]
)
def test_production_refuses_the_sandboxs_own_keys(production_env, key, value):
    production_env.setenv(key, value)
    with pytest.raises(RuntimeError, match=key):
        load_config()


# --- finding 6: sign-in counts that each worker keeps to itself ---------------------------------

def test_production_refuses_memory_limits_unless_told_it_is_one_process(production_env):
    production_env.setenv("RATELIMIT_STORAGE_URI", "memory://")
    with pytest.raises(RuntimeError, match="RATELIMIT_STORAGE_URI"):
        load_config()
    production_env.setenv("RATELIMIT_ALLOW_MEMORY", "1")
    assert load_config()["RATELIMIT_STORAGE_URI"] == "memory://"


@pytest.mark.parametrize(
    "name, value",
    [("WEB_CONCURRENCY", "2"), ("GUNICORN_CMD_ARGS", "--bind 127.0.0.1:8000 --workers 3"),
     ("GUNICORN_CMD_ARGS", "-w 2"), ("GUNICORN_CMD_ARGS", "--workers=4")],
)
def test_memory_limits_are_refused_with_more_than_one_worker_even_when_allowed(production_env, name, value):
    production_env.setenv("RATELIMIT_STORAGE_URI", "memory://")
    production_env.setenv("RATELIMIT_ALLOW_MEMORY", "1")
    production_env.setenv(name, value)
    with pytest.raises(RuntimeError, match="workers"):
        load_config()


def test_gunicorns_own_command_line_counts_too(production_env, monkeypatch):
    from shop.config import declared_workers

    production_env.setenv("RATELIMIT_STORAGE_URI", "memory://")
    production_env.setenv("RATELIMIT_ALLOW_MEMORY", "1")
    monkeypatch.setattr("sys.argv", ["/srv/shop/.venv/bin/gunicorn", "--workers", "2", "wsgi:app"])
    assert declared_workers() == 2
    with pytest.raises(RuntimeError, match="workers"):
        load_config()


def test_the_shipped_gunicorn_config_refuses_two_workers_on_memory_limits(tmp_path):
    """deploy/gunicorn.conf.py's own worker count (2 unless WEB_CONCURRENCY says otherwise) is
    one the shop cannot see from inside a worker: the config's start-up hook refuses it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {key: value for key, value in os.environ.items()
           if key not in ("WEB_CONCURRENCY", "GUNICORN_CMD_ARGS", "RATELIMIT_STORAGE_URI")}
    env.update(SHOP_ENV="production", GUNICORN_BIND="127.0.0.1:0")
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(root / "deploy" / "gunicorn.conf.py"),
         "tests.deploy.whoami_app:app"],
        cwd=root, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    assert "with 2 workers: each worker would count sign-in attempts on its own" in done.stderr + done.stdout
def test_invoice_settings_have_their_defaults_and_refuse_what_cannot_work(monkeypatch):
    for key in ("INVOICE_MINIMUM", "INVOICE_MAX_COPIES_PER_LINE", "INVOICE_APPROVAL", "INVOICE_DAYS_UNTIL_DUE",
                "INVOICE_HOLD_LIMIT", "STRIPE_ALLOW_PROMOTION_CODES"):
        monkeypatch.delenv(key, raising=False)
    config = load_config()
    assert (config["INVOICE_MINIMUM"], config["INVOICE_MAX_COPIES_PER_LINE"], config["INVOICE_APPROVAL"],
            config["INVOICE_DAYS_UNTIL_DUE"], config["INVOICE_HOLD_LIMIT"]) == (4000, 500, "auto", 30, 1000)
    assert config["STRIPE_ALLOW_PROMOTION_CODES"] is False
    monkeypatch.setenv("INVOICE_APPROVAL", " Manual ")
    assert load_config()["INVOICE_APPROVAL"] == "manual"
    monkeypatch.setenv("INVOICE_APPROVAL", "sometimes")
    with pytest.raises(RuntimeError, match="INVOICE_APPROVAL must be auto or manual"):
        load_config()
    monkeypatch.setenv("INVOICE_APPROVAL", "auto")
    monkeypatch.setenv("INVOICE_DAYS_UNTIL_DUE", "0")
    with pytest.raises(RuntimeError, match="INVOICE_DAYS_UNTIL_DUE must be from 1 to 365"):
        load_config()
    monkeypatch.setenv("INVOICE_DAYS_UNTIL_DUE", "14")
    monkeypatch.setenv("STRIPE_ALLOW_PROMOTION_CODES", "1")
    assert load_config()["STRIPE_ALLOW_PROMOTION_CODES"] is True
