"""Removing a PNG's metadata by dropping chunks: the pixels are the same bytes.

A PNG keeps metadata in text chunks (``tEXt``, ``zTXt``, ``iTXt``: comments, XMP, EXIF as
ImageMagick writes it), in ``eXIf`` and ``tIME``, and may carry private chunks of any name.
So ancillary chunks are kept only when they say how to draw the picture (transparency,
colour, gamma, pixel size, animation); critical chunks are all kept, as a decoder needs
every one of them. Whatever follows ``IEND`` is not the picture and goes too.
"""

from __future__ import annotations

import struct
import zlib

from parley.processing.orientation import EXIF_HEADER, orientation_exif

__all__ = ["strip_metadata"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ANCILLARY_BIT = 0x20  # in a chunk type's first letter: lower case
_DRAWING = frozenset(
    {
        b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCV", b"mDCv",
        b"cLLI", b"cLLi", b"bKGD", b"hIST", b"pHYs", b"sPLT",
        b"acTL", b"fcTL", b"fdAT",  # animation (APNG)
    }
)  # fmt: skip


def strip_metadata(png: bytes, orientation: int = 1) -> bytes | None:
    """``png`` with only the chunks that draw it, and an ``eXIf`` holding ``orientation``
    alone when the picture is stored turned. None when nothing would change."""
    if not png.startswith(_SIGNATURE):
        return None
    kept = [_SIGNATURE]
    position = len(_SIGNATURE)
    while position + 8 <= len(png):
        (length,) = struct.unpack_from(">I", png, position)
        kind = png[position + 4 : position + 8]
        end = position + 12 + length  # length, type, data, CRC
        if not kind[0] & _ANCILLARY_BIT or kind in _DRAWING:
            kept.append(png[position:end])  # cut short in a truncated file
        if kind == b"IHDR" and orientation != 1:
            kept.append(_chunk(b"eXIf", orientation_exif(orientation).removeprefix(EXIF_HEADER)))
        if kind == b"IEND":
            break
        position = end
    stripped = b"".join(kept)
    return None if stripped == png else stripped


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
