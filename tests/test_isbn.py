import pytest

from shop.errors import InvalidISBN
from shop.isbn import hyphenate, normalise


@pytest.mark.parametrize(
    "raw",
    ["9781857176407", "978-1-85717-640-7", "978 1 85717 640 7", " 978-1857176407 ", "1857176405", "1-85717-640-5"],
)
def test_every_form_of_the_isbn_gives_the_13_digits(raw):
    assert normalise(raw) == "9781857176407"


def test_isbn10_with_x_check_digit_converts():
    assert normalise("0-8044-2957-X") == "9780804429573"


def test_a_wrong_check_digit_says_so():
    with pytest.raises(InvalidISBN, match="check digit is wrong"):
        normalise("978-1-85717-640-8")


@pytest.mark.parametrize("raw", ["", "abc", "0-12-3", "97818571764071", "x" * 500])
def test_non_isbns_are_refused_with_the_input_quoted(raw):
    with pytest.raises(InvalidISBN, match="is not an ISBN") as error:
        normalise(raw)
    assert len(error.value.message) < 80


def test_hyphenation_follows_the_registration_ranges():
    assert hyphenate("9781857176407") == "978-1-85717-640-7"
