"""The page cache's holes: a cached page keeps them open, and every response fills them afresh."""

import itertools

import pytest
from flask import Flask

from shop.web import pagecache


@pytest.fixture
def tiny_app(tmp_path):
    app = Flask(__name__, template_folder=str(tmp_path))
    app.config.update(PUBLIC_PAGE_CACHE_SIZE=10, SECRET_KEY="k", SESSION_COOKIE_NAME="session")
    (tmp_path / "page.html").write_text(
        "<p>{{ text }}</p><input value=\"{{ page_hole('fresh-value') }}\">{{ page_hole('fresh-value') }}"
    )
    pagecache.init_app(app)
    counter = itertools.count(1)
    pagecache.register_hole(app, "fresh-value", lambda: f"<{next(counter)}>")
    renders = []

    @app.get("/")
    def page():
        def context():
            renders.append(1)
            return {"text": "<page-hole fresh-value>"}  # typed by a user: escaped, never a hole

        return pagecache.render_public_page("page.html", ("same",), context)

    app.renders = renders
    return app


def test_holes_are_filled_in_every_response_cached_or_not(tiny_app):
    client = tiny_app.test_client()
    first, second = (client.get("/").get_data(as_text=True) for _ in range(2))
    assert len(tiny_app.renders) == 1  # the second came from the cache
    assert first == '<p>&lt;page-hole fresh-value&gt;</p><input value="&lt;1&gt;">&lt;2&gt;'
    assert second == '<p>&lt;page-hole fresh-value&gt;</p><input value="&lt;3&gt;">&lt;4&gt;'


def test_a_reader_with_a_session_gets_the_holes_filled_too(tiny_app):
    client = tiny_app.test_client()
    client.set_cookie("session", "anything")
    assert "<page-hole" not in client.get("/").get_data(as_text=True)


def test_a_hole_name_must_be_plain(tiny_app):
    with pytest.raises(ValueError):
        pagecache.register_hole(tiny_app, "Not Plain", str)


def test_holes_are_filled_with_the_cache_turned_off(tiny_app):
    tiny_app.config["PUBLIC_PAGE_CACHE_SIZE"] = 0
    pagecache.init_app(tiny_app)
    pagecache.register_hole(tiny_app, "fresh-value", lambda: "filled")
    page = tiny_app.test_client().get("/").get_data(as_text=True)
    assert page.endswith('<input value="filled">filled')
