"""Draw the sample images bundled with fastkeras (``fastkeras/data/samples/<class>/*.png``).

Three classes of four small pictures, drawn with Pillow from nothing but this code, so every run
writes the same pixels. Each picture is asymmetric (left/right and up/down differ), so a flip or
a rotation is visible at a glance; the classes have different sizes (one square, two not) so the
augmentation of non-square images shows too:

- ``arrows`` (88 x 112): an arrow on a striped background, a dot above its shaft and a corner mark;
- ``houses`` (112 x 96): a house with its door to the left, a sun at the top right, ground below;
- ``letters`` (96 x 96): the block letters F, L, P and R on a shaded background.

    python scripts/make_samples.py [--out DIR]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from PIL import Image, ImageDraw

DEFAULT_OUT = os.path.join(os.path.dirname(__file__), os.pardir, "fastkeras", "data", "samples")

# (background top, background bottom, foreground) colour triples, one per picture of a class.
PALETTES = [
    ((32, 64, 160), (120, 170, 230), (250, 200, 40)),
    ((150, 30, 40), (240, 150, 110), (255, 255, 255)),
    ((20, 110, 60), (170, 220, 140), (60, 20, 90)),
    ((70, 70, 70), (210, 210, 200), (220, 40, 40)),
]


def gradient(height: int, width: int, top: tuple, bottom: tuple, diagonal: bool) -> Image.Image:
    """An RGB image shading from ``top`` to ``bottom`` (down the rows, or across a diagonal)."""
    rows = np.linspace(0.0, 1.0, height)[:, None]
    cols = np.linspace(0.0, 1.0, width)[None, :]
    t = (0.6 * rows + 0.4 * cols) if diagonal else np.broadcast_to(rows, (height, width))
    top_a = np.array(top, np.float64)
    bottom_a = np.array(bottom, np.float64)
    pixels = top_a + (bottom_a - top_a) * t[:, :, None]
    return Image.fromarray(np.round(pixels).astype(np.uint8), "RGB")


def arrow(index: int) -> Image.Image:
    """An arrow pointing right (or up-right), a dot above its shaft, a mark in the top-left."""
    top, bottom, fg = PALETTES[index]
    height, width = 88, 112
    img = gradient(height, width, top, bottom, diagonal=False)
    draw = ImageDraw.Draw(img)
    for x in range(-height, width, 14):  # diagonal stripes
        draw.line([(x, height), (x + height, 0)], fill=tuple(int(c * 0.85) for c in top), width=3)
    cy = 50 + 4 * index
    shaft = [(14, cy - 7), (70, cy - 7), (70, cy - 20), (100, cy), (70, cy + 20), (70, cy + 7),
             (14, cy + 7)]
    if index % 2:
        # Lean the odd arrows by 20 degrees about their tail.
        angle = np.deg2rad(-20)
        c, s = np.cos(angle), np.sin(angle)
        shaft = [(14 + (x - 14) * c - (y - cy) * s, cy + (x - 14) * s + (y - cy) * c)
                 for x, y in shaft]
    draw.polygon(shaft, fill=fg, outline=(0, 0, 0))
    draw.ellipse([30, cy - 26, 42, cy - 14], fill=(0, 0, 0))
    draw.rectangle([4, 4, 22, 9], fill=(255, 255, 255))
    draw.rectangle([4, 4, 9, 22], fill=(255, 255, 255))
    return img


def house(index: int) -> Image.Image:
    """A house with its door on the left and a window on the right, a sun, and the ground."""
    top, bottom, fg = PALETTES[index]
    height, width = 112, 96
    img = gradient(height, width, top, bottom, diagonal=True)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 92, width, height], fill=(60, 120, 40))
    draw.ellipse([66 - 3 * index, 6, 88 - 3 * index, 28], fill=(255, 220, 60))
    left, right = 14 + 2 * index, 70 + 2 * index
    draw.rectangle([left, 56, right, 92], fill=fg, outline=(0, 0, 0))
    draw.polygon([(left - 6, 56), ((left + right) // 2, 30 + 2 * index), (right + 6, 56)],
                 fill=(150, 40, 30), outline=(0, 0, 0))
    draw.rectangle([left + 6, 70, left + 18, 92], fill=(90, 50, 20))
    draw.rectangle([right - 22, 64, right - 8, 78], fill=(170, 220, 255), outline=(0, 0, 0))
    draw.rectangle([right - 16, 34, right - 10, 50], fill=(110, 110, 110))  # chimney
    return img


def letter(index: int) -> Image.Image:
    """One of the block letters F, L, P, R (none has a mirror symmetry)."""
    top, bottom, fg = PALETTES[index]
    size = 96
    img = gradient(size, size, top, bottom, diagonal=True)
    mask = Image.new("L", (size, size), 0)  # the letter's shape, holes included
    draw = ImageDraw.Draw(mask)
    x0, y0, x1, y1, t = 26, 14, 70, 82, 12  # letter box and stroke width
    mid = (y0 + y1) // 2
    draw.rectangle([x0, y0, x0 + t, y1], fill=255)  # every letter has the left stem
    name = "FLPR"[index]
    if name == "F":
        draw.rectangle([x0, y0, x1, y0 + t], fill=255)
        draw.rectangle([x0, mid - t // 2, x1 - 12, mid + t // 2], fill=255)
    elif name == "L":
        draw.rectangle([x0, y1 - t, x1, y1], fill=255)
    else:
        bowl = [x1 - 40, y0, x1, mid + t // 2]
        draw.rectangle([x0, y0, bowl[0] + 20, bowl[3]], fill=255)
        draw.pieslice(bowl, -90, 90, fill=255)
        hole = [bowl[0] + t, bowl[1] + t, bowl[2] - t, bowl[3] - t]
        draw.rectangle([x0 + t, hole[1], bowl[0] + 20, hole[3]], fill=0)
        draw.pieslice(hole, -90, 90, fill=0)
        if name == "R":
            draw.polygon([(x0 + 20, mid), (x0 + 33, mid), (x1, y1), (x1 - 13, y1)], fill=255)
    img.paste(Image.new("RGB", (size, size), fg), (0, 0), mask)
    ImageDraw.Draw(img).rectangle([4, size - 10, 14, size - 4], fill=(0, 0, 0))  # corner mark
    return img


CLASSES = {"arrows": arrow, "houses": house, "letters": letter}


def make_samples(out: str) -> list[str]:
    """Write every sample picture under ``out/<class>/``; return the paths written."""
    written = []
    for name, draw in CLASSES.items():
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        for index in range(len(PALETTES)):
            path = os.path.join(folder, f"{name[:-1]}_{index}.png")
            draw(index).save(path, format="PNG", optimize=False)
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder to write the classes into")
    args = parser.parse_args()
    for path in make_samples(os.path.normpath(args.out)):
        print(path)


if __name__ == "__main__":
    main()
