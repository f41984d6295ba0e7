"""The interface shared by every video reader, and the error they raise."""
from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class VideoReadError(OSError):
    """A video (or frame image) exists but cannot be read: corrupt, truncated or unsupported."""


def is_url(path: str | os.PathLike) -> bool:
    """True for ``scheme://...`` inputs that FFmpeg-based readers open without a local file."""
    return '://' in str(path)


def check_exists(path: str | os.PathLike) -> str:
    """Return ``path`` as a string, raising FileNotFoundError naming it when it is missing."""
    path = str(path)
    if not is_url(path) and not Path(path).is_file():
        if Path(path).exists():
            raise VideoReadError(f'{path} is not a file')
        raise FileNotFoundError(f'video file not found: {path}')
    return path


def load_pickle(path: str | os.PathLike, what: str):
    """The object pickled in ``path``; ``what`` names the file in errors ('annotation',
    'proposal', 'pose'): FileNotFoundError '<what> file not found: <path>', and
    :class:`VideoReadError` (an OSError, so ``skip_invalid`` treats it as unreadable)
    'cannot read <what> pickle <path>: ...' for a truncated or corrupt pickle."""
    try:
        with open(path, 'rb') as f:
            return pickle.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f'{what} file not found: {path}') from None
    except (pickle.UnpicklingError, EOFError) as e:
        raise VideoReadError(f'cannot read {what} pickle {path}: {e}') from None


class VideoReader:
    """Random access to the frames of one video, in presentation order.

    Subclasses set ``path``, ``num_frames`` and ``fps`` when opened and implement
    :meth:`_read` (unique, sorted, in-range indices -> frames). ``get_frames`` takes
    care of duplicates, order and range checks, so a backend decodes each frame once.

    Example::

        with open_video('clip.mp4') as reader:
            frames = reader.get_frames([0, 8, 8, 3])   # (4, H, W, 3) uint8 RGB
    """

    backend: str = ''
    path: str
    num_frames: int
    fps: float

    def __len__(self) -> int:
        return self.num_frames

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(path={self.path!r}, num_frames={self.num_frames}, '
                f'fps={self.fps:.3f})')

    def close(self) -> None:
        """Release the file; the reader cannot be used afterwards."""

    def get_frames(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames ``indices`` (any order, repeats allowed) as one uint8 array (N, H, W, 3) RGB."""
        indices = self._check_indices(indices)
        unique, inverse = np.unique(indices, return_inverse=True)
        frames = self._read(unique)
        if np.array_equal(unique, indices):
            return frames
        return frames[inverse]

    def key_frame_indices(self) -> np.ndarray:
        """Indices of the keyframes (the random-access points), ascending."""
        raise NotImplementedError(f'the {self.backend} reader does not know the keyframes of '
                                  f'{self.path}')

    def get_key_frames(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """For each of ``indices``, the keyframe at or before it (the first frame when none
        is): MMAction2's ``mode='efficient'``, which decodes one frame per keyframe."""
        indices = self._check_indices(indices)
        keys = self.key_frame_indices()
        if keys.size == 0 or keys[0] != 0:
            keys = np.concatenate([[0], keys])
        return self.get_frames(keys[np.searchsorted(keys, indices, side='right') - 1])

    def _check_indices(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """``indices`` as a flat int64 array, checked to lie in the video."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size == 0:
            raise ValueError(f'no frame indices requested from {self.path}')
        bad = indices[(indices < 0) | (indices >= self.num_frames)]
        if bad.size:
            raise IndexError(f'frame index {int(bad[0])} is out of range for {self.path}, '
                             f'which has {self.num_frames} frames')
        return indices

    def _read(self, indices: np.ndarray) -> np.ndarray:
        """Decode ``indices`` (unique, ascending, in range): (len(indices), H, W, 3) uint8 RGB."""
        raise NotImplementedError
