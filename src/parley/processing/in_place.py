"""Previews of files on this machine's disk, made where the files lie.

Run in a processing process, this reads the upload and writes its thumbnail and its copy
without metadata itself, so that only a few figures travel back to the worker instead of
megabytes both ways. Each file is replaced whole or not at all (``replace_file``): a process
killed mid-job leaves the previous file, and the retry starts again from it (stripping an
already stripped JPEG gives it back unchanged).
"""

from __future__ import annotations

from pathlib import Path

from parley.processing.detect import FileKind
from parley.processing.previews import PreviewSummary, make_preview
from parley.storage import replace_file

__all__ = ["preview_in_place"]


def preview_in_place(
    kind: FileKind, original: Path, thumbnail: Path, max_pixels: int
) -> PreviewSummary:
    """Preview ``original``; write its thumbnail to ``thumbnail`` and strip its metadata."""
    preview = make_preview(kind, original.read_bytes(), max_pixels)
    if preview.thumbnail is not None:
        replace_file(thumbnail, preview.thumbnail)
    if preview.cleaned is not None:
        replace_file(original, preview.cleaned)
    return preview.summary
