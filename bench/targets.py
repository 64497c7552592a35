"""What is measured: the shop's pages as a load generator replays them, and the two ceilings.

``prepare(shop_url)`` uses the forms over HTTP (CSRF tokens included) to make the cookies the
load replays: a basket of five titles, and a signed-in member of staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlencode

import requests

from bench.browser import Browser
from bench.datagen import COMMENTED_PUBLICATION_ID, COMMENTS_SHOWN, isbn13
from bench.load import Request
from bench.settings import STAFF_EMAIL, STAFF_PASSWORD, USER_AGENT

_http = requests.Session()
_http.trust_env = False  # loopback only: never through a proxy
_http.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # each request says its own cookie

PUBLICATION_ID = 250  # the publication page and the realistic ceiling show the same row (in both datasets)
SEARCH = "improving mental health"
STAFF_SEARCH = "MacLeod"
BASKET_ISBNS = [isbn13(n) for n in range(1, 6)]
ADDED_ISBN = isbn13(6)


@dataclass
class Target:
    key: str
    label: str
    request: Request
    latency_run: bool = False  # also measured with one client at a time
    # Compared with the realistic ceiling in one-second slices (see bench.run.measure_rounds);
    # not for a page whose requests take a good part of a second when 8 wait in line.
    sliced: bool = True


def ceiling_request() -> Request:
    return Request(path="/")


def realistic_request() -> Request:
    return Request(path=f"/publications/{PUBLICATION_ID}")


def staff_filtered_query() -> str:
    return "?" + urlencode({"status": "to_pack", "date_from": (date.today() - timedelta(days=90)).isoformat()})


def prepare(shop_url: str, deep_page: int = 200) -> list[Target]:
    # A basket of five titles, added through the publication pages' forms (which carry no CSRF
    # token: the shop refuses cross-origin posts instead).
    shopper = Browser(shop_url)
    for isbn in BASKET_ISBNS:
        shopper.get(f"/publications/{isbn}")
        answer = shopper.post("/basket/add", {"isbn": isbn, "quantity": "1"})
        if answer.status_code != 303:
            raise RuntimeError(f"adding {isbn} answered {answer.status_code}")
    page = shopper.get("/basket")  # shows (and so clears) the flash messages
    if page.status_code != 200 or "(5 copies)" not in page.text:
        raise RuntimeError("the basket does not hold the five titles")
    basket_cookie = {"Cookie": shopper.cookie_header()}
    add_body = urlencode({"isbn": ADDED_ISBN, "quantity": "1"})

    # Check the replayed add once: it must land (a 303 whose new cookie shows the message).
    check = _http.post(shop_url + "/basket/add", data=add_body, allow_redirects=False, timeout=30,
                          headers={**basket_cookie, "User-Agent": USER_AGENT,
                                   "Content-Type": "application/x-www-form-urlencoded"})
    new_cookie = check.cookies.get("session")
    shown = _http.get(shop_url + "/basket", headers={"Cookie": f"session={new_cookie}", "User-Agent": USER_AGENT},
                         timeout=30).text
    if check.status_code != 303 or "Added 1 copy" not in shown:
        raise RuntimeError(f"the replayed add-to-basket does not work ({check.status_code})")

    staff = Browser(shop_url)
    staff.sign_in(STAFF_EMAIL, STAFF_PASSWORD)
    if staff.get("/staff/orders").status_code != 200:
        raise RuntimeError("staff sign-in did not stick")
    staff_cookie = {"Cookie": staff.cookie_header()}

    pub = isbn13(PUBLICATION_ID)
    return [
        Target("publication", "publication page", Request(path=f"/publications/{pub}")),
        Target("publication_comments", f"publication page, {COMMENTS_SHOWN} comments",
               Request(path=f"/publications/{isbn13(COMMENTED_PUBLICATION_ID)}")),
        Target("catalogue_1", "catalogue page 1", Request(path="/")),
        Target("catalogue_200", f"catalogue page {deep_page}", Request(path=f"/?page={deep_page}")),
        Target("search", f"catalogue search “{SEARCH}”", Request(path="/?" + urlencode({"q": SEARCH}))),
        # The same search typed in a new way each time (case varied): the shop reads its
        # listing afresh, as for the first reader of a search.
        Target("search_new", "the same search, first reading", Request(path="/?q=", varied_case=urlencode({"q": SEARCH})[2:])),
        Target("basket", "basket page, 5 lines", Request(path="/basket", headers=basket_cookie)),
        Target("add", "add to basket (POST)", Request("POST", "/basket/add", headers=basket_cookie,
                                                      body=add_body, expect=303)),
        Target("staff_orders", "staff orders, page 1", Request(path="/staff/orders", headers=staff_cookie),
               latency_run=True, sliced=False),
        Target("staff_filtered", "staff orders to pack, last 90 days",
               Request(path="/staff/orders" + staff_filtered_query(), headers=staff_cookie), latency_run=True,
               sliced=False),
        Target("staff_to_pack", "staff orders to pack (flagged first, oldest first)",
               Request(path="/staff/orders?status=to_pack", headers=staff_cookie), latency_run=True, sliced=False),
        Target("staff_search", f"staff orders, search “{STAFF_SEARCH}”",
               Request(path="/staff/orders?" + urlencode({"q": STAFF_SEARCH}), headers=staff_cookie),
               latency_run=True, sliced=False),
    ]


def check(base_url: str, request: Request) -> requests.Response:
    """Send one request as the load generator will; refuse to measure an error or a redirect."""
    answer = _http.request(request.method, base_url + request.sample_path(), data=request.body,
                              headers=request.all_headers(), allow_redirects=False, timeout=60)
    if answer.status_code != request.expect:
        raise RuntimeError(f"{request.method} {request.full_path} answered {answer.status_code}, "
                           f"not {request.expect}")
    return answer
