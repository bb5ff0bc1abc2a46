"""Removing a JPEG's metadata (camera, GPS position, names) without touching its pixels.

Uploads are stripped as they stream to storage (``without_metadata``): the segments before
the compressed data are held back and stripped, so that in the usual photo the metadata never
reaches the disk. The worker then strips the whole file (``strip_metadata``) before the file
is ever served: segments between the scans of a progressive JPEG, a header too long to hold
back, and whatever follows the end of the picture (a second picture, as in MPF, with EXIF of
its own) go too. On a file already stripped it finds nothing to remove.

What is kept is what draws the picture: every segment but the application ones (APPn) and
comments, and of those only APP0 (JFIF), a colour profile (APP2 ``ICC_PROFILE``) and APP14
(Adobe, which says how to read the colours). Everything else may carry metadata: EXIF and
XMP (APP1), FlashPix and MPF (APP2), IPTC (APP13), makers' own (APP3 to APP12, APP15).
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

from parley.processing.orientation import EXIF_HEADER, orientation_exif, orientation_of

__all__ = ["HEADER_LIMIT", "strip_metadata", "without_metadata"]

# The most of a JPEG held back while looking for its compressed data: the segments before
# it rarely reach 100 KB. A longer header streams through unstripped, for the worker.
HEADER_LIMIT = 1024 * 1024

_START_OF_IMAGE = b"\xff\xd8"
_END_OF_IMAGE = 0xD9
_START_OF_SCAN = 0xDA
_APP0, _APP1, _APP2, _APP14, _APP15 = 0xE0, 0xE1, 0xE2, 0xEE, 0xEF
_COMMENT = 0xFE
_ICC_PROFILE = b"ICC_PROFILE\x00"
# Markers that stand alone, without a length: a temporary one, and a start of image.
_STANDALONE = {0x01, 0xD8}
_RESTARTS = range(0xD0, 0xD8)


def _is_metadata(segment: bytes) -> bool:
    """Whether a whole segment (its marker first) is one that may carry metadata."""
    marker = segment[1]
    if marker == _COMMENT:
        return True
    if not _APP0 <= marker <= _APP15:
        return False
    if marker in {_APP0, _APP14}:
        return False
    return not (marker == _APP2 and segment[4:16] == _ICC_PROFILE)


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


def _orientation(segments: list[bytes]) -> int:
    """From the first EXIF segment, as Pillow and viewers read it; 1 (upright) without one."""
    for segment in segments:
        if segment[1] == _APP1 and segment[4:10] == EXIF_HEADER:
            return orientation_of(segment[4:])
    return 1


def _exif_segment(orientation: int) -> bytes:
    payload = orientation_exif(orientation)  # the APP1 payload whole, EXIF_HEADER first
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _start(orientation: int) -> bytes:
    """The start of image, and a minimal EXIF when the picture is stored turned."""
    return _START_OF_IMAGE + (_exif_segment(orientation) if orientation != 1 else b"")


def strip_metadata(jpeg: bytes, orientation: int | None = None) -> bytes | None:
    """The whole file ``jpeg`` without its metadata, wherever it lies, and without what
    follows its end of image. Only a minimal EXIF with ``orientation`` stays (by default the
    one its first EXIF gives), so that viewers still show the photo upright. None when
    nothing would change."""
    if orientation is None:
        orientation = _orientation(_read_header(jpeg).segments)
    kept = [_start(orientation)]
    position = 2
    while (marker_at := _next_marker(jpeg, position)) >= 0:
        kept.append(jpeg[position:marker_at])  # compressed data, or stray bytes
        marker = jpeg[marker_at + 1]
        if marker == _END_OF_IMAGE:
            kept.append(jpeg[marker_at : marker_at + 2])
            position = len(jpeg)  # anything after the picture is not the picture
            break
        if marker in _STANDALONE:
            kept.append(jpeg[marker_at : marker_at + 2])
            position = marker_at + 2
            continue
        if marker_at + 4 > len(jpeg):
            position = marker_at
            break
        (length,) = struct.unpack_from(">H", jpeg, marker_at + 2)
        segment = jpeg[marker_at : marker_at + 2 + length]  # cut short in a truncated file
        if not _is_metadata(segment):
            kept.append(segment)
        position = min(marker_at + 2 + length, len(jpeg))
    kept.append(jpeg[position:])
    stripped = b"".join(kept)
    return None if stripped == jpeg else stripped


def _next_marker(data: bytes, start: int) -> int:
    """Where the next marker's 0xFF is from ``start`` on, or -1: a 0xFF in compressed data
    is followed by a zero byte, a restart marker belongs to the scan, and 0xFF may repeat
    before a marker as fill."""
    position = start
    while (position := data.find(b"\xff", position)) >= 0 and position + 1 < len(data):
        following = data[position + 1]
        if following == 0 or following in _RESTARTS:
            position += 2
        elif following == 0xFF:
            position += 1
        else:
            return position
    return -1


def _strip_header(start: bytes) -> bytes:
    """``start`` (the beginning of a JPEG) with the metadata of its header removed; what
    follows the header is left as it is."""
    header = _read_header(start)
    kept = [segment for segment in header.segments if not _is_metadata(segment)]
    return _start(_orientation(header.segments)) + b"".join(kept) + start[header.end :]


async def without_metadata(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A JPEG's chunks as they arrive, stripped: its header is held back until complete
    (at most ``HEADER_LIMIT`` bytes), the compressed data after it passes straight on."""
    start = bytearray()
    async for chunk in chunks:
        start += chunk
        if not _read_header(bytes(start)).needs_more or len(start) > HEADER_LIMIT:
            break
    yield _strip_header(bytes(start))
    async for chunk in chunks:
        yield chunk
