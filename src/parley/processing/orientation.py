"""The one piece of EXIF a stripped image keeps: its orientation, so viewers still show a
photo upright. Everything else in EXIF (camera, GPS position, dates, names) goes."""

from __future__ import annotations

from PIL import Image

__all__ = ["EXIF_HEADER", "ORIENTATION_TAG", "orientation_exif", "orientation_of"]

ORIENTATION_TAG = 0x0112
# What starts an EXIF block in a JPEG's APP1 segment; PNG's eXIf and WebP's EXIF chunks
# hold the TIFF data that follows it.
EXIF_HEADER = b"Exif\x00\x00"


def orientation_of(exif: bytes) -> int:
    """The orientation an EXIF block (with or without ``EXIF_HEADER``) gives, as Pillow and
    viewers read it; 1 (upright) when it gives none or cannot be read."""
    block = Image.Exif()
    try:
        block.load(exif)
        orientation = block.get(ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001  (a malformed EXIF goes with the rest, unread)
        return 1
    return orientation if orientation in range(1, 9) else 1


def orientation_exif(orientation: int) -> bytes:
    """An EXIF block that holds ``orientation`` alone, ``EXIF_HEADER`` first."""
    block = Image.Exif()
    block[ORIENTATION_TAG] = orientation
    return block.tobytes()
