"""OpenCV (``cv2.VideoCapture``) video reader."""
from __future__ import annotations

import logging

import cv2
import numpy as np

from .base import VideoReader, VideoReadError, check_exists

logger = logging.getLogger(__name__)

# Reading forward through a short gap is cheaper than a seek, which decodes from a keyframe.
_MAX_GAP = 32
# The container's frame count can exceed the decodable frames by a few at the end.
_MAX_STEP_BACK = 8


class OpenCVReader(VideoReader):
    """Frames of ``path`` through OpenCV's FFmpeg backend."""

    backend = 'opencv'

    def __init__(self, path):
        self.path = check_exists(path)
        self._cap = cv2.VideoCapture(self.path)
        if not self._cap.isOpened():
            raise VideoReadError(f'OpenCV cannot open video {self.path}')
        self.num_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if self.num_frames <= 0:
            self.close()
            raise VideoReadError(f'OpenCV finds no frames in {self.path}')
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        self._next = 0  # index of the frame the next read() returns

    def close(self) -> None:
        self._cap.release()

    def _read_one(self, index: int) -> np.ndarray | None:
        if index < self._next or index - self._next > _MAX_GAP:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            self._next = index
        while self._next < index:
            if not self._cap.grab():
                return None
            self._next += 1
        ok, frame = self._cap.read()
        if not ok:
            return None
        self._next += 1
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def _read(self, indices: np.ndarray) -> np.ndarray:
        frames = []
        for index in indices.tolist():
            frame = self._read_one(index)
            step = 0
            while frame is None and step < _MAX_STEP_BACK and index - step > 0:
                step += 1
                frame = self._read_one(index - step)
            if frame is None:
                raise VideoReadError(f'OpenCV cannot decode frame {index} of {self.path}')
            if step:
                logger.warning('%s: frame %d is not decodable (the frame count %d is too high); '
                               'using frame %d', self.path, index, self.num_frames, index - step)
            frames.append(frame)
        return np.stack(frames)
