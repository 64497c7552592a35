"""What would the recommended changes buy? In-process timings (Flask test client, no network) of
the benchmark's pages, as the shop is and with each change simulated in this process only.

    .venv/bin/python -m bench.whatif --db sqlite:///artifacts/bench.sqlite3

Nothing under shop/ is edited: each variant patches a function or a setting here, for sizing a
recommendation in BENCHMARKS.md, not as the fix itself. Public pages are requested as a new visitor
each time (no cookie), as the load generator does. (The shop has since adopted some of these: the
staff list's separate count in 82c79b9 (its variant is gone from here), cached ISBN and money
formatting in 6201821; their rows now show little difference.)
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import time
from contextlib import contextmanager

from bench.settings import SECRET_KEY, STAFF_EMAIL, STAFF_PASSWORD
from tests.support import csrf_token


def _ms(hit, n: int) -> float:
    for _ in range(max(3, n // 10)):
        hit()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            hit()
        best = min(best, (time.perf_counter() - started) / n * 1000)
    return best


@contextmanager
def patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def fast_pence(pence: int, currency: str = "GBP") -> str:
    """What Babel prints for GBP in en_GB, without Babel: '£1,234.50'."""
    sign = "-" if pence < 0 else ""
    return f"{sign}£{abs(pence) // 100:,}.{abs(pence) % 100:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("-n", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ["SHOP_ENV"] = "development"
    url = args.db
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = "sqlite:///" + os.path.abspath(url[len("sqlite:///"):])
    os.environ["BENCH_DATABASE_URL"] = url

    import shop.catalogue.models
    import shop.isbn
    import shop.money
    from bench import targets
    from bench.apps.ceiling import app as ceiling_app
    from bench.apps.realistic import app as realistic_app
    from bench.datagen import isbn13
    from shop import create_app

    public = {
        "publication": f"/publications/{isbn13(targets.PUBLICATION_ID)}",
        "50 comments": f"/publications/{isbn13(targets.COMMENTED_PUBLICATION_ID)}",
        "catalogue 1": "/",
        "catalogue 200": "/?page=200",
        "search": "/?q=" + targets.SEARCH.replace(" ", "+"),
    }
    staff = {
        "staff orders": "/staff/orders",
        "staff filtered": "/staff/orders" + targets.staff_filtered_query(),
        "staff search": "/staff/orders?q=" + targets.STAFF_SEARCH,
    }
    ceiling = _ms(lambda: ceiling_app.test_client().get("/").get_data(), args.n)
    realistic = _ms(lambda: realistic_app.test_client().get(targets.realistic_request().path).get_data(), args.n)
    print(f"in-process ms/request (best of 3 x {args.n}); ceiling {ceiling:.2f} ms, realistic ceiling {realistic:.2f} ms")

    def measure(label: str, config: dict | None = None) -> None:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY, **(config or {})})
        cells = []
        for path in public.values():
            def hit(path=path):
                response = app.test_client().get(path)
                response.get_data()
                assert response.status_code == 200, response.status_code
            ms = _ms(hit, args.n)
            cells.append(f"{ms:6.2f} ({realistic / ms:4.0%})")
        client = app.test_client()
        page = client.get("/staff/login").get_data(as_text=True)
        token = csrf_token(page) or ""
        signed = client.post("/staff/login", data={"csrf_token": token, "email": STAFF_EMAIL,
                                                   "password": STAFF_PASSWORD}).status_code == 303
        for path in staff.values():
            if not signed:
                cells.append("   n/a")
                continue
            cells.append(f"{_ms(lambda path=path: client.get(path).get_data(), max(5, args.n // 20)):7.1f}")
        print(f"{label:44s} " + "  ".join(cells), flush=True)

    print(f"{'variant':44s} " + "  ".join(f"{k:>13s}" for k in public) + "  " + "  ".join(f"{k:>7s}" for k in staff))
    print(f"{'':44s} " + "  ".join(f"{'ms (vs real.)':>13s}" for _ in public) + "  " + "  ".join(f"{'ms':>7s}" for _ in staff))
    measure("as is")
    cached = functools.lru_cache(maxsize=65536)(shop.isbn.hyphenate)
    with patched(shop.isbn, "hyphenate", cached), patched(shop.catalogue.models, "hyphenate", cached):
        measure("ISBN hyphenation cached (lru_cache)")
    with patched(shop.money, "format_pence", fast_pence):
        measure("money formatted without Babel")
    with patched(shop.isbn, "hyphenate", cached), patched(shop.catalogue.models, "hyphenate", cached), \
            patched(shop.money, "format_pence", fast_pence):
        measure("both")
    measure("Flask-Limiter off (RATELIMIT_ENABLED=False)", {"RATELIMIT_ENABLED": False})
    measure("no CSRF token (WTF_CSRF_ENABLED=False)", {"WTF_CSRF_ENABLED": False})
    with patched(shop.isbn, "hyphenate", cached), patched(shop.catalogue.models, "hyphenate", cached), \
            patched(shop.money, "format_pence", fast_pence):
        measure("all of the above but limiter/CSRF", {})
        measure("all of the above", {"RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False})


if __name__ == "__main__":
    main()
