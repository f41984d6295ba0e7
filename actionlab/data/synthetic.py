"""A small synthetic action dataset of real mp4 clips, for the quick start and the tests.

Each clip shows one shape (circle, square, triangle, bar, cross or "pacman"; random
colour and size) over a static textured background (noise, stripes or a gradient). The
six classes differ only in the direction of one motion::

    move_left / move_right                    the shape slides horizontally
    rotate_clockwise / rotate_counterclockwise the shape turns in place (as seen on screen)
    grow / shrink                              the shape scales up / down

Within each pair the single frames have the same distribution (a clip of one class,
played backwards, is a clip of the other), so a model blind to frame order cannot tell
the two classes of a pair apart, while the motion between frames a few steps apart is
obvious. Layout written by :func:`make_synthetic_dataset`::

    OUT_DIR/classes.txt          class names, one per line (line i = label i)
    OUT_DIR/train.txt, val.txt   VideoDataset lists: "train/000012.mp4 3", relative to videos/
    OUT_DIR/videos/{train,val}/*.mp4
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from actionlab.visualization.writer import write_video

logger = logging.getLogger(__name__)

CLASSES = ('move_left', 'move_right', 'rotate_clockwise', 'rotate_counterclockwise',
           'grow', 'shrink')
SHAPES = ('circle', 'square', 'triangle', 'bar', 'cross', 'pacman')
# a turning circle looks still; the others show their orientation (at most 4-fold symmetric,
# so a turn of under 45 degrees between sampled frames has an unambiguous direction)
ROTATING_SHAPES = tuple(s for s in SHAPES if s != 'circle')

_SUBPIXEL_BITS = 4  # cv2 drawing with 1/16 px precision: smooth motion, no jumps


def _unit_polygon(shape: str) -> np.ndarray:
    """Vertices (K, 2) of ``shape`` with radius about 1, centred on the origin."""
    def ring(n, start=0.0, stop=2 * np.pi):
        t = np.linspace(start, stop, n, endpoint=False)
        return np.stack([np.cos(t), np.sin(t)], axis=1)

    if shape == 'circle':
        return ring(48)
    if shape == 'square':
        return ring(4, np.pi / 4, 2 * np.pi + np.pi / 4) * np.sqrt(2) * 0.8
    if shape == 'triangle':
        return ring(3, -np.pi / 2, 1.5 * np.pi)
    if shape == 'bar':
        return np.array([[-1, -0.4], [1, -0.4], [1, 0.4], [-1, 0.4]])
    if shape == 'cross':
        a, b = 1.0, 0.33
        return np.array([[-b, -a], [b, -a], [b, -b], [a, -b], [a, b], [b, b], [b, a], [-b, a],
                         [-b, b], [-a, b], [-a, -b], [-b, -b]])
    if shape == 'pacman':  # a disc with a 70 degree wedge cut out
        arc = np.linspace(np.radians(35), np.radians(325), 40)
        return np.concatenate([[[0.0, 0.0]], np.stack([np.cos(arc), np.sin(arc)], axis=1)])
    raise ValueError(f'unknown shape {shape!r}; choose one of {", ".join(SHAPES)}')


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A static (size, size, 3) uint8 texture: noise, stripes or a gradient."""
    kind = rng.choice(('noise', 'stripes', 'gradient'))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c1, c2 = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    if kind == 'noise':
        cells = rng.uniform(0, 1, size=(size // 8, size // 8, 1)).astype(np.float32)
        t = cv2.resize(cells, (size, size), interpolation=cv2.INTER_CUBIC)[..., None]
        t = np.clip(t + rng.normal(0, 0.08, size=(size, size, 1)), 0, 1)
    elif kind == 'stripes':
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(6, 20)
        phase = (xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period
        t = (0.5 + 0.5 * np.sin(phase))[..., None]
    else:
        angle = rng.uniform(0, 2 * np.pi)
        proj = xx * np.cos(angle) + yy * np.sin(angle)
        t = ((proj - proj.min()) / (np.ptp(proj) + 1e-6))[..., None]
    # keep the background in a middle band of contrast so the shape stands out
    img = c1 * (1 - t) + c2 * t
    return np.clip(img * 0.6 + 50, 0, 255).astype(np.uint8)


def _trajectory(rng: np.random.Generator, label: int, size: int, num_frames: int):
    """Per-frame centre (T, 2), radius (T,) and angle (T,) for class ``label``.

    Each pair draws one motion path from a distribution that is symmetric under reversal
    and plays it forwards for one class and backwards for the other.
    """
    t = np.linspace(0.0, 1.0, num_frames)
    name = CLASSES[label]
    angle0 = rng.uniform(0, 2 * np.pi)
    if name.startswith('move'):
        radius = np.full(num_frames, rng.uniform(0.18, 0.23) * size)
        travel = rng.uniform(0.33, 0.42) * size  # 4-6 px between frames 4 apart at 96 px
        margin = radius[0] + 2
        x_start = rng.uniform(margin, size - margin - travel)
        y = rng.uniform(margin, size - margin)
        x = x_start + travel * t
        if name == 'move_left':
            x = x[::-1]
        centre = np.stack([x, np.full(num_frames, y)], axis=1)
        angle = np.full(num_frames, angle0)
    elif name.startswith('rotate'):
        radius = np.full(num_frames, rng.uniform(0.2, 0.28) * size)
        centre = np.tile(rng.uniform(radius[0] + 2, size - radius[0] - 2, size=2), (num_frames, 1))
        turn = np.radians(rng.uniform(120, 160))  # 15-21 degrees between frames 4 apart
        angle = angle0 + turn * t
        if name == 'rotate_counterclockwise':
            angle = angle[::-1]
    else:
        small = rng.uniform(0.16, 0.19) * size
        radius = small * (1 + t)  # the shape doubles in size
        if name == 'shrink':
            radius = radius[::-1]
        margin = radius.max() + 2
        centre = np.tile(rng.uniform(margin, size - margin, size=2), (num_frames, 1))
        angle = np.full(num_frames, angle0)
    return centre, radius, angle


def render_clip(label: int, rng: np.random.Generator, size: int = 96,
                num_frames: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Draw one clip of class ``label``: frames (T, size, size, 3) uint8 RGB and the
    shape's masks (T, size, size) bool."""
    name = CLASSES[label]
    shape = rng.choice(ROTATING_SHAPES if name.startswith('rotate') else SHAPES)
    polygon = _unit_polygon(str(shape))
    background = _background(rng, size)
    colour = rng.uniform(0, 255, size=3)
    # push the shape colour away from the background's mean so it always stands out
    bg_mean = background.reshape(-1, 3).mean(axis=0)
    if np.abs(colour - bg_mean).max() < 90:
        colour = np.where(bg_mean > 127, colour * 0.3, 255 - (255 - colour) * 0.3)
    outline = (0, 0, 0) if colour.mean() > 127 else (255, 255, 255)
    centre, radius, angle = _trajectory(rng, label, size, num_frames)
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    masks = np.zeros((num_frames, size, size), np.uint8)
    scale = 1 << _SUBPIXEL_BITS
    for i in range(num_frames):
        rot = np.array([[np.cos(angle[i]), -np.sin(angle[i])],
                        [np.sin(angle[i]), np.cos(angle[i])]])
        pts = polygon @ rot.T * radius[i] + centre[i]
        pts = np.round(pts * scale).astype(np.int32)[None]
        frame = background.copy()
        cv2.fillPoly(frame, pts, colour.tolist(), cv2.LINE_AA, _SUBPIXEL_BITS)
        cv2.polylines(frame, pts, True, outline, 1, cv2.LINE_AA, _SUBPIXEL_BITS)
        cv2.fillPoly(masks[i], pts, 1, cv2.LINE_8, _SUBPIXEL_BITS)
        frames[i] = frame
    return frames, masks.astype(bool)


def make_synthetic_dataset(out_dir: str | os.PathLike, num_train_per_class: int = 60,
                           num_val_per_class: int = 15, seed: int = 0, size: int = 96,
                           num_frames: int = 32, fps: int = 16, progress: bool = True) -> dict:
    """Write the synthetic dataset (see the module docstring) to ``out_dir``.

    The same ``seed`` gives the same clips. Clips of the classes are interleaved
    (clip k has label k % 6). Returns the paths and counts written.
    """
    if size < 32 or num_frames < 2:
        raise ValueError(f'make_synthetic_dataset: needs size >= 32 and num_frames >= 2, '
                         f'got size={size}, num_frames={num_frames}')
    out = Path(out_dir)
    videos = out / 'videos'
    splits = {'train': num_train_per_class, 'val': num_val_per_class}
    jobs = [(split, k) for split, per_class in splits.items()
            for k in range(per_class * len(CLASSES))]
    lines: dict[str, list[str]] = {split: [] for split in splits}
    for split, k in tqdm(jobs, desc='synthetic clips', unit='clip', disable=not progress):
        label = k % len(CLASSES)
        # one generator per clip: reproducible whatever is generated before or after it
        rng = np.random.default_rng([seed, 0 if split == 'train' else 1, k])
        frames, _ = render_clip(label, rng, size, num_frames)
        rel = f'{split}/{k:06d}.mp4'
        write_video(videos / rel, frames, fps=fps)
        lines[split].append(f'{rel} {label}')
    out.mkdir(parents=True, exist_ok=True)
    (out / 'classes.txt').write_text('\n'.join(CLASSES) + '\n')
    for split, split_lines in lines.items():
        (out / f'{split}.txt').write_text('\n'.join(split_lines) + '\n')
    logger.info('wrote %d clips to %s', len(jobs), out)
    return dict(root=str(out), videos=str(videos), classes=list(CLASSES),
                label_map=str(out / 'classes.txt'), train_list=str(out / 'train.txt'),
                val_list=str(out / 'val.txt'), num_train=len(lines['train']),
                num_val=len(lines['val']))
