"""The floor for uploads: a plain Pillow loop making the thumbnails Parley's worker makes.

The same thumbnail: WebP at quality 80, at most 512 px a side, turned upright by the EXIF
orientation, with the JPEG decoded at a reduced scale (``thumbnail`` asks for draft mode at
twice the target size, as Parley does). Only the order differs: it turns the small thumbnail
rather than the decoded image, which is what plain Pillow would do. A pool of ``--processes``
processes (Python's default start method) each read a photo from disk and write its
thumbnail; nothing else. It prints the wall-clock time at which each thumbnail is finished,
one a line, then waits for SIGTERM with its pool still up, so that the benchmark can read the
CPU time of every process (which is lost from view once a process exits)::

    python -m bench.peers.pillow_thumbnails PHOTOS THUMBNAILS --processes 4
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import sys
import time
from functools import partial
from pathlib import Path

from PIL import Image, ImageOps

__all__ = ["make_thumbnail"]

THUMBNAIL_SIDE = 512


def make_thumbnail(photo: Path, thumbnails: Path) -> None:
    with Image.open(photo) as image:
        image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        ImageOps.exif_transpose(image, in_place=True)
        image.save(thumbnails / f"{photo.stem}.webp", "WEBP", quality=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("thumbnails", type=Path)
    parser.add_argument("--processes", type=int, required=True)
    arguments = parser.parse_args()
    photos = sorted(arguments.photos.iterdir())
    arguments.thumbnails.mkdir(parents=True, exist_ok=True)
    with multiprocessing.Pool(arguments.processes) as pool:
        # Leaving the block ends the pool's processes too. Set after they were forked, so
        # that they keep the default handler.
        signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
        make = partial(make_thumbnail, thumbnails=arguments.thumbnails)
        for _ in pool.imap_unordered(make, photos):
            print(f"{time.time():.6f}", flush=True)
        signal.pause()


if __name__ == "__main__":
    main()
