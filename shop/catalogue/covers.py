"""Cover images: checking and storing an upload, and serving a cover (or a generated placeholder).

An upload must be a JPEG, PNG or WebP that Pillow can open and verify, no larger than
``COVER_MAX_BYTES`` and no wider or taller than ``MAX_SIDE`` pixels (a small file can still
decode to a huge image). It is decoded and encoded again in sRGB, so EXIF, XMP, comments (camera,
GPS, software) and colour profiles never reach the public, and stored as ``<isbn13>.<ext>`` under ``COVERS_DIR``
(outside the package), in ``Publication.cover_path`` relative to that folder.

Covers are public, so this module has its own blueprint outside the staff desk.
"""

import hashlib
import io
import os
import re
import tempfile
import textwrap
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, request, send_file, url_for
from markupsafe import escape
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
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
MAX_AGE = 86400  # a day; links carry ?v= so a new cover shows at once
QUALITY = 90  # JPEG and WebP: no visible loss on a cover
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


def save_cover(publication: Publication, data: bytes, covers_dir: str, actor: str) -> str:
    """Store ``data`` (already size-checked by ``read_upload``) as the publication's cover and
    record the change; returns the stored name. Flushes; the caller commits."""
    clean, extension = clean_image(data)
    name = publication.isbn + extension
    folder = _folder(covers_dir)
    _write_atomically(folder, name, clean)
    # A cover of another format stored earlier for this ISBN is no longer used.
    for other in set(FORMATS.values()) - {extension}:
        (folder / (publication.isbn + other)).unlink(missing_ok=True)
    before = publication.cover_path
    publication.cover_path = name
    record_change(
        publication, actor, "cover", {"cover_path": before}, {"cover_path": name}
    )
    db.session.flush()
    return name


def remove_cover(publication: Publication, actor: str) -> None:
    """Stop using the cover (the placeholder shows instead). The file stays until a new upload
    replaces it, so a rollback leaves nothing pointing at a missing file."""
    if not publication.cover_path:
        raise CoverError(f"“{publication.title}” has no cover to remove.")
    record_change(publication, actor, "cover", {"cover_path": publication.cover_path}, {"cover_path": None})
    publication.cover_path = None
    db.session.flush()


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


def cover_url(publication: Publication) -> str:
    """The cover's address; ``v`` changes whenever the publication does, so caches refetch."""
    version = int(publication.updated_at.timestamp()) if publication.updated_at else 0
    return url_for("covers.cover", isbn_text=publication.isbn, v=version)


@bp.app_template_global("cover_url")
def _cover_url_global(publication: Publication) -> str:
    return cover_url(publication)


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
