"""Photos posted with reports: checked by their content, stored by their hash, served in scope.

A photo is accepted when it *is* a JPEG, PNG or WebP image, whatever its file name or declared
type says:

* Pillow must identify it as one of those formats (``Image.open(formats=...)``), ``verify()``
  it and then decode it completely: a truncated or corrupt file is refused;
* at most ``MAX_PIXELS`` pixels, and Pillow's decompression-bomb warning is an error: a small
  file that would decode to gigabytes is refused before it is decoded;
* nothing may follow the image's end (JPEG ``EOI``, PNG ``IEND``, the WebP RIFF length): a file
  that is an image *and* something else (HTML, a ZIP archive) is refused.

Even so a photo is only ever served as the image type it was stored as, with
``X-Content-Type-Options: nosniff``, ``Content-Disposition: inline`` and a sandboxing
Content-Security-Policy, so a browser never runs it as a page.

Files live at ``<photos_path>/<incident id>/<sha256>.<ext>``, written atomically (a temporary
file in the same folder, then ``os.replace``). The report's ``photos`` list carries their URLs,
``/api/v1/incidents/<id>/photos/<sha256>.<ext>``.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

# Pillow format -> (file extension, Content-Type). MPO is a JPEG with extra pictures appended
# (phones' depth maps); it is a JPEG file to every browser.
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "MPO": ("jpg", "image/jpeg"),
           "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
CONTENT_TYPES = {ext: mime for ext, mime in FORMATS.values()}
NAME_RE = re.compile(r"^[0-9a-f]{64}\.(?:jpg|png|webp)$")
MAX_PIXELS = 50_000_000   # 50 megapixels: more than any phone's default photo
ACCEPTED = "a JPEG, PNG or WebP image"


class PhotoError(ValueError):
    """A photo that is refused: ``status`` 413 (too large) or 422 (not an acceptable image)."""

    def __init__(self, field: str, message: str, status: int = 422):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Photo:
    data: bytes
    sha256: str
    ext: str
    width: int
    height: int

    @property
    def name(self) -> str:
        return f"{self.sha256}.{self.ext}"

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.ext]


def photo_url(incident_id: uuid.UUID | str, name: str) -> str:
    return f"/api/v1/incidents/{incident_id}/photos/{name}"


# --------------------------------------------------------------------------- checking

def check_photo(data: bytes, field: str = "photos", max_bytes: int | None = None) -> Photo:
    """The photo in ``data``, or PhotoError saying what is wrong with it."""
    if max_bytes is not None and len(data) > max_bytes:
        raise PhotoError(field, f"larger than {max_bytes} bytes; send a smaller (re-compressed) photo", 413)
    if not data:
        raise PhotoError(field, f"empty file; send {ACCEPTED}")
    fmt, width, height = _decode(data, field)
    _no_trailing_data(data, fmt, field)
    ext = FORMATS[fmt][0]
    return Photo(data=data, sha256=hashlib.sha256(data).hexdigest(), ext=ext, width=width, height=height)


def _decode(data: bytes, field: str) -> tuple[str, int, int]:
    """(format, width, height) after verifying and fully decoding the image."""
    formats = ["JPEG", "PNG", "WEBP"]  # Pillow's JPEG opener also gives MPO files
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=formats) as im:
                fmt, (width, height) = im.format, im.size
                if width * height > MAX_PIXELS:
                    raise PhotoError(field, f"{width}×{height} pixels is more than {MAX_PIXELS // 1_000_000} "
                                            "megapixels; send a smaller photo")
                im.verify()
            with Image.open(io.BytesIO(data), formats=formats) as im:
                if fmt in ("JPEG", "MPO"):
                    im.draft("RGB", (1, 1))  # decode every block, at 1/8 scale: little memory
                im.load()
        except PhotoError:
            raise
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise PhotoError(field, f"the image's dimensions are too large (more than "
                                    f"{MAX_PIXELS // 1_000_000} megapixels); send a smaller photo") from None
        except UnidentifiedImageError:
            raise PhotoError(field, f"not {ACCEPTED} (checked by content, not by name or type)") from None
        except (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, KeyError,
                MemoryError) as exc:
            raise PhotoError(field, f"a damaged or truncated {_kind(data)} ({exc}); send the "
                                    "original file") from None
    if fmt not in FORMATS:  # Image.open(formats=...) keeps to them; belt and braces
        raise PhotoError(field, f"not {ACCEPTED}")
    return fmt, width, height


def _kind(data: bytes) -> str:
    """What the file says it is, for messages."""
    if data[:2] == b"\xff\xd8":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return "image"


def _no_trailing_data(data: bytes, fmt: str, field: str) -> None:
    """Refuse bytes after the image's end: a file that is also a page or an archive."""
    if fmt in ("JPEG", "MPO"):
        ok = data.rstrip(b"\x00").endswith(b"\xff\xd9")
    elif fmt == "PNG":
        ok = data.endswith(b"IEND\xaeB`\x82")
    else:  # WEBP: the RIFF header says how long the file is (padded to an even length)
        size = int.from_bytes(data[4:8], "little") + 8
        ok = len(data) in (size, size + (size & 1))
    if not ok:
        raise PhotoError(field, f"data follows the end of the {_kind(data)} image (a file that is "
                                "also something else); send the plain photo")


# --------------------------------------------------------------------------- storing

def folder(root: Path, incident_id: uuid.UUID) -> Path:
    return Path(root) / str(incident_id)


def path_of(root: Path, incident_id: uuid.UUID, name: str) -> Path | None:
    """The file of a stored photo name, or None for a name that is not one of ours."""
    if not NAME_RE.match(name):
        return None
    return folder(root, incident_id) / name


def store(root: Path, incident_id: uuid.UUID, photos: list[Photo]) -> list[Path]:
    """Write the photos atomically; returns the files this call created (files already there
    hold the same bytes, their name being their hash, and are left alone). On an error the
    files created so far are removed again."""
    created: list[Path] = []
    try:
        for photo in photos:
            path = path_of(root, incident_id, photo.name)
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, photo.data)
            created.append(path)
    except BaseException:
        remove(created)
        raise
    return created


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@contextmanager
def kept_if_done(root: Path, incident_id: uuid.UUID, photos: list[Photo]):
    """Store checked photos for a step and yield their URLs; if the step fails (an exception
    leaves the block), the files this call created are removed again."""
    created = store(root, incident_id, photos) if photos else []
    try:
        yield [photo_url(incident_id, p.name) for p in photos]
    except BaseException:
        remove(created)
        raise


def remove(paths: list[Path]) -> None:
    """Delete files written by a request that did not go through (and their folder, if empty)."""
    folders = set()
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        folders.add(path.parent)
    for d in folders:
        try:
            d.rmdir()
        except OSError:  # not empty: other photos of the case
            pass
