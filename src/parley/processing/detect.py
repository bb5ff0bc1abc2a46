"""Recognising a file by its first bytes, never by its name or the client's content type."""

from __future__ import annotations

from enum import StrEnum

from charset_normalizer import from_bytes

__all__ = ["SNIFF_BYTES", "FileKind", "detect"]

# How much of the start of a file detection looks at.
SNIFF_BYTES = 8192


class FileKind(StrEnum):
    JPEG = "image/jpeg"
    PNG = "image/png"
    GIF = "image/gif"
    WEBP = "image/webp"
    PDF = "application/pdf"
    TEXT = "text/plain"

    @property
    def is_image(self) -> bool:
        return self.value.startswith("image/")


_SIGNATURES: list[tuple[bytes, FileKind]] = [
    (b"\xff\xd8\xff", FileKind.JPEG),
    (b"\x89PNG\r\n\x1a\n", FileKind.PNG),
    (b"GIF87a", FileKind.GIF),
    (b"GIF89a", FileKind.GIF),
    (b"%PDF-", FileKind.PDF),
]


def detect(head: bytes) -> FileKind | None:
    """The kind of a file from its first ``SNIFF_BYTES`` bytes; None when unsupported."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileKind.WEBP
    if head and _looks_like_text(head):
        return FileKind.TEXT
    return None


def _looks_like_text(head: bytes) -> bool:
    # Executables, archives and most binary formats carry NUL bytes early on.
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # not just a character cut at the sniff boundary
            return from_bytes(head).best() is not None
    return True
