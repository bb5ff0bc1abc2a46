"""Stripping JPEG metadata as an upload streams in: the same bytes as stripping the whole
file, however the body is cut into chunks."""

from __future__ import annotations

import io
import struct
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from parley.processing.jpeg_metadata import HEADER_LIMIT, strip_metadata, without_metadata
from tests.support.files import jpeg_with_exif

ORIENTATION = 0x0112


async def _streamed(data: bytes, chunk_size: int) -> bytes:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    return b"".join([chunk async for chunk in without_metadata(chunks())])


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _orientation(jpeg: bytes) -> int:
    with Image.open(io.BytesIO(jpeg)) as image:
        image.load()  # the pixels are intact
        return int(image.getexif().get(ORIENTATION, 1))


@pytest.mark.parametrize("chunk_size", [1, 5, 4096, 1 << 30])
async def test_streaming_strips_like_the_whole_file(chunk_size: int) -> None:
    photo = jpeg_with_exif(orientation=8)
    stripped = strip_metadata(photo)
    assert stripped is not None
    assert b"SecretCamera" not in stripped
    assert _orientation(stripped) == 8
    assert await _streamed(photo, chunk_size) == stripped


async def test_a_jpeg_without_metadata_streams_through_unchanged() -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "green").save(out, "JPEG")
    plain = out.getvalue()
    assert strip_metadata(plain) is None
    assert await _streamed(plain, 1000) == plain


async def test_a_header_too_long_to_hold_is_left_for_the_worker() -> None:
    photo = jpeg_with_exif()
    comments = _segment(0xFE, b"c" * 60_000) * (HEADER_LIMIT // 60_000 + 2)
    padded = photo[:2] + comments + photo[2:]
    streamed = await _streamed(padded, 64 * 1024)
    assert b"SecretCamera" in streamed  # past the held-back start: the worker strips it
    assert strip_metadata(streamed) == strip_metadata(padded)
    assert b"SecretCamera" not in (strip_metadata(padded) or b"")


def test_a_malformed_exif_is_dropped_unread() -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "green").save(out, "JPEG")
    plain = out.getvalue()
    broken = plain[:2] + _segment(0xE1, b"Exif\x00\x00MM\x00*garbage") + plain[2:]
    assert strip_metadata(broken) == plain  # upright, as a reader of that EXIF would guess
