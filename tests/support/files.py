"""Test files made on the spot: images, PDFs, text, and hostile ones."""

from __future__ import annotations

import io
import zlib

from PIL import Image

__all__ = [
    "jpeg_with_exif",
    "pdf_drawing_one_form_many_times",
    "pdf_with_text",
    "png",
    "png_bomb",
    "truncated_png",
]


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
