"""A WSGI app for tests/deploy/test_gunicorn_config.py: each request waits 0.3 s (a thread
waiting on a database or on Stripe) and says which worker process served it."""

import os
import time


def app(environ, start_response):
    time.sleep(0.3)
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
