"""Drawing predictions on frames: label text and colour names."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

#: the CSS basic colour names (plus grey, orange, cyan and magenta), as RGB
COLORS = {
    'white': (255, 255, 255), 'silver': (192, 192, 192), 'gray': (128, 128, 128),
    'grey': (128, 128, 128), 'black': (0, 0, 0), 'red': (255, 0, 0), 'maroon': (128, 0, 0),
    'yellow': (255, 255, 0), 'olive': (128, 128, 0), 'lime': (0, 255, 0), 'green': (0, 128, 0),
    'aqua': (0, 255, 255), 'cyan': (0, 255, 255), 'teal': (0, 128, 128), 'blue': (0, 0, 255),
    'navy': (0, 0, 128), 'fuchsia': (255, 0, 255), 'magenta': (255, 0, 255),
    'purple': (128, 0, 128), 'orange': (255, 165, 0),
}


def parse_color(color: str | Sequence[int]) -> tuple[int, int, int]:
    """An RGB triple from a colour name (:data:`COLORS`), ``'#rrggbb'``, ``'r,g,b'`` or a
    sequence of three 0-255 integers."""
    if isinstance(color, str):
        text = color.strip().lower()
        if text in COLORS:
            return COLORS[text]
        if text.startswith('#') and len(text) == 7:
            try:
                return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))
            except ValueError:
                pass
        elif text.count(',') == 2:
            try:
                return parse_color([int(v) for v in text.split(',')])
            except ValueError:
                pass
        raise ValueError(f'unknown colour {color!r}: use a name ({", ".join(sorted(COLORS))}), '
                         f'#rrggbb or r,g,b')
    values = tuple(int(v) for v in color)
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise ValueError(f'a colour needs three values in 0..255 (R, G, B), got {tuple(color)}')
    return values


def draw_text_lines(frame: np.ndarray, lines: Sequence[str], color: str | Sequence[int] = 'white',
                    font_scale: float = 0.5, origin: tuple[int, int] = (10, 10), thickness: int = 1,
                    font: int = cv2.FONT_HERSHEY_DUPLEX) -> np.ndarray:
    """Write ``lines`` one below the other on an (H, W, 3) RGB uint8 ``frame``, the first
    one's top-left corner at ``origin`` (x, y). Draws on a copy, which it returns:
    ``frame`` itself is never changed (the demos keep frames to score them later)."""
    frame = np.array(frame, order='C', copy=True)
    rgb = parse_color(color)
    x, y = origin
    for line in lines:
        (_, height), baseline = cv2.getTextSize(line, font, font_scale, thickness)
        y += height
        cv2.putText(frame, line, (x, y), font, font_scale, rgb, thickness, cv2.LINE_AA)
        y += baseline + max(2, height // 2)
    return frame
