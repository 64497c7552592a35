"""Real-browser tests: Playwright driving Debian's Chromium against the shop and the Stripe sandbox,
both served over HTTP on loopback by the shared fixtures in ``tests/conftest.py``.

They are marked ``browser`` and skipped unless asked for, because they need Debian's
``chromium`` and the packages in ``tests/browser/requirements.txt`` / ``package.json``:

    make test-browser                      # installs those, then runs these tests
    BROWSER_TESTS=1 .venv/bin/python -m pytest tests/browser
    .venv/bin/python -m pytest tests/browser --browser

(``--browser`` is known to pytest only when ``tests/browser`` is named on the command line; the
environment variable works from anywhere.) Screenshots go to ``artifacts/screenshots/<test>/``.
Playwright never downloads a browser here: do not run ``playwright install``.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ISBN, WEBHOOK_SECRET, isbn13, make_publication

try:  # tests/browser/requirements.txt; `make test` does not install it, `make test-browser` does
    import playwright  # noqa: F401
except ImportError:
    # Without it these tests could not even be collected; they would be skipped anyway.
    collect_ignore_glob = ["test_*.py"]

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.browser.support import Tab

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SKIP_REASON = (
    "browser test: run `make test-browser` (or set BROWSER_TESTS=1, or pass --browser with "
    "tests/browser); it needs Debian's chromium and tests/browser/requirements.txt"
)


def pytest_addoption(parser):
    parser.addoption(
        "--browser", action="store_true", default=False, help="run the real-browser tests"
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives a real Chromium; skipped unless --browser or BROWSER_TESTS=1"
    )


def browser_tests_enabled(config) -> bool:
    if os.environ.get("BROWSER_TESTS", "").strip().lower() in ("1", "true", "yes"):
        return True
    try:
        return bool(config.getoption("--browser"))
    except ValueError:  # this conftest was loaded after the command line was parsed
        return False


def pytest_collection_modifyitems(config, items):
    if browser_tests_enabled(config):
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, launched once for the whole run."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("`chromium` is not installed: apt-get update && apt-get install -y chromium")
    if not AXE_JS.is_file():
        pytest.fail(f"{AXE_JS} is missing: run `npm ci` in tests/browser (make test-browser does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -r tests/browser/requirements.txt")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Shop:
    """Where things are, for one test: the live shop, the sandbox and the catalogue."""

    def __init__(self, url: str, sandbox, publication, other_publication):
        self.url = url
        self.sandbox = sandbox
        self.publication = publication
        self.other_publication = other_publication


@pytest.fixture
def shop(live_server, sandbox, publication, staff_user) -> Shop:
    """The shop on loopback, with the sandbox delivering signed webhooks to it and a second
    title in the catalogue, so that a search by ISBN has something to leave out."""
    sandbox.post(
        "/_sandbox/config",
        webhook_url=live_server + "/stripe/webhook",
        webhook_secret=WEBHOOK_SECRET,
        deliver_webhooks=True,
    )
    other = make_publication(
        isbn=isbn13(1),
        title="Improving the quality of care in general practice",
        subtitle="Independent inquiry",
        year=2011,
        pages=112,
        price_pence=1200,
    )
    assert publication.isbn == ISBN
    return Shop(live_server, sandbox, publication, other)


@pytest.fixture
def open_tab(chromium, shop, request) -> Iterator[Callable[..., Tab]]:
    """``open_tab(java_script_enabled=True)``: a new browser context and a watched page in it,
    screenshotting into ``artifacts/screenshots/<test name>/``."""
    from tests.browser.support import Tab, write_report

    folder = SCREENSHOTS / request.node.name.replace("[", "-").replace("]", "")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    contexts = []
    tabs: list[Tab] = []
    numbers = itertools.count(1)

    def open_(**context_options) -> Tab:
        options = {"viewport": {"width": 1280, "height": 900}, "locale": "en-GB", **context_options}
        context = chromium.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        tab = Tab(
            context.new_page(),
            shop_url=shop.url,
            folder=folder,
            axe_source=AXE_JS.read_text(encoding="utf-8"),
            numbers=numbers,
            javascript=options.get("java_script_enabled", True),
        )
        tabs.append(tab)
        return tab

    yield open_
    write_report(folder / "report.txt", [step for tab in tabs for step in tab.steps])
    for context in contexts:
        context.close()
