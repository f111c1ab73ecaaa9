"""A tiny PNG line-plot writer (zlib + struct, no plotting library).

Why not matplotlib: it is not installed, it would be the benchmark's only
reason for ~40 MB of new dependencies, and the plot needed is a few lines on
axes. Side-by-side panels, each with its own y axis from 0, x and y tick
labels in a 3x5 digit font; the caption in docs/performance.md names the
series (the font has digits only).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

BLUE = (31, 119, 180)
ORANGE = (255, 127, 14)
GREY = (200, 200, 200)
BLACK = (0, 0, 0)
W, H = 900, 420
PAD_L, PAD_R, PAD_T, PAD_B = 48, 16, 16, 36

# 3x5 digits (rows top to bottom, 3 bits each) and '.', 'k'.
_FONT = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1), "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 2, 2),
    "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7), ".": (0, 0, 0, 0, 2), "k": (4, 5, 6, 5, 5),
}
SCALE = 2  # each font pixel is 2x2


class Canvas:
    def __init__(self, w: int, h: int):
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def set(self, x: int, y: int, rgb: tuple[int, int, int]) -> None:
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(rgb)

    def line(self, x0: int, y0: int, x1: int, y1: int, rgb: tuple[int, int, int], width: int = 1) -> None:
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for k in range(steps + 1):
            x = round(x0 + (x1 - x0) * k / steps)
            y = round(y0 + (y1 - y0) * k / steps)
            for dx in range(width):
                for dy in range(width):
                    self.set(x + dx - width // 2, y + dy - width // 2, rgb)

    def text(self, x: int, y: int, s: str, rgb: tuple[int, int, int] = BLACK) -> None:
        for ch in s:
            for row, bits in enumerate(_FONT.get(ch, (0,) * 5)):
                for col in range(3):
                    if bits & (4 >> col):
                        for a in range(SCALE):
                            for b in range(SCALE):
                                self.set(x + col * SCALE + a, y + row * SCALE + b, rgb)
            x += 4 * SCALE

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3]) for y in range(self.h))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
                + chunk(b"IEND", b""))


def _label(v: float) -> str:
    if v >= 1000 and v == int(v):
        return f"{v / 1000:g}k"
    return f"{v:.3g}"


def _panel(c: Canvas, x0: int, width: int, xs: Sequence[float], ys: Sequence[float],
           rgb: tuple[int, int, int]) -> None:
    left, right, top, bottom = x0 + PAD_L, x0 + width - PAD_R, PAD_T, H - PAD_B
    xmax = max(xs) or 1.0
    ymax = (max(ys) or 1.0) * 1.1
    for k in range(5):  # grid and y ticks
        y = bottom - (bottom - top) * k // 4
        c.line(left, y, right, y, GREY)
        c.text(x0 + 4, y - 5, _label(ymax * k / 4))
    c.line(left, top, left, bottom, BLACK)
    c.line(left, bottom, right, bottom, BLACK)

    def at(x: float, y: float) -> tuple[int, int]:
        return round(left + (right - left) * x / xmax), round(bottom - (bottom - top) * y / ymax)

    for x in xs:
        px, _ = at(x, 0)
        c.line(px, bottom, px, bottom + 4, BLACK)
        c.text(px - 8, bottom + 8, _label(x))
    points = [at(x, y) for x, y in zip(xs, ys, strict=True)]
    for (a, b), (d, e) in zip(points, points[1:], strict=False):
        c.line(a, b, d, e, rgb, width=3)
    for a, b in points:
        for dx in range(-3, 4):
            for dy in range(-3, 4):
                c.set(a + dx, b + dy, rgb)


def panels(path: Path, series: Sequence[tuple[Sequence[float], Sequence[float], tuple[int, int, int]]]) -> None:
    """One panel per (xs, ys, colour), side by side, written as a PNG to ``path``."""
    c = Canvas(W, H)
    width = W // max(1, len(series))
    for i, (xs, ys, rgb) in enumerate(series):
        _panel(c, i * width, width, xs, ys, rgb)
    Path(path).write_bytes(c.png())
