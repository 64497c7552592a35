"""One customer's journey, repeated: catalogue, publication, basket, checkout, payment on the
Stripe sandbox's hosted page, confirmation. Run by loadtest/run.py (``make load``)."""

import os
import random

from locust import HttpUser, between, task

from tests.support import csrf_token  # run with the project root on PYTHONPATH (loadtest/run.py)

ISBNS = os.environ["LOAD_ISBNS"].split(",")
CARD = {
    "email": "load@example.org", "name": "Load Tester", "line1": "1 Test Street", "line2": "",
    "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB",
    "card_number": "4242 4242 4242 4242", "expiry": "12/34", "cvc": "123",
}


class Customer(HttpUser):
    wait_time = between(0.2, 1.0)

    @task
    def buy_a_copy(self) -> None:
        self.client.cookies.clear()
        isbn = random.choice(ISBNS)
        self.client.get("/", name="1 catalogue")
        self.client.get(f"/publications/{isbn}", name="2 publication")
        quantity = random.randint(1, 3)
        self.client.post("/basket/add", data={"isbn": isbn, "quantity": quantity},
                         allow_redirects=False, name="3 add to basket")
        token = csrf_token(self.client.get("/basket", name="4 basket").text)
        if token is None:
            return
        checkout = self.client.post("/checkout", data={"csrf_token": token}, allow_redirects=False, name="5 checkout")
        pay_url = checkout.headers.get("Location", "")
        if "/pay/" not in pay_url:
            return
        paid = self.client.post(pay_url, data=CARD, allow_redirects=False, name="6 payment (sandbox)")
        confirmation = paid.headers.get("Location", "")
        if confirmation:
            self.client.get(confirmation, name="7 confirmation")
