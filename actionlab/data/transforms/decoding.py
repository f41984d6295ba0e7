"""Decoding transforms: open a video (``*Init``), decode the sampled frames (``*Decode``),
or load raw frame images (``RawFrameDecode``).

All decoders write ``imgs`` as one uint8 array (N, H, W, 3) in RGB order (Flow frames:
(2N, H, W), x and y frames interleaved), plus ``original_shape`` and ``img_shape``.
The ``*Init`` transforms put an :class:`~actionlab.data.io.VideoReader` in
``video_reader`` and its frame count in ``total_frames``; the matching ``*Decode``
reads ``frame_inds`` from it and closes it.
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

from actionlab.data.io import check_image_backend, open_video, read_image

from .base import TRANSFORMS, Transform

logger = logging.getLogger(__name__)


def _check_io_backend(type_name: str, io_backend: str, file_client_args: dict) -> None:
    if io_backend != 'disk':
        raise NotImplementedError(f"{type_name}: io_backend '{io_backend}' is not supported; "
                                  "ActionLab reads local files (io_backend='disk')")
    if file_client_args:
        raise TypeError(f'{type_name} got unexpected argument(s) '
                        f'{", ".join(sorted(file_client_args))} (file-client arguments only '
                        'apply to remote io backends, which ActionLab does not support)')


class _VideoInit(Transform):
    """Open ``results['filename']`` with one reader backend."""

    backend = 'pyav'

    def __init__(self, io_backend: str = 'disk', **kwargs):
        _check_io_backend(type(self).__name__, io_backend, kwargs)
        self.io_backend = io_backend

    def _open(self, filename):
        return open_video(filename, self.backend)

    def __call__(self, results: dict) -> dict:
        reader = self._open(results['filename'])
        results['video_reader'] = reader
        results['total_frames'] = reader.num_frames
        return results


class _VideoDecode(Transform):
    """Read ``frame_inds`` from ``results['video_reader']``, then close the reader."""

    def __call__(self, results: dict) -> dict:
        reader = results['video_reader']
        frame_inds = np.asarray(results['frame_inds']).reshape(-1)
        results['frame_inds'] = frame_inds
        try:
            imgs = reader.get_frames(frame_inds)
        finally:
            reader.close()
            results['video_reader'] = None
        results['imgs'] = imgs
        results['original_shape'] = imgs.shape[1:3]
        results['img_shape'] = imgs.shape[1:3]
        return results


def _check_mode(type_name: str, mode: str) -> str:
    if mode not in ('accurate', 'efficient'):
        raise ValueError(f"{type_name}: mode must be 'accurate' or 'efficient', got {mode!r}")
    return mode


_warned_no_decord = False


@TRANSFORMS.register_module()
class DecordInit(_VideoInit):
    """Open the video with decord (``num_threads`` decoding threads) when it is installed;
    otherwise with the PyAV reader, which returns the same frames (one warning per process).

    AVI files always go to PyAV: decord orders their frames by the container's timestamps,
    which AVI only has in decode order, so it returns wrong frames when they have B-frames.
    """

    def __init__(self, io_backend: str = 'disk', num_threads: int = 1, **kwargs):
        super().__init__(io_backend, **kwargs)
        self.num_threads = num_threads
        if importlib.util.find_spec('decord') is not None:
            self.backend = 'decord'
        else:
            global _warned_no_decord
            if not _warned_no_decord:
                _warned_no_decord = True
                logger.warning('decord is not installed: DecordInit/DecordDecode decode with '
                               'PyAV instead (same frames). pip install decord to use decord.')

    def _open(self, filename):
        if self.backend == 'decord' and not str(filename).lower().endswith('.avi'):
            return open_video(filename, 'decord', num_threads=self.num_threads)
        return open_video(filename, 'pyav', multi_thread=self.num_threads != 1)


@TRANSFORMS.register_module()
class DecordDecode(_VideoDecode):
    """Decode ``frame_inds`` from the reader of :class:`DecordInit`.

    ``mode='efficient'`` (decord's keyframe-only seeking) is accepted for config
    compatibility and returns the exact frames, like ``'accurate'``.
    """

    def __init__(self, mode: str = 'accurate'):
        self.mode = _check_mode('DecordDecode', mode)


@TRANSFORMS.register_module()
class PyAVInit(_VideoInit):
    """Open the video with PyAV (FFmpeg)."""


@TRANSFORMS.register_module()
class PyAVDecode(_VideoDecode):
    """Decode ``frame_inds`` from the reader of :class:`PyAVInit`, seeking to the keyframe
    before each run of needed frames. ``multi_thread`` lets FFmpeg decode with threads;
    ``mode='efficient'`` is accepted for config compatibility (frames are always exact)."""

    def __init__(self, multi_thread: bool = False, mode: str = 'accurate'):
        self.multi_thread = multi_thread
        self.mode = _check_mode('PyAVDecode', mode)

    def __call__(self, results: dict) -> dict:
        if self.multi_thread:
            results['video_reader'].use_threads()
        return super().__call__(results)


@TRANSFORMS.register_module()
class OpenCVInit(_VideoInit):
    """Open the video with OpenCV (``cv2.VideoCapture``)."""

    backend = 'opencv'


@TRANSFORMS.register_module()
class OpenCVDecode(_VideoDecode):
    """Decode ``frame_inds`` from the reader of :class:`OpenCVInit` (BGR converted to RGB)."""


@TRANSFORMS.register_module()
class RawFrameDecode(Transform):
    """Load frames ``frame_inds`` from image files in ``results['frame_dir']``.

    File names come from ``results['filename_tmpl']``: ``tmpl.format(index)`` for RGB,
    ``tmpl.format('x' | 'y', index)`` for Flow (e.g. ``'flow_{}_{:05d}.jpg'``), with
    ``results['offset']`` (if any) added to each index. Each distinct frame is read
    once. Normalised ``gt_bboxes``/``proposals`` (AVA) are scaled to pixels.
    ``decoding_backend``: ``'cv2'`` or, when installed, ``'pillow'``/``'turbojpeg'``.
    """

    def __init__(self, io_backend: str = 'disk', decoding_backend: str = 'cv2', **kwargs):
        _check_io_backend('RawFrameDecode', io_backend, kwargs)
        check_image_backend(decoding_backend)
        self.io_backend = io_backend
        self.decoding_backend = decoding_backend

    def __call__(self, results: dict) -> dict:
        frame_dir = Path(results['frame_dir'])
        tmpl = results['filename_tmpl']
        modality = results['modality']
        offset = int(results.get('offset', 0))
        frame_inds = np.asarray(results['frame_inds']).reshape(-1)
        results['frame_inds'] = frame_inds
        unique, inverse = np.unique(frame_inds, return_inverse=True)
        if modality == 'RGB':
            frames = np.stack([read_image(frame_dir / tmpl.format(int(i) + offset),
                                          self.decoding_backend) for i in unique])
            imgs = frames[inverse]
        elif modality == 'Flow':
            frames = np.stack([
                np.stack([read_image(frame_dir / tmpl.format(axis, int(i) + offset),
                                     self.decoding_backend, grayscale=True)
                          for axis in ('x', 'y')]) for i in unique])
            imgs = frames[inverse].reshape(-1, *frames.shape[2:])  # x0, y0, x1, y1, ...
        else:
            raise ValueError(f"RawFrameDecode: modality must be 'RGB' or 'Flow', got {modality!r}")
        results['imgs'] = imgs
        results['original_shape'] = imgs.shape[1:3]
        results['img_shape'] = imgs.shape[1:3]
        if 'gt_bboxes' in results:
            h, w = results['img_shape']
            scale = np.array([w, h, w, h])
            results['gt_bboxes'] = (results['gt_bboxes'] * scale).astype(np.float32)
            if results.get('proposals') is not None:
                results['proposals'] = (results['proposals'] * scale).astype(np.float32)
        return results
