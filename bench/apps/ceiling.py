"""The ceiling: a bare Flask app returning a short string. ``gunicorn bench.apps.ceiling:app``"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "ok"
