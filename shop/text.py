"""Text people type, shown as HTML safely: catalogue summaries, and the Markdown pages a publisher
may put in ``instance/pages/``.

Both go through markdown-it-py with raw HTML switched off, so a ``<script>`` (or any other tag)
typed into a summary or a page is shown as the characters typed, never run; link addresses are
checked by markdown-it (no ``javascript:``, ``vbscript:``, ``file:`` or ``data:`` links)."""

from functools import lru_cache

from markdown_it import MarkdownIt
from markupsafe import Markup

# A summary keeps its paragraphs (a blank line), its line breaks, simple lists and emphasis;
# nothing else Markdown can do (headings, links, images, code blocks) is read as such.
_summaries = MarkdownIt("zero", {"html": False, "breaks": True}).enable(
    ["list", "emphasis", "newline", "escape"]
)
# A page: CommonMark and tables, still without raw HTML.
_pages = MarkdownIt("commonmark", {"html": False}).enable("table")


@lru_cache(maxsize=1024)
def summary_html(text: str | None) -> Markup:
    """A summary as safe HTML paragraphs and lists."""
    return Markup(_summaries.render(text or ""))  # markdown-it escapes; raw HTML is off


def page_html(text: str) -> Markup:
    """A publisher's Markdown page as safe HTML."""
    return Markup(_pages.render(text))  # markdown-it escapes; raw HTML is off


def plain_summary(text: str | None) -> str:
    """A summary on one line, without the Markdown marks, for a meta description."""
    lines = (line.strip().lstrip("-*+ ").strip() for line in (text or "").splitlines())
    return " ".join(line for line in lines if line)
