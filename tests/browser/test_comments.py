"""A reader posts a comment with the keyboard alone on a 375 px wide phone screen, meets a
mistake on the way, and sees it published once a moderator (in their own browser) has read it;
and the same without JavaScript. Every step is checked as in the journey: screenshots, axe-core,
width at 375 px, console errors."""

import pytest

from shop.comments.models import APPROVED, PENDING, Comment
from tests.browser.support import PHONE
from tests.browser.test_keyboard_and_no_javascript import FOCUSED, press_enter_and_wait, tab_to
from tests.conftest import ISBN, STAFF_EMAIL, STAFF_PASSWORD

pytestmark = pytest.mark.browser

NAME = "Ada Nurse"
JOB = "Practice nurse"
ORGANISATION = "Leeds PCT"
EMAIL = "ada.nurse@example.org"
TEXT = "A clear report; the chapter on engagement is the one to read first."
SECOND = "We have used it with our board."


def _comments(db) -> list[Comment]:
    db.session.expire_all()
    return list(db.session.query(Comment).order_by(Comment.number))


def test_post_a_comment_with_the_keyboard_alone_on_a_phone(open_tab, shop, app, db):
    from playwright.sync_api import expect

    app.config["COMMENTS_MIN_SECONDS"] = 1  # the typing below takes longer, at a person's pace
    reader = open_tab(viewport=PHONE)
    page = reader.page
    reader.goto(f"/publications/{ISBN}")

    tab_to(page, 'a[href="#comments"]', limit=60)  # "Comments: 0" near the top, linking down
    expect(page.locator(":focus")).to_have_text("Comments: 0")

    tab_to(page, "#comment-name", limit=60)
    page.keyboard.type(NAME, delay=20)
    tab_to(page, "#comment-job-title")
    page.keyboard.type(JOB, delay=20)
    tab_to(page, "#comment-organisation")
    page.keyboard.type(ORGANISATION, delay=20)
    tab_to(page, "#comment-text", limit=3)  # the email left empty: a mistake to correct
    page.keyboard.type(TEXT, delay=10)
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # a blank line: a new paragraph
    page.keyboard.type(SECOND, delay=10)
    # Past the privacy notice's link to the button, never through the robots' hidden field.
    focus_path = []
    for _ in range(3):
        page.keyboard.press("Tab")
        focus_path.append(page.evaluate(FOCUSED))
        if page.evaluate("() => document.activeElement.matches('.comment-form button')"):
            break
    assert focus_path[0].startswith('a "privacy notice"'), focus_path
    assert focus_path[-1] == 'button "Send comment"', focus_path
    assert not any("homepage" in step for step in focus_path), focus_path
    page.set_viewport_size(PHONE)
    reader.step("comment-form-filled")
    page.set_viewport_size(PHONE)
    page.locator(".comment-form button").focus()

    press_enter_and_wait(page)
    expect(page.get_by_role("alert")).to_contain_text("Enter your email address")
    expect(page.locator("#comment-text")).to_have_value(f"{TEXT}\n\n{SECOND}")  # nothing lost
    expect(page.locator("#comment-email")).to_have_attribute("aria-invalid", "true")
    reader.step("comment-email-missing", status=422)
    page.set_viewport_size(PHONE)
    assert _comments(db) == []

    tab_to(page, 'a[href="#comment-email"]')  # the error summary links to the field
    page.keyboard.press("Enter")
    expect(page.locator("#comment-email")).to_be_focused()
    page.keyboard.type(EMAIL, delay=80)
    tab_to(page, ".comment-form button", limit=10)
    press_enter_and_wait(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your comment")
    expect(page.get_by_role("status")).to_contain_text("waiting for moderation")
    reader.step("comment-sent")
    page.set_viewport_size(PHONE)
    [comment] = _comments(db)
    assert (comment.status, comment.name, comment.email) == (PENDING, NAME, EMAIL)
    assert comment.text == f"{TEXT}\n\n{SECOND}"
    assert reader.page.context.cookies() == []  # reading and commenting set no cookie

    # A moderator, in their own browser, publishes it from the queue.
    staff = open_tab()
    staff.goto("/staff/login")
    staff.page.get_by_label("Email").fill(STAFF_EMAIL)
    staff.page.get_by_label("Password").fill(STAFF_PASSWORD)
    staff.page.get_by_role("button", name="Sign in").click()
    expect(staff.page.get_by_text("1 comment waits for moderation")).to_be_visible()
    staff.goto("/staff/comments")
    expect(staff.page.get_by_role("row").filter(has_text=NAME)).to_have_count(1)
    staff.step("moderation-queue")
    staff.page.get_by_role("button", name=f"Publish comment #{comment.number}").click()
    expect(staff.page.get_by_role("status").first).to_contain_text(f"Published: #{comment.number}.")
    staff.step("moderation-published")
    assert _comments(db)[0].status == APPROVED

    # The reader follows the link back to the publication: their comment, at once.
    tab_to(page, f'main a[href="/publications/{ISBN}"]')
    press_enter_and_wait(page)
    shown = page.locator(f"#comment-{comment.number}")
    expect(shown).to_contain_text(f"#{comment.number}")
    expect(shown).to_contain_text(NAME)
    expect(shown).to_contain_text(JOB)
    expect(shown).to_contain_text(ORGANISATION)
    expect(shown.locator(".comment-text p")).to_have_count(2)
    expect(page.locator('a[href="#comments"]')).to_have_text("Comments: 1")
    assert EMAIL not in page.content()
    reader.step("comment-published")


def test_post_a_comment_without_javascript(open_tab, shop, app, db):
    from playwright.sync_api import expect

    app.config["COMMENTS_MIN_SECONDS"] = 0  # filled by the test at once, not typed
    reader = open_tab(java_script_enabled=False)
    page = reader.page
    reader.goto(f"/publications/{ISBN}")
    page.get_by_label("Name").fill(NAME)
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Comment", exact=True).fill(TEXT)
    page.get_by_role("button", name="Send comment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your comment")
    reader.step("no-js-comment-sent")
    assert [c.text for c in _comments(db)] == [TEXT]


def test_the_staff_comment_pages_pass_the_checks(open_tab, shop, db):
    from playwright.sync_api import expect

    from tests.comments.conftest import make_comment

    waiting = make_comment(shop.publication, status=PENDING, text="First line.\n\nSecond paragraph, https://example.org/a")
    make_comment(shop.publication, name="Published reader")
    staff = open_tab()
    staff.goto("/staff/login")
    staff.page.get_by_label("Email").fill(STAFF_EMAIL)
    staff.page.get_by_label("Password").fill(STAFF_PASSWORD)
    staff.page.get_by_role("button", name="Sign in").click()
    expect(staff.page.get_by_role("heading", name="Comments")).to_be_visible()
    staff.step("dashboard-with-comments-waiting")
    staff.goto(f"/staff/comments/{waiting.number}")
    staff.page.get_by_label("Comment", exact=True).fill("First line.")
    staff.page.get_by_role("button", name="Save changes").click()
    expect(staff.page.get_by_role("status").first).to_contain_text("saved")
    expect(staff.page.locator(".timeline")).to_contain_text("Edited by")
    staff.step("comment-edited")
    staff.goto(f"/staff/comments/publications/{ISBN}")
    staff.page.get_by_role("button", name="Close comments").click()
    expect(staff.page.get_by_role("status").first).to_contain_text("closed")
    staff.step("publication-comments-closed")
    staff.goto(f"/staff/comments/erase?email={waiting.email}")
    staff.page.get_by_role("button", name="Erase their details").click()
    expect(staff.page.get_by_role("status").first).to_contain_text("Erased")
    staff.step("erased")
