"""Photographs for the uploads benchmark: JPEGs that cost what camera photos cost to decode.

A flat or synthetic-looking image decodes far faster than a photo, so each one here has what
makes a photo expensive: smooth light, soft shapes, mid-scale texture and sensor grain in
every pixel, at quality 90 with 4:2:0 chroma (a few MB at 12 MP). Encoding 12 MP takes most
of a second, so only a handful of distinct scenes are drawn; every file is one of them with
its own EXIF block (camera, time, orientation) spliced in, which costs nothing.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

__all__ = ["write_photos"]

DISTINCT_SCENES = 8
QUALITY = 90
# Upright, and the three ways a phone held otherwise records it.
ORIENTATIONS = (1, 6, 8, 3)

_SKETCH_SIDE = 256  # the scene is drawn small and smoothly enlarged, like out-of-focus light
_EXIF_ORIENTATION, _EXIF_MAKE, _EXIF_MODEL, _EXIF_DATETIME = 0x0112, 0x010F, 0x0110, 0x0132


def write_photos(directory: Path, count: int, size: tuple[int, int]) -> list[Path]:
    """``count`` photographs of ``size`` pixels written to ``directory``; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    scenes = [_scene(seed, size) for seed in range(min(count, DISTINCT_SCENES))]
    paths = []
    for index in range(count):
        path = directory / f"photo-{index:04d}.jpg"
        orientation = ORIENTATIONS[index // len(scenes) % len(ORIENTATIONS)]
        path.write_bytes(_with_exif(scenes[index % len(scenes)], index, orientation))
        paths.append(path)
    return paths


def _scene(seed: int, size: tuple[int, int]) -> bytes:
    """A JPEG (without EXIF) of a blurred landscape: sky, ground, a few shapes, texture, grain."""
    rng = random.Random(seed)
    sky = tuple(rng.randrange(90, 200) for _ in range(3))
    ground = tuple(rng.randrange(30, 140) for _ in range(3))
    square = (_SKETCH_SIDE, _SKETCH_SIDE)
    sketch = Image.composite(
        Image.new("RGB", square, ground), Image.new("RGB", square, sky), Image.linear_gradient("L")
    )
    draw = ImageDraw.Draw(sketch)
    for _ in range(6):
        x, y, radius = rng.uniform(0, 256), rng.uniform(80, 256), rng.uniform(10, 50)
        top = y - radius * rng.uniform(0.5, 1.5)
        shade = tuple(int(channel * rng.uniform(0.5, 1.3)) for channel in ground)
        draw.ellipse((x - radius, top, x + radius, y + radius), shade)
    light = sketch.filter(ImageFilter.GaussianBlur(3)).resize(size, Image.Resampling.BICUBIC)
    width, height = size
    texture = Image.effect_noise((width // 16, height // 16), 24).resize(
        size, Image.Resampling.BICUBIC
    )
    grain = Image.effect_noise(size, 10)
    detail = ImageChops.add(texture, grain, scale=2.0)  # both centred on 128, so is their mean
    photo = ImageChops.add(light, Image.merge("RGB", (detail,) * 3), offset=-128)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=QUALITY)
    return out.getvalue()


def _with_exif(jpeg: bytes, index: int, orientation: int) -> bytes:
    """``jpeg`` with an APP1 EXIF segment right after its start-of-image marker."""
    exif = Image.Exif()
    exif[_EXIF_MAKE] = "BenchCam"
    exif[_EXIF_MODEL] = f"Model {index % 3}"
    exif[_EXIF_DATETIME] = f"2024:06:{index % 28 + 1:02d} 12:{index % 60:02d}:00"
    exif[_EXIF_ORIENTATION] = orientation
    payload = exif.tobytes()  # starts with the b"Exif\0\0" identifier
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + segment + jpeg[2:]
