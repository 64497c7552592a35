"""Batches on the order desk: the "to pack" view, selections (ticked, or all matching the filter),
packing slips, address labels, the Click & Drop export, batch dispatch with a mixed selection,
the tracking import and tracking corrections."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pypdf
from sqlalchemy import func, select

from shop.emails.models import OutboxEmail
from shop.orders.models import Order, OrderEvent
from shop.timeutil import utcnow
from tests.conftest import ISBN, STAFF_EMAIL, isbn13, make_order, page_token


def reload(db, order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


def batch(client, action: str, refs=(), *, scope="ticked", filters=None, shown_at=None, token=None):
    """The orders list's batch form, as the page posts it."""
    data = {
        "csrf_token": token or page_token(client, "/staff/orders?status=to_pack"),
        "action": action,
        "scope": scope,
        "ref": list(refs),
        "shown_at": (shown_at or utcnow()).isoformat(),
    }
    for name, value in (filters or {}).items():
        data[f"filter-{name}"] = value
    return client.post("/staff/orders/batch", data=data)


def dispatch_confirmed(client, refs, carrier="Royal Mail", tracking=None):
    data = {"csrf_token": page_token(client, "/staff/orders?status=to_pack"), "carrier": carrier, "ref": list(refs)}
    for ref, number in (tracking or {}).items():
        data[f"tracking-{ref}"] = number
    return client.post("/staff/orders/batch/dispatch", data=data)


def events(db, order, kind):
    return list(db.session.scalars(select(OrderEvent).filter_by(order_id=order.id, kind=kind)))


def emails(db, kind=None) -> list[OutboxEmail]:
    db.session.expire_all()
    statement = select(OutboxEmail).order_by(OutboxEmail.id)
    if kind:
        statement = statement.filter_by(kind=kind)
    return list(db.session.scalars(statement))


# --- the "to pack" view -----------------------------------------------------------------------

def test_to_pack_lists_only_packable_orders_flagged_first_then_oldest(staff_client, db):
    now = datetime.now(UTC)
    newest = make_order(created_at=now - timedelta(hours=1))
    older = make_order(created_at=now - timedelta(days=2))
    mismatch = make_order(created_at=now - timedelta(hours=2))
    mismatch.amount_mismatch = True
    overdue = make_order(created_at=now - timedelta(days=6))
    dispatched = make_order(status="dispatched", created_at=now - timedelta(days=9))
    refunded = make_order(status="refunded", created_at=now - timedelta(days=9))
    pending = make_order(status="pending_payment", created_at=now - timedelta(days=9))
    db.session.commit()
    page = staff_client.get("/staff/orders?status=to_pack").get_data(as_text=True)
    for absent in (dispatched, refunded, pending):
        assert absent.reference not in page
    positions = [page.index(order.reference) for order in (overdue, mismatch, older, newest)]
    assert positions == sorted(positions), "flagged (oldest of them first), then the rest oldest first"
    assert "4 orders to pack" in page
    # the old "awaiting" link still works
    assert staff_client.get("/staff/orders?status=awaiting").get_data(as_text=True).count('name="ref"') == 4


def test_to_pack_is_one_definition_shared_by_the_dashboard(staff_client, db):
    make_order()
    make_order(status="dispatched")
    page = staff_client.get("/staff").get_data(as_text=True)
    assert "1</strong> order awaits dispatch" in page


def test_tick_every_order_on_the_page_without_javascript(staff_client, db):
    for _ in range(3):
        make_order()
    page = staff_client.get("/staff/orders?status=to_pack&tick=page").get_data(as_text=True)
    assert page.count('name="ref"') == 3 and page.count(" checked>") >= 3
    plain = staff_client.get("/staff/orders?status=to_pack").get_data(as_text=True)
    assert 'name="ref" value="KF-' in plain and "Tick every order on this page" in plain


# --- documents ---------------------------------------------------------------------------------

def test_packing_slips_one_document_a_slip_a_page_and_audited(staff_client, db):
    a = make_order(name="Ann Able", postcode="LS1 4AP", lines=[(ISBN, "Leadership", 850, 3)])
    b = make_order(name="Ben Bold", postcode="YO1 7HH")
    response = batch(staff_client, "slips", [a.reference, b.reference])
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('class="slip-page"') == 2
    assert "Ann Able" in page and "YO1 7HH" in page and ">3<" in page
    assert "print.css" in page and "£" not in page
    for order in (a, b):
        [event] = events(db, order, "packing_slip_printed")
        assert event.actor == STAFF_EMAIL and event.detail["orders_in_batch"] == 2


def test_address_labels_pdf_fills_the_configured_sheet(app, staff_client, db):
    orders = [make_order(name=f"Reader {n}", postcode=f"LS{n} 1AA") for n in range(23)]
    abroad = orders[0]
    abroad.ship_country = "IE"
    db.session.commit()
    response = batch(staff_client, "labels", [o.reference for o in orders])
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 2  # L7160: 21 a sheet
    text = "".join(page.extract_text() for page in reader.pages)
    for order in orders:
        assert f"Reader {order.id - orders[0].id}" in text and order.reference in text
    assert "IRELAND" in text and text.count("UNITED KINGDOM") == 0  # the country only abroad
    app.config["LABEL_SHEET"] = "L7163"
    response = batch(staff_client, "labels", [o.reference for o in orders])
    assert len(pypdf.PdfReader(io.BytesIO(response.data)).pages) == 2  # 14 a sheet
    assert len(events(db, orders[5], "address_label_printed")) == 2


def test_click_and_drop_export_columns_and_values(app, staff_client, db):
    app.config.update(COPY_WEIGHT_GRAMS=170, PACKAGING_WEIGHT_GRAMS=40,
                      CLICK_DROP_SERVICE_UK="TPS48", CLICK_DROP_SERVICE_INTERNATIONAL="MTK")
    light = make_order(name="Lil Light", postcode="LS1 4AP", lines=[(ISBN, "Leadership", 850, 2)],
                       created_at=datetime(2026, 11, 20, 10, tzinfo=UTC))
    heavy = make_order(name="Hal Heavy", lines=[(ISBN, "Leadership", 850, 5)])
    abroad = make_order(name="Aoife Abroad", lines=[(ISBN, "Leadership", 850, 3)])
    abroad.ship_country, abroad.ship_postal_code, abroad.ship_city = "IE", "D02 X285", "Dublin"
    db.session.commit()
    response = batch(staff_client, "click_drop", [light.reference, heavy.reference, abroad.reference])
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    reader = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    assert reader.fieldnames == [
        "Order reference", "Date", "Full name", "Address Line 1", "Address Line 2", "City", "County",
        "Postcode", "Country", "Email", "Weight", "Package Size", "Service code", "Sub-total",
        "Shipping Cost", "Total", "Currency Code",
    ]
    rows = {row["Order reference"]: row for row in reader}
    row = rows[light.reference]
    assert (row["Full name"], row["Postcode"], row["Country"], row["Date"]) == ("Lil Light", "LS1 4AP", "United Kingdom", "20/11/26")
    assert (row["Weight"], row["Package Size"], row["Service code"]) == ("0.380", "large letter", "TPS48")
    assert (row["Sub-total"], row["Shipping Cost"], row["Total"], row["Currency Code"]) == ("17.00", "2.50", "19.50", "GBP")
    assert (rows[heavy.reference]["Weight"], rows[heavy.reference]["Package Size"]) == ("0.890", "parcel")
    ireland = rows[abroad.reference]
    assert (ireland["Country"], ireland["Package Size"], ireland["Service code"]) == ("Ireland", "printed papers", "MTK")
    assert len(events(db, light, "click_drop_exported")) == 1


def test_package_size_follows_royal_mails_limits():
    from shop.orders.clickdrop import package_size

    assert package_size(750, "GB") == "large letter"
    assert package_size(751, "GB") == "parcel"
    assert package_size(5000, "FR") == "printed papers"
    assert package_size(5001, "FR") == "parcel"
    assert package_size(100, None) == "large letter"


# --- batch dispatch --------------------------------------------------------------------------

def test_mark_dispatched_shows_the_orders_first_then_moves_them(staff_client, db):
    a, b = make_order(), make_order()
    page = batch(staff_client, "dispatch", [a.reference, b.reference]).get_data(as_text=True)
    assert "Mark 2 orders dispatched" in page and f'name="tracking-{a.reference}"' in page
    assert reload(db, a).status == "paid"  # nothing changes until confirmed
    response = dispatch_confirmed(staff_client, [a.reference, b.reference], tracking={a.reference: " RM 123 GB "})
    assert response.status_code == 303 and "status=to_pack" in response.headers["Location"]
    a, b = reload(db, a), reload(db, b)
    assert (a.status, a.carrier, a.tracking_number) == ("dispatched", "Royal Mail", "RM 123 GB")
    assert (b.status, b.tracking_number) == ("dispatched", None)
    [event_a], [event_b] = events(db, a, "dispatched"), events(db, b, "dispatched")
    assert event_a.actor == STAFF_EMAIL and event_a.detail["batch"] == event_b.detail["batch"]
    assert len(emails(db, "dispatch")) == 2
    assert "2 orders marked dispatched." in staff_client.get("/staff/orders").get_data(as_text=True)


def test_a_mixed_selection_moves_what_can_move_and_names_the_rest(staff_client, db):
    good = [make_order() for _ in range(3)]
    dispatched = make_order(status="dispatched")
    dispatched.dispatched_at = utcnow()
    refunded = make_order(status="refunded")
    unpaid = make_order(status="pending_payment")
    db.session.commit()
    refs = [o.reference for o in [*good, dispatched, refunded, unpaid]]
    page = batch(staff_client, "dispatch", refs).get_data(as_text=True)
    assert "3 of the 6 selected orders cannot be dispatched" in page
    response = dispatch_confirmed(staff_client, refs)  # as if the page had offered them all
    assert response.status_code == 303
    message = staff_client.get("/staff/orders").get_data(as_text=True)
    assert "3 orders marked dispatched." in message
    assert f"{dispatched.reference} (already dispatched)" in message
    assert f"{refunded.reference} (refunded, not waiting to be packed)" in message
    assert f"{unpaid.reference} (awaiting payment, not waiting to be packed)" in message
    assert all(reload(db, o).status == "dispatched" for o in good)
    assert reload(db, refunded).status == "refunded" and reload(db, unpaid).status == "pending_payment"
    assert events(db, dispatched, "dispatched") == [] and len(emails(db, "dispatch")) == 3


def test_a_batch_that_fails_part_way_changes_nothing(staff_client, db, monkeypatch):
    from shop.orders import batch as batches

    orders = [make_order() for _ in range(3)]
    calls = []

    def failing_notice(order):
        calls.append(order.reference)
        if len(calls) == 2:
            raise RuntimeError("mail template broke")
        return None

    monkeypatch.setattr(batches, "queue_dispatch_notice", failing_notice)
    staff_client.application.config["PROPAGATE_EXCEPTIONS"] = False
    response = dispatch_confirmed(staff_client, [o.reference for o in orders])
    assert response.status_code == 500
    assert [reload(db, o).status for o in orders] == ["paid"] * 3
    assert db.session.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.kind == "dispatched")) == 0


def test_all_matching_the_filter_carries_the_filter_not_the_ids(staff_client, db):
    shown_at = utcnow()
    leeds = [make_order(postcode="LS1 4AP", created_at=shown_at - timedelta(minutes=n + 1)) for n in range(60)]
    york = make_order(postcode="YO1 7HH", created_at=shown_at - timedelta(minutes=5))
    later = make_order(postcode="LS2 9JT", created_at=shown_at + timedelta(seconds=5))  # placed after the page was shown
    cleared = make_order(postcode="LS3 1AA", created_at=shown_at - timedelta(minutes=90))
    cleared.paid_at = shown_at + timedelta(seconds=5)  # a bank payment placed before, paid after
    db.session.commit()
    response = batch(staff_client, "click_drop", scope="all", filters={"status": "to_pack", "q": "LS"}, shown_at=shown_at)
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {row["Order reference"] for row in rows} == {o.reference for o in leeds}  # not cleared
    assert york.reference not in {row["Order reference"] for row in rows}
    assert later.reference not in {row["Order reference"] for row in rows}
    assert next(row["Order reference"] for row in rows) == leeds[-1].reference  # to pack: oldest first


def test_a_batch_larger_than_the_limit_is_refused(app, staff_client, db):
    app.config["STAFF_BATCH_LIMIT"] = 3
    for _ in range(4):
        make_order()
    response = batch(staff_client, "slips", scope="all", filters={"status": "to_pack"})
    assert response.status_code == 303
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "More than 3 orders are selected" in page
    assert db.session.scalar(select(func.count()).select_from(OrderEvent)) == 0


def test_an_empty_selection_or_an_expired_form_does_nothing(staff_client, db):
    make_order()
    response = batch(staff_client, "slips", [])
    assert "Tick at least one order first." in staff_client.get(response.headers["Location"]).get_data(as_text=True)
    response = batch(staff_client, "slips", ["KF-2026-000001"], token="not-a-token")
    assert response.status_code == 400  # the CSRF guard, before the view
    assert db.session.scalar(select(func.count()).select_from(OrderEvent)) == 0


# --- tracking import from Click & Drop ---------------------------------------------------------

def upload(client, content: str | bytes, action="import"):
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(
        "/staff/orders/tracking-import",
        data={"csrf_token": page_token(client, "/staff/orders/tracking-import"), "action": action,
              "file": (io.BytesIO(data), "click-drop-export.csv")},
        content_type="multipart/form-data",
    )


def test_tracking_import_reports_matched_unknown_and_already_dispatched(staff_client, db):
    a, b = make_order(), make_order()
    sent = make_order(status="dispatched")
    sent.dispatched_at, sent.tracking_number = utcnow(), "OLD1"
    refunded = make_order(status="refunded")
    db.session.commit()
    export = (
        "\ufeffOrder Reference,Customer name,Tracking Number,Service\r\n"
        f"{a.reference.lower()},Ann,TT111222333GB,TPS48\r\n"
        f"{b.reference},Ben,TT444555666GB,TPS48\r\n"
        f"{b.reference},Ben,TT444555666GB,TPS48\r\n"  # repeated rows: counted once
        "EBAY-1234,Someone,TT999GB,TPS48\r\n"
        f"{sent.reference},Sid,NEW2,TPS48\r\n"
        f"{refunded.reference},Ray,TT000GB,TPS48\r\n"
        ",,,\r\n"
    )
    checked = upload(staff_client, export, action="check")
    assert checked.status_code == 200
    page = checked.get_data(as_text=True)
    assert "Checked: nothing has changed yet" in page
    assert reload(db, a).status == "paid"
    response = upload(staff_client, export)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Imported" in page
    assert "<strong>2</strong> matched and marked dispatched" in page
    assert "<strong>1</strong> unknown reference" in page and "EBAY-1234" in page
    assert "<strong>1</strong> already dispatched" in page and "differs" in page
    assert "<strong>1</strong> not waiting to be packed" in page
    a, b = reload(db, a), reload(db, b)
    assert (a.status, a.carrier, a.tracking_number) == ("dispatched", "Royal Mail", "TT111222333GB")
    assert b.tracking_number == "TT444555666GB"
    assert reload(db, sent).tracking_number == "OLD1" and reload(db, refunded).status == "refunded"
    assert len(emails(db, "dispatch")) == 2
    again = upload(staff_client, export).get_data(as_text=True)  # a second import changes nothing
    assert "<strong>0</strong> matched" in again and "<strong>3</strong> already dispatched" in again
    assert len(emails(db, "dispatch")) == 2


def test_tracking_import_is_all_or_nothing(staff_client, db):
    a, b, c = make_order(), make_order(), make_order()
    export = (
        "Order reference,Tracking number\n"
        f"{a.reference},TT1GB\n"
        f"{b.reference},\n"  # no number
        f"{c.reference},1.23457E+12\n"  # a spreadsheet rounded it
        f"{a.reference},TT2GB\n"  # the same order with another number
    )
    response = upload(staff_client, export)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Nothing was imported" in page
    assert f"{b.reference} has no tracking number" in page and "rounded number" in page
    assert "appears again (line 2) with another tracking number" in page
    assert {reload(db, o).status for o in (a, b, c)} == {"paid"}
    assert emails(db) == []


def test_tracking_import_refuses_a_file_without_the_columns(staff_client, db):
    response = upload(staff_client, "Name,Postcode\nAnn,LS1 4AP\n")
    assert response.status_code == 422 and "no “Order reference” and “Tracking number” columns" in response.get_data(as_text=True)
    response = upload(staff_client, b"")
    assert "That file is empty." in response.get_data(as_text=True)


# --- tracking corrections ----------------------------------------------------------------------

def correct(client, order, **data):
    data.setdefault("csrf_token", page_token(client, f"/staff/orders/{order.reference}"))
    return client.post(f"/staff/orders/{order.reference}/tracking", data=data)


def test_tracking_can_be_corrected_audited_and_emailed_only_if_asked(staff_client, db):
    order = make_order()
    dispatch_confirmed(staff_client, [order.reference], tracking={order.reference: "RM12345GB"})
    correct(staff_client, order, carrier="Royal Mail", tracking_number="RM12346GB")
    order = reload(db, order)
    assert order.tracking_number == "RM12346GB"
    [event] = events(db, order, "tracking_corrected")
    assert event.actor == STAFF_EMAIL
    assert event.detail["before"]["tracking_number"] == "RM12345GB" and event.detail["after"]["tracking_number"] == "RM12346GB"
    assert emails(db, "dispatch_correction") == []  # not asked
    token = page_token(staff_client, f"/staff/orders/{order.reference}")
    for _ in range(2):  # a double click: the second changes nothing and sends nothing
        correct(staff_client, order, carrier="Royal Mail", tracking_number="RM99999GB", notify="y", csrf_token=token)
    [email] = emails(db, "dispatch_correction")
    assert "RM99999GB" in email.text_body and "RM99999GB" in email.html_body
    assert email.subject == f"Corrected tracking details for your order {order.reference}"
    assert "nothing to correct" in staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    correct(staff_client, order, carrier="DPD", tracking_number="DPD1", notify="y")
    assert len(emails(db, "dispatch_correction")) == 2  # one per correction
    page = staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert "tracking number: RM99999GB → DPD1" in page


def test_tracking_of_an_order_not_dispatched_cannot_be_corrected(staff_client, db):
    order = make_order()
    correct(staff_client, order, tracking_number="X1")
    assert "has not been dispatched" in staff_client.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert reload(db, order).tracking_number is None


# --- finding orders ----------------------------------------------------------------------------

def test_partial_postcode_town_and_street_find_orders(staff_client, db):
    leeds = make_order(postcode="LS1 4AP")
    york = make_order(postcode="YO1 7HH")
    york.ship_city, york.ship_line1, york.ship_line2 = "York", "12 Minster Yard", "Flat 3"
    db.session.commit()

    def found(q):
        page = staff_client.get("/staff/orders", query_string={"q": q}).get_data(as_text=True)
        return {o.reference for o in (leeds, york) if o.reference in page}

    assert found("ls1") == {leeds.reference}
    assert found("LS1 4") == {leeds.reference}
    assert found("s14a") == {leeds.reference}
    assert found("yor") == {york.reference}
    assert found("minster") == {york.reference}
    assert found("flat 3") == {york.reference}
    assert found("London") == {leeds.reference}  # make_order's town


def test_a_from_date_after_the_to_date_says_so(staff_client, db):
    order = make_order()
    page = staff_client.get("/staff/orders?date_from=2026-12-10&date_to=2026-12-01").get_data(as_text=True)
    assert "The “to” date (1 Dec 2026) is before the “from” date (10 Dec 2026), so both dates are ignored." in page
    assert 'aria-invalid="true"' in page
    assert order.reference in page  # the dates are ignored, as the message says


def test_orders_csv_for_excel_has_a_bom_and_carrier_and_tracking(staff_client, db):
    order = make_order(name="Zoë Ünal", lines=[(isbn13(3), "Report", 900, 1)])
    dispatch_confirmed(staff_client, [order.reference], carrier="Royal Mail", tracking={order.reference: "RM1GB"})
    plain = staff_client.get("/staff/orders.csv?status=all").data
    excel = staff_client.get("/staff/orders.csv?status=all&excel=1").data
    assert not plain.startswith(b"\xef\xbb\xbf")
    assert excel.startswith(b"\xef\xbb\xbf")
    [row] = list(csv.DictReader(io.StringIO(excel.decode("utf-8-sig"))))
    assert (row["customer_name"], row["carrier"], row["tracking_number"]) == ("Zoë Ünal", "Royal Mail", "RM1GB")


def test_a_batch_never_dispatches_an_amount_mismatch_nobody_acknowledged(staff_client, db):
    """The single-order page refuses it; a batch and the tracking import must too: packable()
    is the one definition they ask (a mismatch can be copies sent for nothing)."""
    flagged = make_order()
    flagged.amount_mismatch = True
    fine = make_order()
    db.session.commit()
    # Listed to pack, flagged, so that someone looks at it; never sent until they have.
    to_pack = staff_client.get("/staff/orders?status=to_pack").get_data(as_text=True)
    assert flagged.reference in to_pack and "Amount mismatch" in to_pack
    assert dispatch_confirmed(staff_client, [flagged.reference, fine.reference]).status_code == 303
    message = staff_client.get("/staff/orders").get_data(as_text=True)
    assert f"{flagged.reference} (flagged for an amount mismatch nobody has acknowledged yet)" in message
    assert reload(db, flagged).status == "paid" and reload(db, fine).status == "dispatched"
    flagged = reload(db, flagged)
    flagged.mismatch_acknowledged_at, flagged.mismatch_acknowledged_by = utcnow(), STAFF_EMAIL
    db.session.commit()
    assert dispatch_confirmed(staff_client, [flagged.reference]).status_code == 303
    assert reload(db, flagged).status == "dispatched"


def test_click_and_drop_export_defuses_what_customers_typed(staff_client, db):
    sneaky = make_order(name='=HYPERLINK("http://evil.example","Click")')
    sneaky.ship_line1 = "1 Road;=1+1"
    db.session.commit()
    text = batch(staff_client, "click_drop", [sneaky.reference]).get_data(as_text=True)
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["Full name"].startswith("'=HYPERLINK") and row["Address Line 1"] == "1 Road;'=1+1"
    assert row["Order reference"] == sneaky.reference and row["Total"] == "11.00"
