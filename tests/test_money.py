import pytest

from shop.money import format_pence


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
