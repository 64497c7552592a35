"""Covers where customers look: resized once on upload, named by their content, shown with
srcset on the cards, the publication page, basket lines and the order page, shared as og:image
and JSON-LD image; old files deleted only once the change commits."""

import io
import json
import re

import pytest
from PIL import Image
from sqlalchemy import update

from shop.catalogue import covers
from shop.catalogue.models import Publication
from shop.orderlinks import order_token
from tests.catalogue.test_imports import a_colleague_saves_while_importing, write_rows
from tests.conftest import ISBN, make_order, page_token


@pytest.fixture
def covers_dir(app, tmp_path):
    folder = tmp_path / "covers"
    app.config["COVERS_DIR"] = str(folder)
    return folder


def picture(colour=(138, 21, 56), size=(600, 900), kind="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=kind)
    return out.getvalue()


def upload(staff_client, data: bytes, name="cover.png"):
    token = page_token(staff_client, f"/staff/catalogue/{ISBN}")
    response = staff_client.post(f"/staff/catalogue/{ISBN}/cover", data={"csrf_token": token, "cover": (io.BytesIO(data), name)},
                                 content_type="multipart/form-data")
    assert response.status_code == 303
    return response


def fresh(db) -> Publication:
    db.session.expire_all()
    return db.session.scalar(db.select(Publication).filter_by(isbn=ISBN))


def files(folder) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_an_upload_is_resized_once_into_every_size_the_pages_use(staff_client, db, publication, covers_dir):
    upload(staff_client, picture(size=(1500, 2250)))
    pub = fresh(db)
    assert (pub.cover_width, pub.cover_height) == (1500, 2250)
    stem = pub.cover_path.rsplit(".", 1)[0]
    assert files(covers_dir) == {pub.cover_path, *(f"{stem}-{w}.jpg" for w in covers.WIDTHS)}
    for width in covers.WIDTHS:
        with Image.open(covers_dir / f"{stem}-{width}.jpg") as image:
            assert image.format == "JPEG" and image.size == (width, round(width * 1.5))


def image_of(app, pub, place="page") -> covers.CoverImage:
    with app.test_request_context():
        return covers.cover_image(pub, place)


def test_the_address_changes_with_the_bytes_and_only_with_them(app, staff_client, client, db, publication, covers_dir):
    upload(staff_client, picture((10, 20, 30)))
    first = image_of(app, fresh(db))
    # A stock change, a price change, a new title: same picture, same address.
    db.session.execute(update(Publication).where(Publication.isbn == ISBN).values(stock=3, price_pence=999, title="Renamed"))
    db.session.commit()
    assert image_of(app, fresh(db)).src == first.src
    # The same picture again: same names, nothing deleted, nothing new in the history.
    upload(staff_client, picture((10, 20, 30)))
    assert image_of(app, fresh(db)).src == first.src
    assert all((covers_dir / name).exists() for name in covers.stored_files(fresh(db).cover_path, 600))
    # Other bytes: other addresses; the old files are gone once committed.
    before = files(covers_dir)
    upload(staff_client, picture((200, 20, 30)))
    second = image_of(app, fresh(db))
    assert second.src != first.src
    assert files(covers_dir).isdisjoint(before)
    assert client.get(first.src).status_code == 404 and client.get(second.src).status_code == 200


def test_old_files_are_deleted_only_after_the_commit(app, db, publication, covers_dir):
    folder = str(covers_dir)
    with app.test_request_context():
        covers.store_cover(publication, picture((1, 2, 3)), folder, "test")
        db.session.commit()
        old = files(covers_dir)
        covers.store_cover(publication, picture((4, 5, 6)), folder, "test")
        assert old < files(covers_dir)  # written, but the old ones still served until the commit
        db.session.commit()
        new = files(covers_dir)
        assert new.isdisjoint(old) and len(new) == len(old)


def test_a_rolled_back_upload_removes_what_it_wrote_and_keeps_the_old(app, db, publication, covers_dir):
    folder = str(covers_dir)
    with app.test_request_context():
        covers.store_cover(publication, picture((1, 2, 3)), folder, "test")
        db.session.commit()
        old = files(covers_dir)
        covers.store_cover(publication, picture((7, 8, 9)), folder, "test")
        db.session.rollback()
        assert files(covers_dir) == old
        assert fresh(db).cover_path in old


def test_removing_a_cover_deletes_its_files_after_the_commit(app, staff_client, client, db, publication, covers_dir):
    upload(staff_client, picture())
    token = page_token(staff_client, f"/staff/catalogue/{ISBN}")
    staff_client.post(f"/staff/catalogue/{ISBN}/cover/remove", data={"csrf_token": token})
    pub = fresh(db)
    assert (pub.cover_path, pub.cover_width, pub.cover_height) == (None, None, None)
    assert files(covers_dir) == set()
    assert image_of(app, pub, "card").src.startswith(f"/covers/{ISBN}?v=")


def test_covers_with_srcset_and_alt_text_wherever_customers_look(app, staff_client, client, shopper, db, publication, covers_dir):
    upload(staff_client, picture())
    pub = fresh(db)
    stem = "/covers/f/" + pub.cover_path.rsplit(".", 1)[0]
    card = client.get("/").get_data(as_text=True)
    assert re.search(rf'<img class="cover cover-card" src="{stem}-80.jpg" srcset="{stem}-80.jpg 80w, {stem}-96.jpg 96w, {stem}-160.jpg 160w, {stem}-240.jpg 240w" sizes="80px" width="80" height="120" alt=""', card)
    page = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert re.search(rf'<img class="cover cover-page" src="{stem}-240.jpg" srcset="{stem}-240.jpg 240w, {stem}-320.jpg 320w, {stem}-480.jpg 480w, {stem}-600.jpg 600w" sizes="[^"]+" width="240" height="360" alt="Cover of Leadership and engagement for improvement in the NHS"', page)
    shopper.add()
    assert f'class="cover cover-thumb" src="{stem}-48.jpg"' in shopper.basket_page()
    order = make_order(lines=[(ISBN, pub.full_title, 850, 1)])
    from shop.orders.models import OrderLine

    db.session.execute(update(OrderLine).values(publication_id=pub.id))
    db.session.commit()
    order_page = client.get(f"/orders/{order_token(order.id, app.config['SECRET_KEY'])}").get_data(as_text=True)
    assert f'class="cover cover-thumb" src="{stem}-48.jpg"' in order_page
    for path in ("/", f"/publications/{ISBN}"):
        assert client.get(path).headers["Content-Security-Policy"].count("img-src 'self'") == 1


def test_og_image_and_json_ld_point_to_the_largest_copy(app, staff_client, client, db, publication, covers_dir):
    page = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert "og:image" not in page and '"image"' not in page  # a placeholder is not shared
    assert f'src="/covers/{ISBN}?v=' in page and 'alt="Plain cover showing the title' in page
    upload(staff_client, picture(size=(1500, 2250)))
    pub = fresh(db)
    url = f"http://shop.test/covers/f/{pub.cover_path.rsplit('.', 1)[0]}-1200.jpg"
    page = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert f'<meta property="og:image" content="{url}">' in page
    assert '<meta property="og:image:width" content="1200">' in page and 'content="1800"' in page
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))
    assert data["image"] == url
    assert client.get(url.removeprefix("http://shop.test")).status_code == 200


def test_a_cached_page_shows_a_new_cover_at_once(staff_client, client, db, publication, covers_dir):
    first = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    upload(staff_client, picture())
    second = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert first != second and "/covers/f/" in second


def test_file_addresses_that_are_not_ours(client, covers_dir):
    covers_dir.mkdir()
    (covers_dir / "secret.txt").write_text("no")
    for name in ("secret.txt", "..%2Fsecret.txt", f"{ISBN}-0123456789abcdef-80.jpg", f"{ISBN}-zz.jpg"):
        assert client.get(f"/covers/f/{name}").status_code == 404, name


def test_a_cover_named_by_an_import_shows_as_it_is_until_rebuilt(app, runner, client, db, covers_dir):
    from tests.conftest import make_publication

    covers_dir.mkdir()
    (covers_dir / "imported").mkdir()
    (covers_dir / "imported" / "front.png").write_bytes(picture(size=(300, 450)))
    make_publication(cover_path="imported/front.png")
    page = client.get(f"/publications/{ISBN}").get_data(as_text=True)
    match = re.search(rf'src="(/covers/{ISBN}\?v=[0-9a-f]+)"', page)
    assert match and client.get(match.group(1)).mimetype == "image/png"
    result = runner.invoke(args=["catalogue", "covers-rebuild"])
    assert result.exit_code == 0 and "Resized 1 cover(s)." in result.output, result.output
    pub = fresh(db)
    assert (pub.cover_width, pub.cover_height) == (300, 450) and covers.STORED_NAME.match(pub.cover_path)
    assert "/covers/f/" in client.get(f"/publications/{ISBN}").get_data(as_text=True)
    assert (covers_dir / "imported" / "front.png").exists()  # an import's own file is left alone


def sheet_naming_a_cover(tmp_path, pub: Publication, cover: str):
    """A CSV that keeps the title's details and names ``cover`` as its cover."""
    row = {"isbn": ISBN, "title": pub.title, "subtitle": pub.subtitle or "", "publisher": pub.publisher,
           "year": pub.year, "pages": pub.pages, "price": "8.50", "stock": pub.stock, "summary": pub.summary,
           "pdf_url": pub.pdf_url or "", "cover": cover}
    return write_rows(tmp_path / "spring.csv", [row], columns=list(row))


def test_an_import_that_names_a_new_cover_replaces_an_uploaded_one_cleanly(app, runner, staff_client, db, publication, covers_dir, tmp_path):
    """The uploaded cover's files go once the import commits; the new file is measured and
    resized by covers-rebuild like any cover an import names (its stale size would hide it)."""
    upload(staff_client, picture(size=(600, 900)))
    uploaded = files(covers_dir)
    (covers_dir / "imported").mkdir()
    (covers_dir / "imported" / "spring.png").write_bytes(picture(colour=(20, 90, 40), size=(300, 450)))
    sheet = sheet_naming_a_cover(tmp_path, fresh(db), "imported/spring.png")
    db.session.rollback()
    result = runner.invoke(args=["catalogue", "import", str(sheet)])
    assert result.exit_code == 0 and "0 added, 1 updated" in result.output, result.output
    pub = fresh(db)
    assert (pub.cover_path, pub.cover_width, pub.cover_height) == ("imported/spring.png", None, None)
    assert files(covers_dir) == {"imported"}  # every file of the upload is gone
    assert not uploaded & files(covers_dir)
    result = runner.invoke(args=["catalogue", "covers-rebuild"])
    assert "Resized 1 cover(s)." in result.output, result.output
    assert (fresh(db).cover_width, fresh(db).cover_height) == (300, 450)


def test_an_import_that_fails_keeps_the_uploaded_covers_files(app, runner, staff_client, db, publication, covers_dir, tmp_path, monkeypatch):
    upload(staff_client, picture(size=(600, 900)))
    uploaded = files(covers_dir)
    pub = fresh(db)
    sheet = sheet_naming_a_cover(tmp_path, pub, "imported/spring.png")
    # The sheet changes only the cover, so that is what the colleague's edit must collide with.
    a_colleague_saves_while_importing(monkeypatch, db, cover_path="imported/autumn.png")
    db.session.rollback()
    result = runner.invoke(args=["catalogue", "import", str(sheet)])
    assert result.exit_code == 1 and "nothing was imported" in result.output, result.output
    # None of the upload's files was deleted by the import that rolled back; the colleague's
    # choice stands (the old assertion compared the refreshed object with itself).
    assert files(covers_dir) == uploaded and fresh(db).cover_path == "imported/autumn.png"


def test_srcset_offers_the_copies_a_screen_of_one_to_three_pixels_per_point_could_use():
    from shop.catalogue.covers import _useful_widths, copy_widths

    every = copy_widths(2000)  # 48 … 1200
    assert _useful_widths(every, 80) == [80, 96, 160, 240]  # a card: 80 px at 1x to 3x
    assert _useful_widths(every, 48) == [48, 80, 96, 160]  # a thumbnail: no copy at 144, so 160
    assert _useful_widths(every, 240) == [240, 320, 480, 720]
    assert _useful_widths(copy_widths(200), 240) == [200]  # a small original: itself, never upscaled
    assert _useful_widths(copy_widths(100), 80) == [80, 96, 100]
