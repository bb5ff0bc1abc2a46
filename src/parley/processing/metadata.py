"""Removing location and camera metadata from an image of any format Parley accepts.

Each format's metadata is dropped where it lies, chunk by chunk, never by decoding and
encoding the pixels again: the picture served is the picture uploaded, bit for bit, less
what described where and with what it was taken. Only its orientation stays, so that it
is still shown upright.
"""

from __future__ import annotations

from parley.processing import gif_metadata, jpeg_metadata, png_metadata, webp_metadata
from parley.processing.detect import FileKind

__all__ = ["strip_image_metadata"]


def strip_image_metadata(kind: FileKind, data: bytes, orientation: int) -> bytes | None:
    """``data`` without its metadata, keeping ``orientation`` (as the picture's EXIF gave
    it); None when there was nothing to remove."""
    if kind is FileKind.JPEG:
        return jpeg_metadata.strip_metadata(data, orientation)
    if kind is FileKind.PNG:
        return png_metadata.strip_metadata(data, orientation)
    if kind is FileKind.WEBP:
        return webp_metadata.strip_metadata(data, orientation)
    if kind is FileKind.GIF:
        return gif_metadata.strip_metadata(data)
    msg = f"{kind} is not an image"
    raise ValueError(msg)
