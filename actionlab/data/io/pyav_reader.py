"""PyAV (FFmpeg) video reader: the default backend, installable from PyPI everywhere.

Random access without decoding the whole video: on open, the container is demuxed
once (packets only, no decoding) to learn every frame's presentation timestamp
and the keyframes. A request then seeks to the keyframe before each needed run of
frames and decodes forward, keeping each needed frame once.

Containers whose timestamps do not give the presentation order (AVI stores none,
so FFmpeg invents them from the decode order) are read sequentially from the
start up to the last needed frame, which is what their frame numbering means.
"""
from __future__ import annotations

import itertools
import logging

import av
import cv2
import numpy as np

from .base import VideoReader, VideoReadError, check_exists

logger = logging.getLogger(__name__)

_START = -1  # keyframe slot meaning "decode from the start of the file"


class PyAVReader(VideoReader):
    """Frames of ``path`` through PyAV; ``multi_thread`` lets FFmpeg decode with threads."""

    backend = 'pyav'

    def __init__(self, path, multi_thread: bool = False):
        self.path = check_exists(path)
        try:
            self._container = av.open(self.path, metadata_errors='ignore')
        except (av.error.FFmpegError, OSError) as e:
            raise VideoReadError(f'cannot open video {self.path}: {e}') from e
        if not self._container.streams.video:
            self._container.close()
            raise VideoReadError(f'{self.path} has no video stream')
        self._stream = self._container.streams.video[0]
        if multi_thread:
            self.use_threads()
        self._build_index()
        self.num_frames = len(self._pts)
        if self.num_frames == 0:
            self.close()
            raise VideoReadError(f'{self.path} has a video stream without frames')
        self.fps = self._frame_rate()

    def close(self) -> None:
        self._container.close()

    def use_threads(self) -> None:
        """Let FFmpeg decode with frame and slice threads (before the first ``get_frames``)."""
        self._stream.codec_context.thread_type = 'AUTO'

    def _build_index(self) -> None:
        """Demux all packets once: presentation timestamps and keyframes, in presentation order."""
        stamps, seek_stamps, keys = [], [], []
        try:
            for packet in self._container.demux(self._stream):
                # size 0: the flush packet at the end; discard: cut by an edit list, never shown
                if packet.size == 0 or packet.is_discard:
                    continue
                stamps.append(packet.pts if packet.pts is not None else packet.dts)
                seek_stamps.append(packet.dts if packet.dts is not None else packet.pts)
                keys.append(packet.is_keyframe)
        except av.error.FFmpegError as e:
            self.close()
            raise VideoReadError(f'cannot read the packets of {self.path}: {e}') from e
        fmt = self._container.format.name.split(',')
        self._ordered_by_pts = ('avi' not in fmt and None not in stamps
                                and len(set(stamps)) == len(stamps))
        if not self._ordered_by_pts:
            self._pts = np.arange(len(stamps))
            return
        order = np.argsort(np.asarray(stamps, dtype=np.int64), kind='stable')
        self._pts = np.asarray(stamps, dtype=np.int64)[order]
        is_key = np.asarray(keys, dtype=bool)[order]
        self._key_pts = self._pts[is_key]
        self._key_seek = np.asarray(seek_stamps, dtype=np.int64)[order][is_key]
        # the keyframe to start from for frame i: the last one shown at or before it
        self._key_of = np.searchsorted(self._key_pts, self._pts, side='right') - 1

    def _frame_rate(self) -> float:
        for rate in (self._stream.average_rate, self._stream.guessed_rate):
            if rate:
                return float(rate)
        if self._stream.duration and self._stream.time_base:
            return self.num_frames / float(self._stream.duration * self._stream.time_base)
        return 0.0

    def _decode_from(self, key: int):
        """A frame iterator starting at keyframe slot ``key`` (or the file start)."""
        if key == _START:
            self._container.seek(0)
            return self._container.decode(self._stream)
        key_pts = int(self._key_pts[key])
        # Demuxers index keyframes by pts (mp4, mkv) or by dts; seeking to the pts is exact for
        # the first kind but can overshoot with the second, and the dts never overshoots.
        for stamp in (key_pts, int(self._key_seek[key])):
            self._container.seek(stamp, stream=self._stream, backward=True, any_frame=False)
            frames = self._container.decode(self._stream)
            first = next(frames, None)
            if first is None:
                break
            if first.pts is None or first.pts <= key_pts:
                return itertools.chain([first], frames)
        return self._decode_from(_START)

    def _read(self, indices: np.ndarray) -> np.ndarray:
        try:
            if self._ordered_by_pts:
                frames = self._read_by_seeking(indices)
            else:
                frames = self._read_sequentially(indices)
        except av.error.FFmpegError as e:
            raise VideoReadError(f'cannot decode {self.path} (frames {indices.tolist()}): '
                                 f'{e}') from e
        return _stack([frames[i] for i in indices.tolist()])

    def _read_by_seeking(self, indices: np.ndarray) -> dict[int, np.ndarray]:
        wanted = {int(self._pts[i]): int(i) for i in indices}
        found: dict[int, np.ndarray] = {}
        frames = None
        last_pts = None  # newest timestamp decoded in the current run
        for i in indices.tolist():
            if i in found:
                continue
            key = int(self._key_of[i])
            # seek unless the current run has already decoded past this frame's keyframe
            if frames is None or key == _START or last_pts is None or self._key_pts[key] > last_pts:
                frames = self._decode_from(key)
                # frames shown before the run's keyframe may reference earlier, undecoded frames
                min_pts = None if key == _START else int(self._key_pts[key])
                last_pts = None
            target = int(self._pts[i])
            for frame in frames:
                if frame.pts is None:
                    continue
                last_pts = frame.pts
                if frame.pts in wanted and (min_pts is None or frame.pts >= min_pts):
                    found[wanted[frame.pts]] = frame.to_ndarray(format='rgb24')
                if frame.pts >= target:
                    break
            if i not in found:
                frames = None
        missing = [i for i in indices.tolist() if i not in found]
        if missing:
            # a damaged keyframe index or an open GOP: decode from the start as a last resort
            logger.debug('%s: frames %s not found after seeking; decoding from the start',
                         self.path, missing)
            for frame in self._decode_from(_START):
                if frame.pts in wanted and wanted[frame.pts] not in found:
                    found[wanted[frame.pts]] = frame.to_ndarray(format='rgb24')
                if frame.pts is not None and frame.pts >= self._pts[missing[-1]]:
                    break
            still = [i for i in missing if i not in found]
            if still:
                raise VideoReadError(f'cannot decode frame {still[0]} of {self.path}: the '
                                     f'decoder produced no frame with timestamp '
                                     f'{int(self._pts[still[0]])} (damaged video?)')
        return found

    def _read_sequentially(self, indices: np.ndarray) -> dict[int, np.ndarray]:
        wanted = set(indices.tolist())
        last = int(indices[-1])
        found: dict[int, np.ndarray] = {}
        frame = None
        for count, frame in enumerate(self._decode_from(_START)):
            if count in wanted:
                found[count] = frame.to_ndarray(format='rgb24')
            if count >= last:
                break
        missing = [i for i in indices.tolist() if i not in found]
        if missing:
            if frame is None:
                raise VideoReadError(f'cannot decode any frame of {self.path}')
            # the packet count of such containers can overestimate the frame count slightly
            logger.warning('%s: frames %s lie past the last decodable frame; repeating it',
                           self.path, missing)
            tail = frame.to_ndarray(format='rgb24')
            found.update({i: tail for i in missing})
        return found


def _stack(frames: list[np.ndarray]) -> np.ndarray:
    """One (N, H, W, 3) array; a frame of another size (a mid-stream resolution change) is
    resized to the first frame's size so that the clip stays one array."""
    h, w = frames[0].shape[:2]
    if any(f.shape[:2] != (h, w) for f in frames):
        frames = [f if f.shape[:2] == (h, w) else cv2.resize(f, (w, h)) for f in frames]
    return np.stack(frames)
