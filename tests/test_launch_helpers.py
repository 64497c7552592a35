"""Small pure pieces of the launch work: delivery estimates in working days, postage bands as
people read them, tracking links, and the seller's address lines."""

from datetime import date

from shop.basket.postage import regions
from shop.carriers import known_carrier, tracking_url
from shop.config import CARRIERS, POSTAGE_REGIONS
from shop.delivery import add_working_days, describe, expected_between
from shop.seller import Seller


def test_working_days_skip_weekends():
    friday = date(2026, 11, 27)
    assert add_working_days(friday, 1) == date(2026, 11, 30)  # Monday
    assert add_working_days(friday, 5) == date(2026, 12, 4)
    assert expected_between(friday, (2, 5)) == (date(2026, 12, 1), date(2026, 12, 4))
    assert expected_between(friday, None) is None
    assert describe((2, 5)) == "2 to 5 working days" and describe((1, 1)) == "1 working day"


def test_postage_bands_read_as_people_say_them():
    uk = next(r for r in regions(POSTAGE_REGIONS) if r.key == "uk")
    assert uk.band_rows() == [("1 copy", 250), ("2 to 3 copies", 395), ("4 to 10 copies", 695), ("11 or more copies", 1195)]
    for copies, (label, pence) in [(1, uk.band_rows()[0]), (3, uk.band_rows()[1]), (11, uk.band_rows()[3])]:
        assert uk.postage_pence(copies) == pence, label


def test_tracking_links_for_the_carriers_in_the_table_only():
    assert known_carrier(" royalmail ", CARRIERS) == "Royal Mail" and known_carrier("An Post", CARRIERS) is None
    assert tracking_url("Parcelforce", "PB 1", CARRIERS) == "https://www.parcelforce.com/track-trace?trackNumber=PB%201"
    assert tracking_url("DPD", "", CARRIERS) is None and tracking_url(None, "X", CARRIERS) is None
    # Nothing typed can leave the carrier's own site.
    assert tracking_url("Evri", "../../x?y#z", CARRIERS) == "https://www.evri.com/track/parcel/..%2F..%2Fx%3Fy%23z/details"


def test_seller_address_lines():
    seller = Seller("P Ltd", "1 Road,\nTown , AB1 2CD", "a@b.example")
    assert seller.address_lines == ["1 Road", "Town", "AB1 2CD"]
    assert seller.address_one_line == "1 Road, Town, AB1 2CD"
