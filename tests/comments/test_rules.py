"""The comments' rules and how a comment's text becomes HTML: every character escaped, whatever
it is."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shop.comments import rules
from shop.comments.text import paragraphs

OUR_TAGS = re.compile(r'<p>|</p>|<br>|<a href="https?://[^"<>]+" rel="nofollow ugc">|</a>')


@given(st.text(max_size=300))
@settings(max_examples=400, deadline=None)
def test_no_text_becomes_markup_of_its_own(text):
    html = str(paragraphs(text))
    assert "<" not in OUR_TAGS.sub("", html)
    assert '"' not in re.sub(r'href="[^"]*"|rel="nofollow ugc"', "", html)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_cleaning_a_line_is_stable(value):
    once = rules.clean_line(value)
    assert rules.clean_line(once) == once and "\n" not in once


def test_paragraphs_lines_and_links():
    assert str(paragraphs(rules.clean_text("One\r\nline two\r\n\r\n\r\n  Next"))) == "<p>One<br>\nline two</p><p>Next</p>"
    assert str(paragraphs("(see https://example.org/a_b.)")) == (
        '<p>(see <a href="https://example.org/a_b" rel="nofollow ugc">https://example.org/a_b</a>.)</p>'
    )
    assert str(paragraphs("javascript:alert(1) and data:text/html,<b>")) == (
        "<p>javascript:alert(1) and data:text/html,&lt;b&gt;</p>"
    )
    assert str(paragraphs('https://x.example/"onmouseover="y')) == (
        '<p><a href="https://x.example/" rel="nofollow ugc">https://x.example/</a>&#34;onmouseover=&#34;y</p>'
    )
    assert str(paragraphs("https://x.example/a", links=False)) == "<p>https://x.example/a</p>"


@pytest.mark.parametrize("text, links", [
    ("no links at all", 0), ("https://a.example/x", 1), ("www.a.example and http://b.example", 2),
    ("https://www.a.example counts once", 1), ("HTTPS://A.EXAMPLE", 1), ("wwwhat", 0),
])
def test_links_are_counted_as_spam_writes_them(text, links):
    assert rules.count_links(text) == links


def test_the_link_cap_says_what_to_do():
    with pytest.raises(rules.RuleBroken, match=r"has 1 link; it may have no links\. Please remove them"):
        rules.check_text("see www.a.example", max_links=0)
    rules.check_text("see www.a.example and www.b.example", max_links=2)
    rules.check_text("many " * 5 + "www.a.example " * 9)  # no cap: staff edits and imports
