"""Writing frames to a video file with PyAV."""
from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CONTAINERS = ('.mp4', '.mkv', '.mov', '.avi')


def default_codec() -> str:
    """H.264 (libx264) when this FFmpeg build has it, MPEG-4 part 2 otherwise."""
    return 'libx264' if 'libx264' in av.codecs_available else 'mpeg4'


def write_video(path: str | os.PathLike, frames: np.ndarray | Sequence[np.ndarray],
                fps: float = 30, codec: str | None = None) -> Path:
    """Encode ``frames`` ((T, H, W, 3) uint8 RGB array or list of frames) into ``path``.

    The container follows the extension (.mp4, .mkv, .mov, .avi); the codec is ``codec``
    or :func:`default_codec`, with yuv420p pixels, so odd frame sizes are padded to even
    ones by repeating the last row/column. Encoding is single-threaded, so the same frames
    give the same file. Parent folders are created. Returns the path.
    """
    path = Path(path)
    if path.suffix.lower() not in CONTAINERS:
        raise ValueError(f'write_video: cannot write {path}: the extension must be one of '
                         f'{", ".join(CONTAINERS)}')
    frames = frames if isinstance(frames, np.ndarray) else np.stack(list(frames))
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f'write_video: frames must be (T, H, W, 3) RGB with T > 0, '
                         f'got shape {frames.shape}')
    if frames.dtype != np.uint8:
        raise ValueError(f'write_video: frames must be uint8, got {frames.dtype}')
    h, w = frames.shape[1:3]
    pad = ((0, 0), (0, h % 2), (0, w % 2), (0, 0))
    if h % 2 or w % 2:
        frames = np.pad(frames, pad, mode='edge')
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode='w') as container:
        stream = container.add_stream(codec or default_codec(),
                                      rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = 'yuv420p'
        # for the same frames to give the same file: x264's threads and its macroblock-tree
        # rate control both made the output vary between runs in one process
        stream.codec_context.thread_count = 1
        if stream.codec_context.name == 'libx264':
            stream.options = {'x264-params': 'no-mbtree=1'}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')))
        container.mux(stream.encode())
    return path
