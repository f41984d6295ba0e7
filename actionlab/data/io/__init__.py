"""Video and frame readers behind one interface.

``open_video(path, backend)`` returns a :class:`VideoReader` with ``num_frames``
(also ``len()``), ``fps``, ``get_frames(indices)`` -> uint8 (N, H, W, 3) RGB in the
requested order (exactly the frames a sequential decode gives), ``get_key_frames(indices)``
(the keyframe at or before each index; pyav and decord) and ``close()`` (or use it as a
context manager). Backends: ``pyav`` (default, always installed; also
``get_motion_vectors``), ``decord`` (when installed) and ``opencv``.
A missing file raises FileNotFoundError; an unreadable one :class:`VideoReadError`.
``load_pickle(path, what)`` reads a pickle (annotations, proposals, poses) with the same
errors.
"""
from __future__ import annotations

import importlib.util
import os

from .base import VideoReader, VideoReadError, load_pickle
from .image import IMAGE_BACKENDS, check_image_backend, read_image

VIDEO_BACKENDS = ('pyav', 'decord', 'opencv')


def available_video_backends() -> list[str]:
    """The video backends usable in this environment."""
    return [b for b in VIDEO_BACKENDS if b != 'decord' or importlib.util.find_spec('decord')]


def open_video(path: str | os.PathLike, backend: str = 'pyav', **kwargs) -> VideoReader:
    """Open ``path`` with ``backend``; ``kwargs`` go to the backend's reader
    (``multi_thread`` for pyav, ``num_threads`` for decord)."""
    if backend == 'pyav':
        from .pyav_reader import PyAVReader
        return PyAVReader(path, **kwargs)
    if backend == 'decord':
        if importlib.util.find_spec('decord') is None:
            raise ImportError("video backend 'decord' needs the decord package: "
                              "pip install 'actionlab[decord]' (or use backend='pyav')")
        from .decord_reader import DecordReader
        return DecordReader(path, **kwargs)
    if backend == 'opencv':
        from .opencv_reader import OpenCVReader
        return OpenCVReader(path, **kwargs)
    raise ValueError(f"unknown video backend '{backend}'; "
                     f"choose one of {', '.join(VIDEO_BACKENDS)}")


__all__ = ['VideoReader', 'VideoReadError', 'open_video', 'available_video_backends',
           'VIDEO_BACKENDS', 'IMAGE_BACKENDS', 'read_image', 'check_image_backend', 'load_pickle']
