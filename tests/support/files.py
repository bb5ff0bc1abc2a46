"""Test files made on the spot: images, PDFs, text, and hostile ones."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, PngImagePlugin

__all__ = [
    "FORGED_LOG_LINE",
    "XMP_WITH_LOCATION",
    "gif_with_metadata",
    "jpeg_with_exif",
    "jpeg_with_location",
    "location_exif",
    "pdf_drawing_one_form_many_times",
    "pdf_forging_a_log_line",
    "pdf_with_text",
    "png",
    "png_bomb",
    "png_with_location",
    "truncated_png",
    "webp_with_location",
]

# An XMP packet as cameras and editors write it: the place the photo was taken, and the camera.
XMP_WITH_LOCATION = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,31.2N" '
    b'exif:GPSLongitude="13,24.6E" exif:Make="SecretCamera"/></rdf:RDF></x:xmpmeta>'
)

# What a hostile file tries to slip into a log: a line of its own, as if Parley wrote it.
FORGED_LOG_LINE = '{"level":"error","logger":"parley.auth","msg":"admin signed in"}'


def png(width: int = 640, height: int = 480, color: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg_with_exif(width: int = 1200, height: int = 800, orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SecretCamera"  # maker: metadata that must not survive
    out = io.BytesIO()
    Image.new("RGB", (width, height), "orange").save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def location_exif(orientation: int = 1) -> bytes:
    """An EXIF block (``Exif\\0\\0`` and its TIFF data) with a camera and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"  # maker
    exif[0x0110] = "SecretModel"
    if orientation != 1:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (52.0, 31.0, 12.0)
    gps[3], gps[4] = "E", (13.0, 24.0, 36.0)
    return exif.tobytes()


def jpeg_with_location(*, padding: int = 0, orientation: int = 1) -> bytes:
    """A JPEG carrying EXIF (GPS, camera), XMP and a comment, after ``padding`` bytes of other
    APPn segments (APP3), which push its metadata as far into the file as one likes."""
    out = io.BytesIO()
    Image.new("RGB", (320, 240), "orange").save(out, "JPEG")
    plain = out.getvalue()
    filler = b""
    while len(filler) < padding:
        filler += _jpeg_segment(0xE3, b"F" * min(60_000, padding - len(filler)))
    metadata = (
        _jpeg_segment(0xE1, location_exif(orientation))
        + _jpeg_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP_WITH_LOCATION)
        + _jpeg_segment(0xFE, b"SecretCamera comment")
    )
    return plain[:2] + filler + metadata + plain[2:]


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def png_with_location(orientation: int = 1) -> bytes:
    """A PNG with an eXIf chunk, XMP in iTXt, EXIF as ImageMagick writes it (zTXt) and a
    tEXt comment: every place a PNG keeps metadata in."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP_WITH_LOCATION.decode())
    info.add_text("Raw profile type exif", location_exif().hex(), zip=True)
    info.add_text("Comment", "SecretCamera")
    out = io.BytesIO()
    Image.new("RGB", (320, 240), "navy").save(
        out, "PNG", exif=location_exif(orientation), pnginfo=info
    )
    return out.getvalue()


def webp_with_location(orientation: int = 1) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), "olive").save(
        out, "WEBP", exif=location_exif(orientation), xmp=XMP_WITH_LOCATION, lossless=True
    )
    return out.getvalue()


def gif_with_metadata() -> bytes:
    """A GIF with a comment and an XMP application extension (Pillow writes neither XMP nor
    both, so the extension is put in by hand, before the image)."""
    out = io.BytesIO()
    Image.new("P", (320, 240), 3).save(out, "GIF", comment=b"SecretCamera")
    gif = out.getvalue()
    blocks = b"".join(
        bytes([len(part)]) + part
        for part in (XMP_WITH_LOCATION[i : i + 255] for i in range(0, len(XMP_WITH_LOCATION), 255))
    )
    xmp = b"\x21\xff\x0bXMP DataXMP" + blocks + b"\x00"
    image = gif.index(b"\x2c", 13 + 3 * 2 ** ((gif[10] & 7) + 1))  # the image descriptor
    return gif[:image] + xmp + gif[image:]


def truncated_png() -> bytes:
    data = png(800, 600, "purple")
    return data[: len(data) // 2]


def png_bomb(side: int = 12_000) -> bytes:
    """Tiny on disk, huge in memory: one colour compresses to almost nothing."""
    out = io.BytesIO()
    Image.new("1", (side, side), 0).save(out, "PNG", optimize=True)
    return out.getvalue()


def pdf_with_text(text: str = "Quarterly report", pages: int = 2) -> bytes:
    """A small valid PDF whose pages say ``text``, written by hand."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(pages)]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i in range(pages):
        stream = b"BT /F1 24 Tf 72 720 Td (%s page %d) Tj ET" % (text.encode(), i + 1)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_ids[i] + 1)
        )
        objects.append(_stream(stream))
    return _pdf_file(objects)


def pdf_drawing_one_form_many_times(draws: int = 400, operations: int = 4000) -> bytes:
    """A PDF of about a kilobyte whose page draws one form ``draws`` times, the form showing
    text ``operations`` times: a text extractor parses the form again for every draw."""
    page = zlib.compress(b"q /Form Do Q\n" * draws)
    form = zlib.compress(b"BT /F1 1 Tf (.) Tj ET\n" * operations)
    return _pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            (
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                b"/Resources << /XObject << /Form 6 0 R >> /Font << /F1 5 0 R >> >> >>"
            ),
            _stream(page, b"/Filter /FlateDecode"),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            _stream(
                form,
                b"/Type /XObject /Subtype /Form /BBox [0 0 10 10] "
                b"/Resources << /Font << /F1 5 0 R >> >> /Filter /FlateDecode",
            ),
        ]
    )


def pdf_forging_a_log_line() -> bytes:
    """A valid PDF whose font names an encoding that pypdf does not know: pypdf logs the
    name, and the name (``#0A`` is a newline in a PDF name) holds a log line of its own."""
    forged = "".join(f"#{ord(ch):02X}" if ch in '"{}:,#/ ' else ch for ch in FORGED_LOG_LINE)
    encoding = f"/Forged#0A{forged}".encode()
    return _pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding %s >>" % encoding,
            (
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>"
            ),
            _stream(b"BT /F1 24 Tf 72 720 Td (Minutes of the meeting) Tj ET"),
        ]
    )


def _stream(data: bytes, entries: bytes = b"") -> bytes:
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (entries, len(data), data)


def _pdf_file(objects: list[bytes]) -> bytes:
    """Objects numbered from 1 in order, with their cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()
