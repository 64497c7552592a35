"""Cover images: checking and storing an upload, its resized copies, and serving them (or a
generated placeholder).

An upload must be a JPEG, PNG or WebP that Pillow can open and verify, no larger than
``COVER_MAX_BYTES`` and no wider or taller than ``MAX_SIDE`` pixels (a small file can still
decode to a huge image). It is decoded and encoded again in sRGB, so EXIF, XMP, comments (camera,
GPS, software) and colour profiles never reach the public, and stored under ``COVERS_DIR`` (outside the package) as
``<isbn13>-<hash>.<ext>``, ``<hash>`` being the start of the SHA-256 of the stored bytes, with a
JPEG copy ``<isbn13>-<hash>-<width>.jpg`` for each of ``WIDTHS`` narrower than the original
(and one at the original's width, up to the largest). ``Publication.cover_path`` names the
original; ``cover_width`` and ``cover_height`` give its size, from which every copy's name and
proportions follow without touching a file.

Invariant: a cover's addresses change exactly when its bytes do. They are made from the hash,
so a new picture gets new addresses and a browser or proxy may keep a copy for a year
(``immutable``); a stock or price change leaves them as they were. The files a change replaces
are deleted only once the transaction that made it commits (``_after_commit``); if it rolls
back, the files it wrote are deleted instead, so a page never points at a missing file.

Covers are public, so this module has its own blueprint outside the staff desk.
"""

import hashlib
import io
import os
import re
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, request, send_file, url_for
from markupsafe import escape
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.security import safe_join

from shop import isbn as isbns
from shop.catalogue.admin import record_change
from shop.catalogue.models import Publication
from shop.catalogue.queries import get_by_isbn
from shop.errors import InvalidISBN, NotFound, ShopError
from shop.extensions import db

# Pillow's format name -> the file extension we store it under.
FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
MIMETYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
MAX_SIDE = 6000  # pixels; a print cover at 300 dpi is well under this
MAX_AGE = 86400  # a day, for the placeholder and a cover not yet resized; links carry ?v=
IMMUTABLE_AGE = 365 * 86400  # a content-addressed file never changes
QUALITY = 90  # JPEG and WebP: no visible loss on a cover
COPY_QUALITY = 85  # the resized copies
HASH_LENGTH = 16  # hex digits of SHA-256: 64 bits, no collision among one title's covers
# Widths (pixels) of the resized copies: catalogue cards and order lines at 1x and 2x, the
# publication page at 1x to 3x, and the largest for og:image.
WIDTHS = (48, 80, 96, 160, 240, 320, 480, 720, 1200)
# Where a cover is shown: its width there in CSS pixels, and the img ``sizes`` attribute.
PLACES = {
    "thumb": (48, "48px"),
    "card": (80, "80px"),
    "page": (240, "(max-width: 30em) 40vw, 240px"),
}
PLACEHOLDER_SIZE = (400, 600)
STORED_NAME = re.compile(rf"^(\d{{13}})-([0-9a-f]{{{HASH_LENGTH}}})(?:-(\d{{1,4}}))?\.(jpg|png|webp)$")
PENDING_FILES = "shop.covers.pending"  # Session.info key: files to delete after commit/rollback
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

bp = Blueprint("covers", __name__, url_prefix="/covers")


class CoverError(ShopError):
    """An upload that is not an acceptable cover; nothing was stored."""


def describe_size(size: int) -> str:
    """``2097152`` -> ``'2 MB'``, ``10240`` -> ``'10 KB'``."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    return f"{max(round(size / 1024), 1):,} KB"


def read_upload(stream, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` from ``stream``; refuse, without reading the rest, if there is more."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise CoverError(
            f"That file is larger than {describe_size(max_bytes)}, the most a cover can be. "
            "Save it smaller (1,000 pixels tall is plenty) and upload it again."
        )
    if not data:
        raise CoverError("That file is empty: choose a JPEG, PNG or WebP image.")
    return data


def clean_image(data: bytes) -> tuple[bytes, str]:
    """Check ``data`` is a JPEG, PNG or WebP and return it re-encoded without metadata, with its
    extension. Raises ``CoverError`` with a message saying what is wrong."""
    try:
        # Only these decoders ever see the bytes: anything else is refused unread.
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as probe:
            kind = probe.format or ""
            width, height = probe.size
            if width > MAX_SIDE or height > MAX_SIDE:
                raise CoverError(
                    f"That image is {width:,} × {height:,} pixels; a cover can be at most "
                    f"{MAX_SIDE:,} pixels on each side."
                )
            probe.verify()
        # verify() leaves the image unusable: open it again to decode it.
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            image.load()
            return _encode(image, kind), FORMATS[kind]
    except CoverError:
        raise
    except Image.DecompressionBombError:
        raise CoverError(
            f"That image has far too many pixels; a cover can be at most {MAX_SIDE:,} pixels on each side."
        ) from None
    except (UnidentifiedImageError, SyntaxError, ValueError, OSError):
        # SyntaxError and OSError are how Pillow reports a damaged or truncated file.
        raise CoverError(
            "That file is not a JPEG, PNG or WebP image (or it is damaged). "
            "Choose a cover image in one of those formats."
        ) from None


SRGB = ImageCms.createProfile("sRGB")


def _to_srgb(image: Image.Image) -> Image.Image:
    """The pixels in sRGB, what browsers assume, with no colour profile kept: an embedded
    profile is applied (an unreadable one is dropped unread), and CMYK and other modes become
    RGB. A profile is bytes from the uploader that every reader's browser would parse."""
    icc = image.info.get("icc_profile")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
            pixels = image.convert(image.mode.rstrip("A")) if alpha is not None else image
            converted = ImageCms.profileToProfile(pixels, source, SRGB, outputMode="RGB")
            if converted is not None:
                if alpha is not None:
                    converted.putalpha(alpha)
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # not a profile we can read: the pixels stay as they are, the profile goes
    if image.mode not in ("1", "L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    image.info.pop("icc_profile", None)
    return image


def _encode(image: Image.Image, kind: str) -> bytes:
    """The pixels, in sRGB (turned the way the camera said, since the EXIF that says so goes);
    nothing else."""
    image = _to_srgb(ImageOps.exif_transpose(image))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if kind == "JPEG" and image.mode not in ("L", "RGB", "CMYK"):
        image = image.convert("RGB")
    if kind == "WEBP" and image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    # Some encoders fall back on what the decoder read (a JPEG's comment, for one): keep none of it
    # but a PNG's transparent colour, which is part of the picture.
    transparency = image.info.get("transparency") if kind == "PNG" else None
    image.info = {} if transparency is None else {"transparency": transparency}
    options: dict[str, object] = {}
    if kind == "JPEG":
        options.update(quality=QUALITY, optimize=True)
    elif kind == "PNG":
        options.update(optimize=True)
    else:
        options.update(quality=QUALITY)
    out = io.BytesIO()
    image.save(out, format=kind, **options)
    return out.getvalue()


def _folder(covers_dir: str) -> Path:
    # Absolute, so writing (relative to the working directory) and send_file (relative to the
    # app's root) agree on where a relative COVERS_DIR is.
    return Path(covers_dir).resolve()


def _write_atomically(folder: Path, name: str, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def copy_widths(width: int) -> list[int]:
    """The widths of the resized copies of a cover ``width`` pixels wide: every one of
    ``WIDTHS`` narrower than it, and one at its own width (up to the largest), never upscaled."""
    return sorted({w for w in WIDTHS if w < width} | {min(width, WIDTHS[-1])})


def _stem(cover_path: str) -> str:
    return cover_path.rsplit(".", 1)[0]


def _is_resized(publication: Any) -> bool:
    """The cover was stored by ``store_cover`` for this ISBN, so its copies exist: not a file an
    import named, nor one uploaded before covers were resized."""
    path = publication.cover_path
    return bool(path and publication.cover_width and publication.cover_height
                and STORED_NAME.match(path) and path.startswith(publication.isbn + "-"))


def stored_files(cover_path: str | None, width: int | None) -> list[str]:
    """The file names one stored cover consists of: the original and its copies."""
    if not cover_path or not width or not STORED_NAME.match(cover_path):
        return []
    return [cover_path, *(f"{_stem(cover_path)}-{w}.jpg" for w in copy_widths(width))]


def _resized(image: Image.Image, width: int) -> bytes:
    """A JPEG copy ``width`` pixels wide: flattened onto white, colour profile kept, no metadata."""
    icc = image.info.get("icc_profile")
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    if image.width != width:
        height = max(round(image.height * width / image.width), 1)
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": COPY_QUALITY, "optimize": True, "progressive": True}
    if icc:
        options["icc_profile"] = icc
    image.save(out, format="JPEG", **options)
    return out.getvalue()


def _pending(session) -> dict[str, set[Path]]:
    return session.info.setdefault(PENDING_FILES, {"on_commit": set(), "on_rollback": set()})


@event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    """The change committed: the files it replaced are no longer used by anyone."""
    pending = session.info.pop(PENDING_FILES, None)
    for path in (pending or {}).get("on_commit", ()):
        path.unlink(missing_ok=True)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session) -> None:
    """The change was undone: the files it wrote are not used by anyone."""
    pending = session.info.pop(PENDING_FILES, None)
    for path in (pending or {}).get("on_rollback", ()):
        path.unlink(missing_ok=True)


def _replace_files(publication: Publication, new_files: list[str], written: list[str], folder: Path) -> None:
    """Delete the publication's current files after commit (those the new cover does not also
    use), and the files just ``written`` after a rollback."""
    pending = _pending(db.session)
    old = set(stored_files(publication.cover_path, publication.cover_width)) - set(new_files)
    pending["on_commit"].update(folder / name for name in old)
    pending["on_rollback"].update(folder / name for name in written)


def store_cover(publication: Publication, data: bytes, covers_dir: str, actor: str) -> str:
    """Store ``data`` (already size-checked by ``read_upload``) as the publication's cover with
    its resized copies, and record the change; returns the stored name. The old cover's files
    go when the caller commits. Flushes; the caller commits."""
    clean, extension = clean_image(data)
    digest = hashlib.sha256(clean).hexdigest()[:HASH_LENGTH]
    name = f"{publication.isbn}-{digest}{extension}"
    folder = _folder(covers_dir)
    with Image.open(io.BytesIO(clean)) as image:
        image.load()
        width, height = image.size
        files = {name: clean}
        for copy_width in copy_widths(width):
            files[f"{publication.isbn}-{digest}-{copy_width}.jpg"] = _resized(image, copy_width)
    written = []
    for file_name, content in files.items():
        if not (folder / file_name).is_file():  # the same name holds the same bytes
            _write_atomically(folder, file_name, content)
            written.append(file_name)
    _replace_files(publication, list(files), written, folder)
    before = publication.cover_path
    publication.cover_path = name
    publication.cover_width, publication.cover_height = width, height
    if before != name:
        record_change(publication, actor, "cover", {"cover_path": before}, {"cover_path": name})
    db.session.flush()
    return name


def remove_cover(publication: Publication, actor: str) -> None:
    """Stop using the cover (the placeholder shows instead). Its files are deleted once the
    caller commits, so a rollback leaves nothing pointing at a missing file."""
    if not publication.cover_path:
        raise CoverError(f"“{publication.title}” has no cover to remove.")
    record_change(publication, actor, "cover", {"cover_path": publication.cover_path}, {"cover_path": None})
    _replace_files(publication, [], [], _folder(current_app.config["COVERS_DIR"]))
    publication.cover_path = None
    publication.cover_width = publication.cover_height = None
    db.session.flush()


def renamed_by_import(publication: Publication, new_path: str | None) -> None:
    """An import names another file as the cover: the stored cover's files (if it had them) go
    once the import commits, as an upload's would. The import clears the stored size with the
    path (admin.import_changes), so ``covers-rebuild`` resizes the new file."""
    _replace_files(publication, [new_path] if new_path else [], [], _folder(current_app.config["COVERS_DIR"]))


def cover_file(publication: Publication, covers_dir: str) -> Path | None:
    """The stored cover, if it exists inside ``covers_dir`` and is a type we serve."""
    if not publication.cover_path:
        return None
    joined = safe_join(str(_folder(covers_dir)), publication.cover_path)
    if joined is None:
        return None
    path = Path(joined)
    return path if path.suffix.lower() in MIMETYPES and path.is_file() else None


def placeholder_svg(title: str, publisher: str = "") -> str:
    """A plain cover with the title on it: every piece of text escaped for XML."""

    def clean(text: str) -> str:
        return XML_INVALID.sub("", text or "").strip()

    lines = textwrap.wrap(clean(title), width=18, break_long_words=True) or ["Untitled"]
    if len(lines) > 7:
        lines = lines[:7]
        lines[-1] = lines[-1][:17].rstrip() + "…"
    spans = "".join(
        f'<tspan x="40" dy="{0 if n == 0 else 42}">{escape(line)}</tspan>' for n, line in enumerate(lines)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 600" width="400" height="600" '
        'role="img" aria-label="' + str(escape(clean(title))) + '">'
        f"<title>{escape(clean(title))}</title>"
        '<rect width="400" height="600" fill="#f6f0f2"/>'
        '<rect x="0" y="0" width="400" height="24" fill="#8a1538"/>'
        '<text x="40" y="120" font-family="Georgia, serif" font-size="34" font-weight="bold" '
        f'fill="#1b1b1b">{spans}</text>'
        '<text x="40" y="556" font-family="system-ui, Arial, sans-serif" font-size="20" '
        f'fill="#555555">{escape(clean(publisher))}</text>'
        "</svg>"
    )


@dataclass(frozen=True)
class CoverImage:
    """What an ``<img>`` of a cover needs."""

    src: str
    srcset: str
    sizes: str
    width: int
    height: int
    alt: str
    uploaded: bool  # False: the placeholder


def _short_hash(*parts: str | None) -> str:
    return hashlib.sha256("\x1f".join(part or "" for part in parts).encode()).hexdigest()[:10]


def _file_prefix() -> str:
    """``/covers/f/``, built once per request (a catalogue page shows twenty covers)."""
    prefix = g.get("cover_file_prefix")
    if prefix is None:
        prefix = g.cover_file_prefix = url_for("covers.file", name="x")[:-1]
    return prefix


def _useful_widths(widths: list[int], shown_width: int) -> list[int]:
    """The copies a browser could pick for a place ``shown_width`` CSS pixels wide: from that
    width up to three times it (screens of 1 to 3 device pixels per CSS pixel), and the next
    larger one when none reaches three times. Offering every copy only makes each page longer (a
    catalogue page shows twenty covers). The largest copy when all are narrower than the place."""
    useful = [w for w in widths if shown_width <= w <= 3 * shown_width]
    if not useful or useful[-1] < 3 * shown_width:
        useful += [w for w in widths if w > 3 * shown_width][:1]
    return useful or widths[-1:]


def cover_image(publication: Any, place: str = "page") -> CoverImage:
    """The cover of ``publication`` (a Publication or a row with isbn, title, publisher and the
    cover columns) as shown in ``place`` (``PLACES``): its resized copies when it has them, the
    stored file as it is when it was never resized, else the placeholder. From the row alone."""
    shown_width, sizes = PLACES[place]
    title = publication.title
    path, width, height = publication.cover_path, publication.cover_width, publication.cover_height
    if _is_resized(publication):
        stem = _file_prefix() + _stem(path)
        widths = _useful_widths(copy_widths(width), shown_width)
        srcset = ", ".join(f"{stem}-{w}.jpg {w}w" for w in widths)
        fallback = widths[0]
        return CoverImage(f"{stem}-{fallback}.jpg", srcset, sizes, shown_width,
                          max(round(shown_width * height / width), 1), f"Cover of {title}", True)
    placeholder_height = round(shown_width * PLACEHOLDER_SIZE[1] / PLACEHOLDER_SIZE[0])
    version = _short_hash(path) if path else _short_hash(title, publication.publisher)
    src = url_for("covers.cover", isbn_text=publication.isbn, v=version)
    return CoverImage(src, "", sizes, shown_width, placeholder_height,
                      f"Cover of {title}" if path else f"Plain cover showing the title {title}",
                      bool(path))


def share_image(publication: Any) -> tuple[str, int, int] | None:
    """The largest copy of an uploaded cover (path, width, height), for og:image and JSON-LD."""
    path, width, height = publication.cover_path, publication.cover_width, publication.cover_height
    if not _is_resized(publication):
        return None
    largest = copy_widths(width)[-1]
    return (url_for("covers.file", name=f"{_stem(path)}-{largest}.jpg"), largest,
            max(round(largest * height / width), 1))


def cover_url(publication: Any) -> str:
    """The address of the cover as the publication page shows it."""
    return cover_image(publication, "page").src


@bp.app_template_global("cover_url")
def _cover_url_global(publication: Publication) -> str:
    return cover_url(publication)


@bp.app_template_global("cover_image")
def _cover_image_global(publication: Any, place: str = "page") -> CoverImage:
    return cover_image(publication, place)


@bp.get("/f/<name>")
def file(name: str):
    """A stored cover or one of its copies, by its content-addressed name: cached for a year."""
    if not STORED_NAME.match(name):
        abort(404)
    path = safe_join(str(_folder(current_app.config["COVERS_DIR"])), name)
    if path is None or not Path(path).is_file():
        abort(404)
    response = send_file(path, mimetype=MIMETYPES["." + name.rsplit(".", 1)[1]], max_age=IMMUTABLE_AGE,
                         conditional=True, etag=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


@bp.get("/<isbn_text>")
def cover(isbn_text: str):
    """The uploaded cover, or a generated placeholder; public and cacheable either way."""
    try:
        publication = get_by_isbn(isbns.normalise(isbn_text))
    except (InvalidISBN, NotFound) as error:
        abort(404, description=error.message)
    path = cover_file(publication, current_app.config["COVERS_DIR"])
    if path is not None:
        return send_file(path, mimetype=MIMETYPES[path.suffix.lower()], max_age=MAX_AGE, conditional=True, etag=True)
    body = placeholder_svg(publication.title, publication.publisher).encode()
    response = Response(body, content_type="image/svg+xml; charset=utf-8")
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    return response.make_conditional(request)
