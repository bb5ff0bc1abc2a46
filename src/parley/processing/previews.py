"""Verifying files and making previews. Plain functions of bytes: they run in a process
pool, so that decoding a large image or parsing a PDF never blocks an event loop."""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from typing import Any

from charset_normalizer import from_bytes
from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from parley.processing.detect import FileKind

__all__ = ["Preview", "RejectedFileError", "make_preview"]

THUMBNAIL_SIDE = 512
PREVIEW_CHARS = 500
_EXIF_ORIENTATION = 0x0112


class RejectedFileError(Exception):
    """The file is not what it claims, is damaged, or is hostile: the upload fails."""


@dataclass(frozen=True, slots=True)
class Preview:
    result: dict[str, Any]
    thumbnail: bytes | None = None  # WebP, for images
    cleaned: bytes | None = None  # the original without its metadata, when it had some


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
                if image.format == "JPEG":
                    # Decode at the smallest scale that still gives a sharp thumbnail.
                    image.draft("RGB", (THUMBNAIL_SIDE * 2, THUMBNAIL_SIDE * 2))
                upright = ImageOps.exif_transpose(image)
                width, height = _upright_size(image.size, orientation)
                upright.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
                if upright.mode not in {"RGB", "RGBA"}:
                    upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
                out = io.BytesIO()
                upright.save(out, "WEBP", quality=80)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise RejectedFileError(
                "the image is too large to decode (decompression bomb?)"
            ) from error
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise RejectedFileError(f"the image is damaged or truncated ({error})") from error
    cleaned = _strip_jpeg_metadata(data, orientation) if kind is FileKind.JPEG else None
    return Preview(
        result={"kind": "image", "width": width, "height": height},
        thumbnail=out.getvalue(),
        cleaned=cleaned,
    )


def _upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    width, height = size
    return (height, width) if orientation in {5, 6, 7, 8} else (width, height)


def _strip_jpeg_metadata(data: bytes, orientation: int) -> bytes | None:
    """The JPEG without its EXIF, XMP and IPTC segments (camera, GPS, names), losslessly.

    The pixels are not re-encoded; only a minimal EXIF with the orientation is kept, so
    viewers still show the photo upright. None when there was nothing to remove.
    """
    segments: list[bytes] = [data[:2]]
    position, removed = 2, False
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xDA:  # start of scan: compressed data follows to the end
            break
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        segment = data[position : position + 2 + length]
        if marker in {0xE1, 0xED, 0xFE}:  # APP1 (EXIF, XMP), APP13 (IPTC), comments
            removed = True
        else:
            segments.append(segment)
        position += 2 + length
    if not removed:
        return None
    if orientation != 1:
        exif = Image.Exif()
        exif[_EXIF_ORIENTATION] = orientation
        payload = b"Exif\x00\x00" + exif.tobytes()
        segments.insert(1, b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload)
    return b"".join(segments) + data[position:]


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
        }
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
        }
    )
