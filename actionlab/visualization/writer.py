"""Writing RGB frames to video files (PyAV) and animated GIFs (Pillow).

:class:`VideoWriter` takes frames one at a time (a live stream, a long video);
:func:`write_video` encodes a whole clip at once.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CONTAINERS = ('.mp4', '.mkv', '.mov', '.avi')
GIF = '.gif'


def default_codec() -> str:
    """H.264 (libx264) when this FFmpeg build has it, MPEG-4 part 2 otherwise."""
    return 'libx264' if 'libx264' in av.codecs_available else 'mpeg4'


def _check_frame(frame: np.ndarray, path: Path) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise ValueError(f'{path}: frames must be (H, W, 3) RGB, got shape {frame.shape}')
    if frame.dtype != np.uint8:
        raise ValueError(f'{path}: frames must be uint8, got {frame.dtype}')
    return frame


class VideoWriter:
    """Write (H, W, 3) uint8 RGB frames one by one to ``path``.

    The extension decides the format: .mp4, .mkv, .mov, .avi are encoded with PyAV
    (``codec`` or :func:`default_codec`, yuv420p pixels, so odd frame sizes are padded
    to even ones by repeating the last row/column; single-threaded, so the same frames
    give the same file); .gif is written by Pillow (the ``plot`` extra) when the writer
    is closed. Every frame must have the size of the first. Parent folders are created.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike, fps: float = 30, codec: str | None = None):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in CONTAINERS + (GIF,):
            raise ValueError(f'cannot write {self.path}: the extension must be one of '
                             f'{", ".join(CONTAINERS + (GIF,))}')
        if fps <= 0:
            raise ValueError(f'{self.path}: fps must be positive, got {fps}')
        self.is_gif = suffix == GIF
        if self.is_gif:
            _pillow()  # fail before any work is done, not at the end
        self.fps = fps
        self.codec = codec
        self.num_frames = 0
        self._size: tuple[int, int] | None = None
        self._gif_frames: list = []
        self._container = None
        self._stream = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, frame: np.ndarray) -> None:
        """Append one frame."""
        frame = _check_frame(frame, self.path)
        if self._size is None:
            self._size = frame.shape[:2]
            self._open()
        elif frame.shape[:2] != self._size:
            raise ValueError(f'{self.path}: frame {self.num_frames} is {frame.shape[1]}x{frame.shape[0]}, '
                             f'but the video is {self._size[1]}x{self._size[0]}')
        if self.is_gif:
            self._gif_frames.append(_pillow().fromarray(frame))
        else:
            h, w = self._size
            if h % 2 or w % 2:
                frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode='edge')
            packets = self._stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24'))
            self._container.mux(packets)
        self.num_frames += 1

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.is_gif:
            return
        h, w = self._size
        self._container = av.open(str(self.path), mode='w')
        stream = self._container.add_stream(self.codec or default_codec(),
                                            rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height = w + w % 2, h + h % 2
        stream.pix_fmt = 'yuv420p'
        # for the same frames to give the same file: x264's threads and its macroblock-tree
        # rate control both made the output vary between runs in one process
        stream.codec_context.thread_count = 1
        if stream.codec_context.name == 'libx264':
            stream.options = {'x264-params': 'no-mbtree=1'}
        self._stream = stream

    def close(self) -> None:
        """Finish the file (a writer that got no frame writes none); closing twice does
        nothing."""
        if self._container is not None:
            self._container.mux(self._stream.encode())
            self._container.close()
            self._container = None
        elif self.is_gif and self._gif_frames:
            first, *rest = self._gif_frames
            # GIF delays are in hundredths of a second; Pillow takes milliseconds
            first.save(self.path, save_all=True, append_images=rest, loop=0,
                       duration=max(20, int(round(1000 / self.fps, -1))))
            self._gif_frames = []


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError('writing GIFs needs Pillow: pip install "actionlab[plot]" '
                          '(or write an .mp4 instead)') from None
    return Image


def write_video(path: str | os.PathLike, frames: np.ndarray | Sequence[np.ndarray],
                fps: float = 30, codec: str | None = None) -> Path:
    """Encode ``frames`` ((T, H, W, 3) uint8 RGB array or list of frames) into the video
    file ``path`` (.mp4, .mkv, .mov, .avi, or .gif with Pillow), as :class:`VideoWriter`
    does. Returns the path.
    """
    path = Path(path)
    frames = frames if isinstance(frames, np.ndarray) else np.stack(list(frames))
    if frames.ndim != 4 or len(frames) == 0:
        raise ValueError(f'write_video: frames must be (T, H, W, 3) RGB with T > 0, '
                         f'got shape {frames.shape}')
    with VideoWriter(path, fps=fps, codec=codec) as writer:
        for frame in frames:
            writer.write(frame)
    return path
