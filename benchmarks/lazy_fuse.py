"""Milliseconds per clip of the TSN training augmentations, eager versus ``lazy=True`` +
``Fuse`` (one crop, one resize, one flip per frame), on random uint8 frames.

    python benchmarks/lazy_fuse.py [--frames 8] [--height 480] [--width 640] [--repeats 5]

Prints the median over ``--repeats`` rounds for a pipeline that resizes before cropping
(Resize -1x256, MultiScaleCrop, Resize 224, Flip: where Fuse saves the first full-frame
resize) and for one that crops first (where both do the same work). One thread.
"""
from __future__ import annotations

import argparse
import random
import time

import cv2
import numpy as np
import torch

from actionlab.data.transforms import Compose

CROP = dict(type='MultiScaleCrop', input_size=224, scales=(1, .875, .75, .66), max_wh_scale_gap=1)
PIPELINES = {
    'resize-crop-resize-flip': [dict(type='Resize', scale=(-1, 256)), CROP,
                                dict(type='Resize', scale=(224, 224), keep_ratio=False),
                                dict(type='Flip', flip_ratio=0.5)],
    'crop-resize-flip': [CROP, dict(type='Resize', scale=(224, 224), keep_ratio=False),
                         dict(type='Flip', flip_ratio=0.5)],
}


def milliseconds_per_clip(steps: list[dict], imgs: np.ndarray, lazy: bool, rounds: int,
                          clips: int = 20) -> float:
    pipeline = Compose([dict(step, lazy=lazy) for step in steps] +
                       ([dict(type='Fuse')] if lazy else []))
    times = []
    for _ in range(rounds):
        random.seed(0)
        np.random.seed(0)
        start = time.perf_counter()
        for _ in range(clips):
            pipeline(dict(imgs=imgs, modality='RGB'))
        times.append((time.perf_counter() - start) / clips * 1000)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=8)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    imgs = np.random.default_rng(0).integers(
        0, 256, (args.frames, args.height, args.width, 3), dtype=np.uint8)
    print(f'{args.frames} frames of {args.width}x{args.height}, median of {args.repeats} rounds')
    for name, steps in PIPELINES.items():
        eager = milliseconds_per_clip(steps, imgs, False, args.repeats)
        lazy = milliseconds_per_clip(steps, imgs, True, args.repeats)
        print(f'{name:26s} eager {eager:7.2f} ms/clip   lazy+Fuse {lazy:7.2f} ms/clip   '
              f'x{eager / lazy:.2f}')


if __name__ == '__main__':
    main()
