"""Decoding transforms: open a video (``*Init``), decode the sampled frames (``*Decode``),
or load frame images (``RawFrameDecode``, ``ImageDecode``) or frames held in an array
(``ArrayDecode``).

All decoders write ``imgs`` as one uint8 array (N, H, W, 3) in RGB order (Flow frames:
(2N, H, W), x and y frames interleaved), plus ``original_shape`` and ``img_shape``.
The ``*Init`` transforms put an :class:`~actionlab.data.io.VideoReader` in
``video_reader`` and its frame count in ``total_frames``; the matching ``*Decode``
reads ``frame_inds`` from it and closes it.

``mode='accurate'`` (the default) returns exactly the requested frames on every backend,
equal to a sequential decode. ``mode='efficient'`` behaves as MMAction2's: each index is
replaced by the keyframe at or before it, so a clip may repeat frames, but only one frame
per keyframe is decoded.
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

from actionlab.data.io import check_image_backend, open_video, read_image

from .base import TRANSFORMS, Transform

logger = logging.getLogger(__name__)

MODES = ('accurate', 'efficient')


def _check_io_backend(type_name: str, io_backend: str, file_client_args: dict) -> None:
    if io_backend != 'disk':
        raise NotImplementedError(f"{type_name}: io_backend '{io_backend}' is not supported; "
                                  "ActionLab reads local files (io_backend='disk')")
    if file_client_args:
        raise TypeError(f'{type_name} got unexpected argument(s) '
                        f'{", ".join(sorted(file_client_args))} (file-client arguments only '
                        'apply to remote io backends, which ActionLab does not support)')


def _check_mode(type_name: str, mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"{type_name}: mode must be 'accurate' or 'efficient', got {mode!r}")
    return mode


def _set_images(results: dict, imgs: np.ndarray) -> dict:
    results['imgs'] = imgs
    results['original_shape'] = imgs.shape[1:3]
    results['img_shape'] = imgs.shape[1:3]
    return results


def _frame_inds(results: dict) -> np.ndarray:
    """``results['frame_inds']`` flattened (samplers may give (clips, clip_len))."""
    frame_inds = np.asarray(results['frame_inds']).reshape(-1)
    results['frame_inds'] = frame_inds
    return frame_inds


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
    """Read ``frame_inds`` from ``results['video_reader']`` (exact frames, or keyframes in
    ``mode='efficient'``), then close the reader."""

    mode = 'accurate'

    def _read(self, reader, frame_inds: np.ndarray) -> np.ndarray:
        if self.mode == 'efficient':
            return reader.get_key_frames(frame_inds)
        return reader.get_frames(frame_inds)

    def __call__(self, results: dict) -> dict:
        reader = results['video_reader']
        frame_inds = _frame_inds(results)
        try:
            imgs = self._read(reader, frame_inds)
        finally:
            reader.close()
            results['video_reader'] = None
        return _set_images(results, imgs)


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
    """Decode ``frame_inds`` from the reader of :class:`DecordInit`; ``mode='efficient'``
    returns the keyframe at or before each index (decord's fast seek)."""

    def __init__(self, mode: str = 'accurate'):
        self.mode = _check_mode('DecordDecode', mode)


@TRANSFORMS.register_module()
class PyAVInit(_VideoInit):
    """Open the video with PyAV (FFmpeg); the packet table of each file is read once per
    process and cached."""


@TRANSFORMS.register_module()
class PyAVDecode(_VideoDecode):
    """Decode ``frame_inds`` from the reader of :class:`PyAVInit`: seek to the keyframe
    before each run of needed frames and decode only the frames they depend on.

    ``multi_thread`` decodes runs of frames that start at different keyframes in parallel
    (in the main process only; see ``PyAVReader.use_threads``). ``mode='efficient'``
    returns the keyframe at or before each index, as MMAction2's does.
    """

    def __init__(self, multi_thread: bool = False, mode: str = 'accurate'):
        self.multi_thread = multi_thread
        self.mode = _check_mode(type(self).__name__, mode)

    def __call__(self, results: dict) -> dict:
        if self.multi_thread:
            results['video_reader'].use_threads()
        return super().__call__(results)


@TRANSFORMS.register_module()
class PyAVDecodeMotionVector(PyAVDecode):
    """The motion vectors of frames ``frame_inds`` from the reader of :class:`PyAVInit`, as
    ``motion_vectors`` (N, H, W, 2) int8: each block painted with its motion (dx, dy) in
    pixels, zero for keyframes and intra blocks (FFmpeg's ``export_mvs``).

    ``mode`` is accepted for config compatibility: the vectors are always those of the
    exact frames.
    """

    def __call__(self, results: dict) -> dict:
        reader = results['video_reader']
        if self.multi_thread:
            reader.use_threads()
        frame_inds = _frame_inds(results)
        try:
            results['motion_vectors'] = reader.get_motion_vectors(frame_inds)
        finally:
            reader.close()
            results['video_reader'] = None
        return results


@TRANSFORMS.register_module()
class PIMSInit(_VideoInit):
    """MMAction2's PIMS reader, served by ActionLab's PyAV reader (PIMS is not needed).

    PIMS reads through PyAV too: ``'accurate'`` (``PyAVReaderIndexed``) and
    ``'efficient'`` (``PyAVReaderTimed``, timestamp seeking) both aim at the exact frames,
    which is what this reader returns in either mode.
    """

    def __init__(self, io_backend: str = 'disk', mode: str = 'accurate', **kwargs):
        super().__init__(io_backend, **kwargs)
        self.mode = _check_mode('PIMSInit', mode)


@TRANSFORMS.register_module()
class PIMSDecode(_VideoDecode):
    """Decode ``frame_inds`` from the reader of :class:`PIMSInit`."""


@TRANSFORMS.register_module()
class OpenCVInit(_VideoInit):
    """Open the video with OpenCV (``cv2.VideoCapture``); sets ``new_path`` (the local file
    that was opened) as MMAction2 does."""

    backend = 'opencv'

    def __call__(self, results: dict) -> dict:
        results['new_path'] = results['filename']
        return super().__call__(results)


@TRANSFORMS.register_module()
class OpenCVDecode(_VideoDecode):
    """Decode ``frame_inds`` from the reader of :class:`OpenCVInit` (BGR converted to RGB)."""


class _ImageFileDecode(Transform):
    """Read image files from local disk with one image decoding backend."""

    def __init__(self, io_backend: str = 'disk', decoding_backend: str = 'cv2', **kwargs):
        _check_io_backend(type(self).__name__, io_backend, kwargs)
        check_image_backend(decoding_backend)
        self.io_backend = io_backend
        self.decoding_backend = decoding_backend


@TRANSFORMS.register_module()
class RawFrameDecode(_ImageFileDecode):
    """Load frames ``frame_inds`` from image files in ``results['frame_dir']``.

    File names come from ``results['filename_tmpl']``: ``tmpl.format(index)`` for RGB,
    ``tmpl.format('x' | 'y', index)`` for Flow (e.g. ``'flow_{}_{:05d}.jpg'``), with
    ``results['offset']`` (if any) added to each index. Each distinct frame is read
    once. Normalised ``gt_bboxes``/``proposals`` (AVA) are scaled to pixels.
    ``decoding_backend``: ``'cv2'`` or, when installed, ``'pillow'``/``'turbojpeg'``.
    """

    def __call__(self, results: dict) -> dict:
        frame_dir = Path(results['frame_dir'])
        tmpl = results['filename_tmpl']
        modality = results['modality']
        offset = int(results.get('offset', 0))
        frame_inds = _frame_inds(results)
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
        _set_images(results, imgs)
        if 'gt_bboxes' in results:
            h, w = results['img_shape']
            scale = np.array([w, h, w, h])
            results['gt_bboxes'] = (results['gt_bboxes'] * scale).astype(np.float32)
            if results.get('proposals') is not None:
                results['proposals'] = (results['proposals'] * scale).astype(np.float32)
        return results


@TRANSFORMS.register_module()
class ArrayDecode(Transform):
    """Take frames ``frame_inds`` (+ ``offset``) from the 4-D array ``results['array']``:
    (T, H, W, C) for RGB; for Flow (T, H, W, 2), giving x and y frames interleaved."""

    def __call__(self, results: dict) -> dict:
        array = np.asarray(results['array'])
        if array.ndim != 4:
            raise ValueError(f'ArrayDecode: results["array"] must be 4-D (T, H, W, C), got '
                             f'shape {array.shape}')
        modality = results['modality']
        frame_inds = _frame_inds(results) + int(results.get('offset', 0))
        bad = frame_inds[(frame_inds < 0) | (frame_inds >= len(array))]
        if bad.size:
            raise IndexError(f'ArrayDecode: frame index {int(bad[0])} is out of range for an '
                             f'array of {len(array)} frames')
        if modality == 'RGB':
            imgs = array[frame_inds]
        elif modality == 'Flow':
            if array.shape[-1] != 2:
                raise ValueError(f'ArrayDecode: Flow arrays need 2 channels (x, y), got shape '
                                 f'{array.shape}')
            imgs = array[frame_inds].transpose(0, 3, 1, 2).reshape(-1, *array.shape[1:3])
        else:
            raise ValueError(f"ArrayDecode: modality must be 'RGB' or 'Flow', got {modality!r}")
        return _set_images(results, imgs)


@TRANSFORMS.register_module()
class ImageDecode(_ImageFileDecode):
    """Load the single image ``results['filename']`` as ``imgs`` (1, H, W, 3) RGB
    (ImageDataset; follow it with ``BuildPseudoClip`` to make a clip)."""

    def __call__(self, results: dict) -> dict:
        img = read_image(results['filename'], self.decoding_backend)
        return _set_images(results, img[None])
