"""decord video reader (optional extra ``actionlab[decord]``)."""
from __future__ import annotations

import numpy as np

from .base import VideoReader, VideoReadError, check_exists


class DecordReader(VideoReader):
    """Frames of ``path`` through ``decord.VideoReader`` with ``num_threads`` decoding threads."""

    backend = 'decord'

    def __init__(self, path, num_threads: int = 1):
        import decord

        self.path = check_exists(path)
        try:
            self._reader = decord.VideoReader(self.path, num_threads=num_threads)
        except (decord.DECORDError, RuntimeError) as e:
            raise VideoReadError(f'cannot open video {self.path}: {_first_line(e)}') from e
        self.num_frames = len(self._reader)
        if self.num_frames == 0:
            raise VideoReadError(f'{self.path} has a video stream without frames')
        self.fps = float(self._reader.get_avg_fps())

    def close(self) -> None:
        self._reader = None

    def key_frame_indices(self) -> np.ndarray:
        return np.asarray(self._reader.get_key_indices(), dtype=np.int64)

    def _read(self, indices: np.ndarray) -> np.ndarray:
        import decord

        try:
            return self._reader.get_batch(indices.tolist()).asnumpy()
        except decord.DECORDError as e:
            raise VideoReadError(f'cannot decode frames {indices.tolist()} of {self.path}: '
                                 f'{_first_line(e)}') from e


def _first_line(error: Exception) -> str:
    """decord errors carry a C++ stack trace after the message."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
