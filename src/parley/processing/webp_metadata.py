"""Removing a WebP's metadata by dropping chunks: the pixels are the same bytes.

A WebP is a RIFF file of chunks; only those that draw the picture are kept (the image data,
its alpha, the extended header, animation, the colour profile). ``EXIF``, ``XMP `` and any
chunk of another name go, and the extended header (``VP8X``) no longer announces them.
Whatever follows the RIFF's own length is not the picture and goes too.
"""

from __future__ import annotations

import struct

from parley.processing.orientation import EXIF_HEADER, orientation_exif

__all__ = ["strip_metadata"]

_DRAWING = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
_EXTENDED = b"VP8X"
# In the extended header's first byte: which optional chunks follow.
_EXIF_FLAG, _XMP_FLAG = 0x08, 0x04


def strip_metadata(webp: bytes, orientation: int = 1) -> bytes | None:
    """``webp`` with only the chunks that draw it, and an ``EXIF`` chunk holding
    ``orientation`` alone when the picture is stored turned (an extended WebP only: a simple
    one has no place for it). None when nothing would change."""
    if len(webp) < 12 or webp[:4] != b"RIFF" or webp[8:12] != b"WEBP":
        return None
    (riff_size,) = struct.unpack_from("<I", webp, 4)
    end_of_file = min(8 + riff_size, len(webp))
    kept: list[bytes] = []
    position = 12
    while position + 8 <= end_of_file:
        kind = webp[position : position + 4]
        (length,) = struct.unpack_from("<I", webp, position + 4)
        end = position + 8 + length + (length & 1)  # padded to an even length
        if kind in _DRAWING:
            kept.append(webp[position : min(end, end_of_file)])
        position = end
    extended = bool(kept) and kept[0][:4] == _EXTENDED and len(kept[0]) > 8
    if extended:
        flags = kept[0][8] & ~(_EXIF_FLAG | _XMP_FLAG)
        if orientation != 1:
            flags |= _EXIF_FLAG
            kept.append(_chunk(b"EXIF", orientation_exif(orientation).removeprefix(EXIF_HEADER)))
        kept[0] = kept[0][:8] + bytes([flags]) + kept[0][9:]
    body = b"WEBP" + b"".join(kept)
    stripped = b"RIFF" + struct.pack("<I", len(body)) + body
    return None if stripped == webp else stripped


def _chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) & 1)
