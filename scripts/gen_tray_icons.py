#!/usr/bin/env python3
"""Draws the four tray icons (icons/tray-*.png, 64x64).

Each state has a colour and, for anyone who cannot tell the colours apart, a
badge of its own shape in the lower right corner: a circle with a tick
(healthy), a triangle with "!" (attention), an octagon with a cross
(failing), a square with pause bars (stopped). The badge takes almost half
the icon so its shape still reads at 16 px. Needs Pillow (pip install
pillow); the icons are committed, so only a change of design runs this.
"""
import math
import pathlib

from PIL import Image, ImageDraw

S = 4  # supersampling
N = 64 * S
OUT = pathlib.Path(__file__).resolve().parent.parent / "icons"
COLOURS = {
    "healthy": (35, 138, 82),
    "attention": (208, 138, 18),
    "failing": (209, 59, 59),
    "stopped": (110, 120, 115),
}
INK = (255, 255, 255, 255)
BADGE = (24, 28, 26, 255)


def tree(d, colour):
    d.rounded_rectangle([0, 0, N - 1, N - 1], radius=12 * S, fill=colour + (255,))
    # The evergreen: three tiers and a trunk, to the upper left of the badge.
    cx = 26 * S
    for top, half, bottom in [(6, 10, 20), (13, 14, 30), (21, 18, 41)]:
        d.polygon([(cx, top * S), (cx - half * S, bottom * S), (cx + half * S, bottom * S)], fill=INK)
    d.rectangle([cx - 3 * S, 41 * S, cx + 3 * S, 50 * S], fill=INK)


def polygon(cx, cy, r, sides, rotation):
    return [
        (cx + r * math.cos(rotation + 2 * math.pi * i / sides), cy + r * math.sin(rotation + 2 * math.pi * i / sides))
        for i in range(sides)
    ]


def badge(d, state):
    cx, cy, r = 45 * S, 45 * S, 18 * S
    ring = 3 * S
    w = 5 * S
    if state == "healthy":
        d.ellipse([cx - r - ring, cy - r - ring, cx + r + ring, cy + r + ring], fill=INK)
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=BADGE)
        d.line([(cx - 9 * S, cy + 1 * S), (cx - 2 * S, cy + 8 * S), (cx + 10 * S, cy - 8 * S)], fill=INK, width=w, joint="curve")
    elif state == "attention":
        d.polygon(polygon(cx, cy + 3 * S, r + ring + 4 * S, 3, -math.pi / 2), fill=INK)
        d.polygon(polygon(cx, cy + 3 * S, r + 1 * S, 3, -math.pi / 2), fill=BADGE)
        d.line([(cx, cy - 7 * S), (cx, cy + 5 * S)], fill=INK, width=w)
        d.ellipse([cx - 3 * S, cy + 9 * S, cx + 3 * S, cy + 15 * S], fill=INK)
    elif state == "failing":
        d.polygon(polygon(cx, cy, r + ring, 8, math.pi / 8), fill=INK)
        d.polygon(polygon(cx, cy, r, 8, math.pi / 8), fill=BADGE)
        k = 8 * S
        d.line([(cx - k, cy - k), (cx + k, cy + k)], fill=INK, width=w)
        d.line([(cx - k, cy + k), (cx + k, cy - k)], fill=INK, width=w)
    else:
        d.rounded_rectangle([cx - r - ring, cy - r - ring, cx + r + ring, cy + r + ring], radius=5 * S, fill=INK)
        d.rounded_rectangle([cx - r, cy - r, cx + r, cy + r], radius=4 * S, fill=BADGE)
        for x in (cx - 6 * S, cx + 6 * S):
            d.line([(x, cy - 9 * S), (x, cy + 9 * S)], fill=INK, width=w)


for state, colour in COLOURS.items():
    img = Image.new("RGBA", (N, N), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    tree(d, colour)
    badge(d, state)
    img.resize((64, 64), Image.LANCZOS).save(OUT / f"tray-{state}.png", optimize=True)
    print(f"icons/tray-{state}.png")
