"""Every image format Parley accepts loses its location and camera metadata, wherever in the
file it lies, by dropping what carries it: the pixels are the same bytes, decoded alike."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from parley.processing.detect import FileKind
from parley.processing.metadata import strip_image_metadata
from parley.processing.previews import make_preview
from tests.support.files import (
    gif_with_metadata,
    jpeg_with_location,
    png_with_location,
    webp_with_location,
)

MAX_PIXELS = 50_000_000
ORIENTATION = 0x0112
GPS_IFD = 0x8825

# What would give metadata away in the raw bytes, in any case: EXIF's identifier, PNG's eXIf
# chunk and WebP's EXIF chunk alike, XMP packets, and the camera named in each.
MARKERS = [b"exif", b"xmpmeta", b"xmp data", b"secretcamera", b"secretmodel", b"52,31"]


def _leaks(data: bytes) -> list[bytes]:
    lowered = data.lower()
    return [marker for marker in MARKERS if marker in lowered]


def _pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGBA").tobytes()


def _cleaned(kind: FileKind, data: bytes) -> bytes:
    preview = make_preview(kind, data, MAX_PIXELS)
    assert preview.cleaned is not None, "nothing was stripped"
    return preview.cleaned


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _progressive_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), "teal").save(out, "JPEG", progressive=True)
    return out.getvalue()


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (FileKind.JPEG, jpeg_with_location()),
        # Past the first MiB, beyond what an upload holds back while it streams in.
        (FileKind.JPEG, jpeg_with_location(padding=1_100_000)),
        (FileKind.PNG, png_with_location()),
        (FileKind.WEBP, webp_with_location()),
        (FileKind.GIF, gif_with_metadata()),
    ],
    ids=["jpeg", "jpeg-past-1-mib", "png", "webp", "gif"],
)
def test_no_metadata_is_left_in_any_format(kind: FileKind, data: bytes) -> None:
    assert _leaks(data)  # the test file does carry some
    preview = make_preview(kind, data, MAX_PIXELS)
    assert preview.cleaned is not None
    assert preview.thumbnail is not None
    cleaned = preview.cleaned
    assert _leaks(cleaned) == []
    assert _leaks(preview.thumbnail) == []
    with Image.open(io.BytesIO(cleaned)) as image:
        assert image.format == kind.name
        exif = image.getexif()
        assert dict(exif) == {}
        assert exif.get_ifd(GPS_IFD) == {}
        assert not {"xmp", "XML:com.adobe.xmp", "comment", "extension"} & set(image.info)
    assert _pixels(cleaned) == _pixels(data)
    assert make_preview(kind, cleaned, MAX_PIXELS).cleaned is None  # nothing more to remove


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (FileKind.JPEG, jpeg_with_location(orientation=6)),
        (FileKind.PNG, png_with_location(orientation=6)),
        (FileKind.WEBP, webp_with_location(orientation=6)),
    ],
    ids=["jpeg", "png", "webp"],
)
def test_only_the_orientation_stays(kind: FileKind, data: bytes) -> None:
    preview = make_preview(kind, data, MAX_PIXELS)
    assert (preview.result["width"], preview.result["height"]) == (240, 320)
    assert preview.cleaned is not None
    lowered = preview.cleaned.lower()
    assert b"secretcamera" not in lowered
    assert b"xmpmeta" not in lowered
    with Image.open(io.BytesIO(preview.cleaned)) as image:
        assert dict(image.getexif()) == {ORIENTATION: 6}


def test_a_jpeg_keeps_nothing_between_its_scans_nor_after_its_end() -> None:
    progressive = _progressive_jpeg()
    scans = [i for i in range(len(progressive) - 1) if progressive[i : i + 2] == b"\xff\xda"]
    assert len(scans) > 1
    second = scans[1]
    hidden = (
        progressive[:second]
        + _jpeg_segment(0xE1, b"Exif\x00\x00" + b"SecretCamera")
        + _jpeg_segment(0xFE, b"SecretCamera")
        + progressive[second:]
        + jpeg_with_location()  # another picture after the end (as in MPF), with its EXIF
    )
    cleaned = _cleaned(FileKind.JPEG, hidden)
    assert cleaned == progressive
    assert _leaks(cleaned) == []


def test_a_jpeg_keeps_its_colour_profile_and_its_adobe_segment() -> None:
    out = io.BytesIO()
    Image.new("CMYK", (64, 48), (0, 128, 255, 0)).save(out, "JPEG")  # writes APP14 "Adobe"
    cmyk = out.getvalue()
    profile = _jpeg_segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + b"p" * 100)
    data = cmyk[:2] + profile + _jpeg_segment(0xE1, b"Exif\x00\x00SecretCamera") + cmyk[2:]
    assert _cleaned(FileKind.JPEG, data) == cmyk[:2] + profile + cmyk[2:]
    assert b"Adobe" in cmyk


def test_a_png_keeps_what_draws_it_and_drops_what_follows_its_end() -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "navy").save(out, "PNG", dpi=(300, 300))  # a pHYs chunk
    plain = out.getvalue()
    cleaned = _cleaned(FileKind.PNG, plain + b"trailing SecretCamera")
    assert cleaned == plain


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (FileKind.JPEG, jpeg_with_location(orientation=6)),
        (FileKind.PNG, png_with_location(orientation=6)),
        (FileKind.WEBP, webp_with_location(orientation=6)),
        (FileKind.GIF, gif_with_metadata()),
    ],
    ids=["jpeg", "png", "webp", "gif"],
)
def test_a_cut_short_file_is_stripped_without_error(kind: FileKind, data: bytes) -> None:
    """Stripping reads structure only: at whatever byte a file stops, it neither raises
    nor lets through metadata whole."""
    for end in range(0, len(data), 7):
        cut = data[:end]
        stripped = strip_image_metadata(kind, cut, 6)
        assert b"xmpmeta" not in (cut if stripped is None else stripped), end
