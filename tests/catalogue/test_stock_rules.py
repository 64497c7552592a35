"""A stock change is checked by one rule (catalogue.rules.check_stock_change), whoever asks: the
staff form (tests/staff/test_catalogue.py) and the admin service say the same words."""

import pytest

from shop.catalogue import admin, rules
from shop.catalogue.models import Publication
from tests.conftest import make_publication


@pytest.mark.parametrize(
    "reason, quantity, message",
    [
        ("goods_in", 0, "Enter from 1 to 1,000,000 copies."),
        ("damaged", -1, "Enter from 1 to 1,000,000 copies."),
        ("goods_in", 1_000_001, "Enter from 1 to 1,000,000 copies."),
        ("stock_count", -1, "A stock count is from 0 to 1,000,000 copies."),
        ("stock_count", 1_000_001, "A stock count is from 0 to 1,000,000 copies."),
        ("lost", 1, "Choose why the stock is changing: goods in, damaged or a stock count."),
    ],
)
def test_the_service_refuses_what_the_rule_refuses_and_changes_nothing(db, reason, quantity, message):
    publication = make_publication(stock=5)
    with pytest.raises(rules.RuleBroken, match=message):
        rules.check_stock_change(reason, quantity)
    with pytest.raises(admin.CatalogueError, match=message):
        admin.adjust_stock(publication, reason, quantity, actor="desk@example.org")
    db.session.rollback()
    assert db.session.get(Publication, publication.id).stock == 5


def test_the_limits_themselves_are_allowed(db):
    publication = make_publication(stock=5)
    assert admin.adjust_stock(publication, "stock_count", 0, actor="desk@example.org") == (5, 0)
    assert admin.adjust_stock(publication, "goods_in", rules.MAX_STOCK, actor="desk@example.org") == (0, rules.MAX_STOCK)
