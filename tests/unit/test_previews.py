"""Previews of images: the thumbnail shown upright, the original stored without its metadata
but with an orientation every reader finds."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from parley.processing.detect import FileKind
from parley.processing.in_place import preview_in_place
from parley.processing.previews import make_preview
from tests.support.files import jpeg_with_exif, png

MAX_PIXELS = 50_000_000
ORIENTATION = 0x0112


def _app1_payloads(jpeg: bytes) -> list[bytes]:
    """The payloads of a JPEG's APP1 segments, read from its markers, as any viewer does."""
    payloads, position = [], 2
    while jpeg[position] == 0xFF and jpeg[position + 1] != 0xDA:  # up to the start of scan
        (length,) = struct.unpack(">H", jpeg[position + 2 : position + 4])
        if jpeg[position + 1] == 0xE1:
            payloads.append(jpeg[position + 4 : position + 2 + length])
        position += 2 + length
    return payloads


def _two_colour_jpeg(orientation: int) -> bytes:
    """1200x800 as stored: red on the left half, blue on the right; EXIF says how to turn it."""
    image = Image.new("RGB", (1200, 800), "blue")
    image.paste("red", (0, 0, 600, 800))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_the_stripped_original_keeps_one_readable_exif_with_the_orientation() -> None:
    preview = make_preview(FileKind.JPEG, jpeg_with_exif(orientation=6), MAX_PIXELS)
    assert preview.cleaned is not None
    assert b"SecretCamera" not in preview.cleaned
    [payload] = _app1_payloads(preview.cleaned)
    # One identifier, then the TIFF header at once: Pillow forgives a doubled identifier,
    # browsers and exiftool do not, and would show the photo sideways.
    assert payload.startswith(b"Exif\x00\x00")
    assert payload[6:10] in {b"MM\x00*", b"II*\x00"}
    exif = Image.Exif()
    exif.load(payload)
    assert dict(exif) == {ORIENTATION: 6}


def test_a_stripped_original_is_not_written_again() -> None:
    """Uploads are stripped as they are stored, and a retry after a crash starts from the
    stripped original it left: either way the worker finds nothing more to remove."""
    first = make_preview(FileKind.JPEG, jpeg_with_exif(orientation=6), MAX_PIXELS)
    assert first.cleaned is not None
    again = make_preview(FileKind.JPEG, first.cleaned, MAX_PIXELS)
    assert again.result == first.result == {"kind": "image", "width": 800, "height": 1200}
    assert again.cleaned is None
    assert again.thumbnail == first.thumbnail


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_the_thumbnail_is_upright_and_the_size_is_as_shown(orientation: int) -> None:
    data = _two_colour_jpeg(orientation)
    with Image.open(io.BytesIO(data)) as stored:
        shown = ImageOps.exif_transpose(stored)
    preview = make_preview(FileKind.JPEG, data, MAX_PIXELS)
    assert (preview.result["width"], preview.result["height"]) == shown.size
    assert preview.thumbnail is not None
    with Image.open(io.BytesIO(preview.thumbnail)) as thumbnail:
        assert thumbnail.format == "WEBP"
        assert max(thumbnail.size) == 512
        expected = shown.resize(thumbnail.size)
        for corner in [(5, 5), (thumbnail.width - 6, thumbnail.height - 6)]:
            red, _, blue = thumbnail.convert("RGB").getpixel(corner)  # type: ignore[misc]
            want_red, _, want_blue = expected.getpixel(corner)  # type: ignore[misc]
            assert (red > blue) == (want_red > want_blue), (orientation, corner)


def test_a_preview_in_place_writes_its_files_whole(tmp_path: Path) -> None:
    original, thumbnail = tmp_path / "upload", tmp_path / "upload.thumb.webp"
    data = jpeg_with_exif(orientation=6)
    original.write_bytes(data)
    summary = preview_in_place(FileKind.JPEG, original, thumbnail, MAX_PIXELS)
    from_bytes = make_preview(FileKind.JPEG, data, MAX_PIXELS)
    assert summary == from_bytes.summary
    assert summary.has_thumbnail
    assert original.read_bytes() == from_bytes.cleaned
    assert thumbnail.read_bytes() == from_bytes.thumbnail
    assert sorted(path.name for path in tmp_path.iterdir()) == ["upload", "upload.thumb.webp"]


def test_a_file_without_metadata_is_left_as_it_is(tmp_path: Path) -> None:
    original, thumbnail = tmp_path / "upload", tmp_path / "upload.thumb.webp"
    original.write_bytes(png(800, 600))
    summary = preview_in_place(FileKind.PNG, original, thumbnail, MAX_PIXELS)
    assert summary.result == {"kind": "image", "width": 800, "height": 600}
    assert original.read_bytes() == png(800, 600)
    assert thumbnail.exists()
