"""`flask catalogue seed --demo`: about 40 made-up titles, marked as examples, with covers that
went through the upload path; running it again adds nothing."""

from sqlalchemy import func, select

from shop.catalogue import covers
from shop.catalogue.demo import PUBLISHER, demo_titles
from shop.catalogue.models import CatalogueChange, Publication
from shop.isbn import normalise


def test_the_demo_catalogue_is_seeded_once_with_covers(app, runner, db, tmp_path):
    app.config["COVERS_DIR"] = str(tmp_path / "covers")
    result = runner.invoke(args=["catalogue", "seed", "--demo"])
    assert result.exit_code == 0, result.output
    assert "Seeded 1 publication." in result.output and "Added 40 demo titles" in result.output
    demo = db.session.scalars(select(Publication).filter_by(publisher=PUBLISHER)).all()
    assert len(demo) == 40 == len({p.title for p in demo})
    for publication in demo:
        assert normalise(publication.isbn) == publication.isbn  # valid check digits
        assert publication.isbn.startswith("97989899")
        assert "not a real publication" in publication.summary and "(demo)" in publication.publisher
        assert covers.STORED_NAME.match(publication.cover_path)
        for name in covers.stored_files(publication.cover_path, publication.cover_width):
            assert (tmp_path / "covers" / name).is_file()
    actors = set(db.session.scalars(select(CatalogueChange.actor).distinct()))
    assert actors == {"seed", "seed --demo"}
    again = runner.invoke(args=["catalogue", "seed", "--demo"])
    assert "The demo titles are all there already." in again.output
    assert db.session.scalar(select(func.count()).select_from(Publication)) == 41
    assert len({t.isbn for t in demo_titles()}) == 40
