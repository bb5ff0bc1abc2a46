"""Removing a JPEG's metadata (camera, GPS position, names) without touching its pixels.

Uploads are stripped as they stream to storage (``without_metadata``), so the metadata never
reaches the disk and the worker has no copy of the file to rewrite; the worker strips again
(``strip_metadata``) whatever was stored otherwise, which finds nothing on a stripped file.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

from PIL import Image

__all__ = ["HEADER_LIMIT", "strip_metadata", "without_metadata"]

# The most of a JPEG held back while looking for its compressed data: the segments before
# it rarely reach 100 KB. A longer header streams through unstripped, for the worker.
HEADER_LIMIT = 1024 * 1024

_START_OF_IMAGE = b"\xff\xd8"
_START_OF_SCAN = 0xDA
_APP1 = 0xE1
_METADATA = {_APP1, 0xED, 0xFE}  # APP1 (EXIF, XMP), APP13 (IPTC), comments
_EXIF = b"Exif\x00\x00"
_ORIENTATION = 0x0112


@dataclass(frozen=True, slots=True)
class _Header:
    segments: list[bytes]  # each whole, its marker included, in file order
    end: int  # where they stop: the start of scan, or where the data or its structure does
    needs_more: bool  # the data stopped before the start of scan, with the structure intact


def _read_header(data: bytes) -> _Header:
    segments: list[bytes] = []
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        if data[position + 1] == _START_OF_SCAN:
            return _Header(segments, position, needs_more=False)
        (length,) = struct.unpack_from(">H", data, position + 2)
        if position + 2 + length > len(data):
            return _Header(segments, position, needs_more=True)
        segments.append(data[position : position + 2 + length])
        position += 2 + length
    return _Header(segments, position, needs_more=position + 4 > len(data))


def strip_metadata(jpeg: bytes) -> bytes | None:
    """``jpeg`` without its EXIF, XMP, IPTC and comment segments. Only a minimal EXIF with
    the orientation stays, so that viewers still show the photo upright. ``jpeg`` may be
    the start of a file, what follows is left as it is. None when nothing would change."""
    header = _read_header(jpeg)
    kept = [segment for segment in header.segments if segment[1] not in _METADATA]
    orientation = _orientation(header.segments)
    if orientation != 1:
        kept.insert(0, _exif_segment(orientation))
    stripped = _START_OF_IMAGE + b"".join(kept)
    if stripped == jpeg[: header.end]:
        return None
    return stripped + jpeg[header.end :]


def _orientation(segments: list[bytes]) -> int:
    """From the first EXIF segment, as Pillow and viewers read it; 1 (upright) without one."""
    for segment in segments:
        if segment[1] == _APP1 and segment[4:10] == _EXIF:
            exif = Image.Exif()
            try:
                exif.load(segment[4:])
                orientation = exif.get(_ORIENTATION, 1)
            except Exception:  # noqa: BLE001  (a malformed EXIF goes with the rest, unread)
                return 1
            return orientation if orientation in range(1, 9) else 1
    return 1


def _exif_segment(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    payload = exif.tobytes()  # the APP1 payload whole: it starts with b"Exif\0\0" already
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


async def without_metadata(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A JPEG's chunks as they arrive, stripped: its header is held back until complete
    (at most ``HEADER_LIMIT`` bytes), the compressed data after it passes straight on."""
    start = bytearray()
    async for chunk in chunks:
        start += chunk
        if not _read_header(bytes(start)).needs_more or len(start) > HEADER_LIMIT:
            break
    held = bytes(start)
    yield strip_metadata(held) or held
    async for chunk in chunks:
        yield chunk
