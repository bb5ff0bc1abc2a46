"""Verifying files and making previews. Plain functions of bytes: they run in a process
pool, so that decoding a large image or parsing a PDF never blocks an event loop."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from charset_normalizer import from_bytes
from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from parley.processing.detect import FileKind
from parley.processing.metadata import strip_image_metadata

__all__ = ["Preview", "PreviewSummary", "RejectedFileError", "make_preview"]

THUMBNAIL_SIDE = 512
PREVIEW_CHARS = 500
_EXIF_ORIENTATION = 0x0112


class RejectedFileError(Exception):
    """The file is not what it claims, is damaged, or is hostile: the upload fails."""


@dataclass(frozen=True, slots=True)
class PreviewSummary:
    """What the upload's row records of a preview once its files are stored."""

    result: dict[str, Any]  # the kind of file and its figures, as the API shows them
    has_thumbnail: bool
    size: int  # of the file as kept: less than uploaded once stripped of its metadata


@dataclass(frozen=True, slots=True)
class Preview:
    result: dict[str, Any]
    size: int  # of the file as it is to be kept (``cleaned``, when there is one)
    thumbnail: bytes | None = None  # WebP, for images
    # An image without its metadata (all but its orientation), when it had some to remove.
    cleaned: bytes | None = None

    @property
    def summary(self) -> PreviewSummary:
        return PreviewSummary(self.result, has_thumbnail=self.thumbnail is not None, size=self.size)


def make_preview(kind: FileKind, data: bytes, max_pixels: int) -> Preview:
    if kind.is_image:
        return _image(kind, data, max_pixels)
    if kind is FileKind.PDF:
        return _pdf(data)
    return _text(data)


def _image(kind: FileKind, data: bytes, max_pixels: int) -> Preview:
    Image.MAX_IMAGE_PIXELS = max_pixels
    with warnings.catch_warnings():
        # Pillow warns between max_pixels and twice that; a bomb is a bomb either way.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()  # structure and checksums, without decoding every pixel
            with Image.open(io.BytesIO(data)) as image:
                orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
                if orientation not in range(1, 9):
                    orientation = 1  # a value no viewer knows: shown as stored
                width, height = _upright_size(image.size, orientation)
                # Shrunk first, then turned upright: turning the small thumbnail costs next to
                # nothing. A JPEG is decoded at a reduced scale (draft mode, at least twice
                # the thumbnail's size), not whole.
                image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
                ImageOps.exif_transpose(image, in_place=True)
                thumbnail = (
                    image
                    if image.mode in {"RGB", "RGBA"}
                    else image.convert("RGBA" if "A" in image.getbands() else "RGB")
                )
                out = io.BytesIO()
                thumbnail.save(out, "WEBP", quality=80)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise RejectedFileError(
                "the image is too large to decode (decompression bomb?)"
            ) from error
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise RejectedFileError(f"the image is damaged or truncated ({error})") from error
    # The orientation as read here, so that the file served turns as its size says.
    cleaned = strip_image_metadata(kind, data, orientation)
    return Preview(
        result={"kind": "image", "width": width, "height": height},
        size=len(data if cleaned is None else cleaned),
        thumbnail=out.getvalue(),
        cleaned=cleaned,
    )


def _upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    width, height = size
    return (height, width) if orientation in {5, 6, 7, 8} else (width, height)


def _pdf(data: bytes) -> Preview:
    try:
        reader = PdfReader(io.BytesIO(data))
        locked = reader.is_encrypted and not reader.decrypt("")
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        raise RejectedFileError(f"the PDF is damaged ({error})") from error
    if locked:
        raise RejectedFileError("the PDF is password-protected")
    try:
        pages = len(reader.pages)
        text = ""
        for page in reader.pages[:3]:
            text += (page.extract_text() or "") + "\n"
            if len(text) >= PREVIEW_CHARS:
                break
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        raise RejectedFileError(f"the PDF is damaged ({error})") from error
    return Preview(
        result={
            "kind": "pdf",
            "pages": pages,
            "text_preview": " ".join(text.split())[:PREVIEW_CHARS],
        },
        size=len(data),
    )


def _text(data: bytes) -> Preview:
    best = from_bytes(data).best()
    if best is None:
        raise RejectedFileError("the file is not readable text")
    text = str(best)
    return Preview(
        result={
            "kind": "text",
            "encoding": best.encoding,
            "lines": text.count("\n") + (0 if text.endswith("\n") or not text else 1),
            "text_preview": text[:PREVIEW_CHARS],
        },
        size=len(data),
    )
