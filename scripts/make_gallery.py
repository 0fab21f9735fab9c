"""Draw ``docs/figures/augmentations.png``: every ImageDataGenerator augmentation on one picture.

Each labelled panel applies one transform with fixed parameters through
``ImageDataGenerator.apply_transform`` (the default, keras_preprocessing geometry), so the figure
shows exactly what the generator does: rotation, shifts, shear, zoom, flips, channel shift,
brightness, and each fill mode. The sample picture is drawn here (asymmetric shapes and text, so
that flips and rotations are easy to read); only Pillow is needed.

Usage::

    python scripts/make_gallery.py [--out docs/figures/augmentations.png]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fastkeras.preprocessing.image import ImageDataGenerator

SIZE = 160
COLUMNS = 4
LABEL_HEIGHT = 26


def sample_image(size: int = SIZE) -> np.ndarray:
    """A recognisable synthetic picture, float32 (size, size, 3) in 0-255."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    sky = np.stack([90 + 80 * yy, 150 + 60 * yy, 235 - 40 * yy], axis=-1)
    img = Image.fromarray(sky.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    s = size / 160
    draw.rectangle([0, 118 * s, size, size], fill=(70, 150, 60))  # ground
    draw.polygon([(18 * s, 118 * s), (58 * s, 52 * s), (84 * s, 118 * s)], fill=(120, 95, 80))  # mountain
    draw.ellipse([112 * s, 14 * s, 146 * s, 48 * s], fill=(255, 215, 40))  # sun, top right
    draw.rectangle([96 * s, 84 * s, 132 * s, 118 * s], fill=(200, 40, 40))  # house
    draw.polygon([(90 * s, 86 * s), (114 * s, 64 * s), (138 * s, 86 * s)], fill=(110, 30, 30))  # roof
    draw.rectangle([108 * s, 98 * s, 120 * s, 118 * s], fill=(60, 40, 30))  # door
    font = ImageFont.load_default(size=int(22 * s))
    draw.text((8 * s, 6 * s), "fastkeras", fill=(255, 255, 255), font=font)
    draw.text((10 * s, 128 * s), "F ->", fill=(250, 250, 250), font=font)
    return np.asarray(img, dtype=np.float32)


def panels(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(label, image) for each augmentation."""
    gen = ImageDataGenerator()
    h, w = x.shape[:2]
    out = [("original", x)]
    steps = [
        ("rotation 30\u00b0", {"theta": 30}),
        ("width shift 0.2", {"ty": 0.2 * w}),
        ("height shift 0.2", {"tx": 0.2 * h}),
        ("shear 25\u00b0", {"shear": 25}),
        ("zoom 0.7 (in)", {"zx": 0.7, "zy": 0.7}),
        ("zoom 1.3 (out)", {"zx": 1.3, "zy": 1.3}),
        ("horizontal flip", {"flip_horizontal": 1}),
        ("vertical flip", {"flip_vertical": 1}),
        ("channel shift +70", {"channel_shift_intensity": 70.0}),
        ("brightness 0.5", {"brightness": 0.5}),
        ("brightness 1.5", {"brightness": 1.5}),
    ]
    out += [(label, gen.apply_transform(x, params)) for label, params in steps]
    fill = {"theta": 35, "zx": 1.35, "zy": 1.35, "ty": -0.15 * w}
    for mode in ("constant", "nearest", "reflect", "wrap"):
        fgen = ImageDataGenerator(fill_mode=mode, cval=255.0)
        out.append((f"fill_mode='{mode}'", fgen.apply_transform(x, fill)))
    return out


def compose(items: list[tuple[str, np.ndarray]]) -> Image.Image:
    rows = -(-len(items) // COLUMNS)
    pad = 8
    cell_w, cell_h = SIZE + pad, SIZE + LABEL_HEIGHT + pad
    sheet = Image.new("RGB", (COLUMNS * cell_w + pad, rows * cell_h + pad), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for k, (label, img) in enumerate(items):
        left = pad + (k % COLUMNS) * cell_w
        top = pad + (k // COLUMNS) * cell_h
        tile = Image.fromarray(np.clip(np.asarray(img), 0, 255).astype(np.uint8), "RGB")
        sheet.paste(tile, (left, top))
        text_w = draw.textlength(label, font=font)
        draw.text((left + (SIZE - text_w) / 2, top + SIZE + 5), label, fill=(20, 20, 20), font=font)
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "docs", "figures", "augmentations.png"))
    args = parser.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    compose(panels(sample_image())).save(args.out, optimize=True)
    print(f"wrote {os.path.normpath(args.out)}")


if __name__ == "__main__":
    main()
