"""Removing a GIF's metadata by dropping blocks: the pixels are the same bytes.

A GIF keeps metadata in comment extensions and in application extensions (XMP, makers'
own). Kept are the images, the graphic control and plain text extensions, and the
application extensions that say how to play or colour it (looping, a colour profile).
Bytes that are no block are skipped, as decoders skip them; whatever follows the trailer
is not the picture.
"""

from __future__ import annotations

__all__ = ["strip_metadata"]

_SIGNATURES = (b"GIF87a", b"GIF89a")
_SCREEN_END = 13  # the signature, then the logical screen descriptor
_EXTENSION, _IMAGE, _TRAILER = 0x21, 0x2C, 0x3B
_GRAPHIC_CONTROL, _PLAIN_TEXT, _APPLICATION = 0xF9, 0x01, 0xFF
_DRAWING_APPLICATIONS = frozenset({b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012"})
_IMAGE_DESCRIPTOR = 10


def strip_metadata(gif: bytes) -> bytes | None:
    """``gif`` with only the blocks that draw it. None when nothing would change."""
    if len(gif) < _SCREEN_END or gif[:6] not in _SIGNATURES:
        return None
    position = _SCREEN_END + _colour_table(gif[10])
    kept = [gif[:position]]
    while position < len(gif):
        introducer = gif[position]
        if introducer == _TRAILER:
            kept.append(gif[position : position + 1])
            break
        if introducer == _EXTENSION:
            end = _after_sub_blocks(gif, position + 2)
            if _draws(gif[position:end]):
                kept.append(gif[position:end])
        elif introducer == _IMAGE:
            table = _colour_table(gif[position + 9]) if position + 9 < len(gif) else 0
            # The descriptor, its colour table, the LZW code size, then the data's sub-blocks.
            end = _after_sub_blocks(gif, position + _IMAGE_DESCRIPTOR + table + 1)
            kept.append(gif[position:end])
        else:
            end = position + 1
        position = end
    stripped = b"".join(kept)
    return None if stripped == gif else stripped


def _colour_table(flags: int) -> int:
    """The size of the colour table a descriptor's flags announce."""
    return 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0


def _after_sub_blocks(gif: bytes, position: int) -> int:
    """Where a chain of sub-blocks starting at ``position`` ends (past its empty one)."""
    while position < len(gif):
        size = gif[position]
        position += 1 + size
        if size == 0:
            break
    return min(position, len(gif))


def _draws(extension: bytes) -> bool:
    label = extension[1:2]
    if label in {bytes([_GRAPHIC_CONTROL]), bytes([_PLAIN_TEXT])}:
        return True
    return label == bytes([_APPLICATION]) and extension[3:14] in _DRAWING_APPLICATIONS
