import pytest

from shop.money import InvalidAmount, decimal_pounds, format_pence, parse_pounds


@pytest.mark.parametrize(
    "pence, text",
    [(850, "£8.50"), (0, "£0.00"), (5, "£0.05"), (123456, "£1,234.56"), (-250, "-£2.50")],
)
def test_pence_are_formatted_in_pounds(pence, text):
    assert format_pence(pence) == text


@pytest.mark.parametrize("bad", [8.5, "850", None, True])
def test_only_integer_pence_are_money(bad):
    with pytest.raises(TypeError):
        format_pence(bad)



@pytest.mark.parametrize(
    "text, pence", [("8.50", 850), ("8.5", 850), ("8", 800), ("£8.50", 850), (" 0.01 ", 1), ("1234567.89", 123456789)]
)
def test_pounds_parse_to_pence(text, pence):
    assert parse_pounds(text) == pence


@pytest.mark.parametrize(
    "text, says",
    [("8,50", "comma"), ("-1", "negative"), ("abc", "not an amount"), ("8.505", "not an amount"), ("", "Enter an amount"), ("1e3", "not an amount"), ("£", "not an amount")],
)
def test_bad_amounts_say_what_is_wrong(text, says):
    with pytest.raises(InvalidAmount, match=says):
        parse_pounds(text)


@pytest.mark.parametrize("pence, text", [(850, "8.50"), (5, "0.05"), (0, "0.00"), (-125, "-1.25"), (123456, "1234.56")])
def test_decimal_pounds_is_plain_pounds_for_forms_and_files(pence, text):
    assert decimal_pounds(pence) == text
    if pence >= 0:
        assert parse_pounds(text) == pence  # what a form shows, it reads back
