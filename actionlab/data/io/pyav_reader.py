"""PyAV (FFmpeg) video reader: the default backend, installable from PyPI everywhere.

Random access without decoding the whole video. The container is demuxed once per
file (packets only, no decoding; the table is cached per process) to learn every
frame's presentation timestamp and the keyframes. A request is then split into
runs, one per keyframe: seek to the keyframe, feed packets to the decoder until
every frame of the run has come out, and convert only the needed frames to RGB.

What makes it fast, all without changing a single output pixel:

* frames that no later frame references (H.264 ``nal_ref_idc == 0``, MPEG-4 B-frames)
  are skipped by the decoder (``skip_frame='NONREF'``) unless they are wanted: in
  x264 streams that is about half of the frames;
* after the last wanted packet of a run the decoder is drained instead of being fed
  more packets to push the frame out of its reordering buffer;
* each frame is decoded once, however many clips share it, and runs that lie in
  the same group of pictures continue instead of seeking again;
* with threads (``multi_thread``), runs that start at different keyframes are decoded at
  the same time by a second decoder of the same file.

Containers whose timestamps do not give the presentation order (AVI stores none,
so FFmpeg invents them from the decode order) are read sequentially from the
start up to the last needed frame, which is what their frame numbering means.
"""
from __future__ import annotations

import logging
import os
import sys
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from .base import VideoReader, VideoReadError, check_exists, is_url

logger = logging.getLogger(__name__)

# Codecs whose 'NONREF' frames are never used to predict another frame, so skipping the
# ones nobody asked for changes no decoded pixel (H.264: nal_ref_idc 0; MPEG: B-frames).
_SKIP_NONREF_CODECS = frozenset({'h264', 'mpeg4', 'mpeg1video', 'mpeg2video', 'h263'})

# Per-process cache of packet tables: (path, size, mtime) -> _Index. A table costs a few
# bytes per frame; 512 ten-second clips take well under 10 MB.
_INDEX_CACHE: OrderedDict[tuple, _Index] = OrderedDict()
_INDEX_CACHE_SIZE = 512


@dataclass(frozen=True)
class _Index:
    """The frames of one video stream, in presentation order."""

    pts: np.ndarray          # (N,) presentation timestamps, or 0..N-1 when not usable
    ordered_by_pts: bool     # False: frames are numbered by decode order (AVI)
    key_frames: np.ndarray   # indices of the keyframes
    key_seek: np.ndarray     # timestamp to seek to for each keyframe (its dts)
    key_of: np.ndarray       # (N,) slot in key_frames of the keyframe to start from


def _scan(container: av.container.InputContainer, stream) -> _Index:
    """Demux every packet of ``stream`` once, without decoding."""
    stamps, seek_stamps, keys = [], [], []
    for packet in container.demux(stream):
        # size 0: the flush packet at the end; discard: cut by an edit list, never shown
        if packet.size == 0 or packet.is_discard:
            continue
        stamps.append(packet.pts if packet.pts is not None else packet.dts)
        seek_stamps.append(packet.dts if packet.dts is not None else packet.pts)
        keys.append(packet.is_keyframe)
    fmt = container.format.name.split(',')
    ordered = 'avi' not in fmt and None not in stamps and len(set(stamps)) == len(stamps)
    is_key = np.asarray(keys, dtype=bool)
    if not ordered:
        key_frames = np.flatnonzero(is_key)
        return _Index(np.arange(len(stamps)), False, key_frames, key_frames,
                      np.zeros(len(stamps), np.int64))
    order = np.argsort(np.asarray(stamps, dtype=np.int64), kind='stable')
    pts = np.asarray(stamps, dtype=np.int64)[order]
    key_frames = np.flatnonzero(is_key[order])
    key_seek = np.asarray(seek_stamps, dtype=np.int64)[order][key_frames]
    # the keyframe to start from for frame i: the last one shown at or before it (-1: none,
    # decode from the start of the file)
    key_of = np.searchsorted(pts[key_frames], pts, side='right') - 1
    return _Index(pts, True, key_frames, key_seek, key_of)


def _can_skip_nonref(codec) -> bool:
    """Whether FFmpeg's ``skip_frame='NONREF'`` leaves every other frame of this stream
    unchanged. HEVC 'sub-layer non-reference' pictures may still predict pictures of
    higher temporal sub-layers, so HEVC qualifies only with a single sub-layer (read from
    the ``hvcC`` header of mp4/mkv)."""
    if codec.name in _SKIP_NONREF_CODECS:
        return True
    if codec.name == 'hevc':
        header = codec.extradata or b''
        return len(header) > 22 and header[0] == 1 and (header[21] >> 3) & 7 == 1
    return False


def _in_data_loader_worker() -> bool:
    data = sys.modules.get('torch.utils.data')  # never imports torch itself
    return data is not None and data.get_worker_info() is not None


def _file_key(path: str) -> tuple | None:
    if is_url(path):
        return None
    stat = os.stat(path)
    return path, stat.st_size, stat.st_mtime_ns


class PyAVReader(VideoReader):
    """Frames of ``path`` through PyAV; ``multi_thread``: see :meth:`use_threads`."""

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
        self._codec = self._stream.codec_context
        self._threads = False
        self._helper: PyAVReader | None = None  # the second decoder of use_threads()
        self._index = self._load_index()
        self.num_frames = len(self._index.pts)
        if self.num_frames == 0:
            self.close()
            raise VideoReadError(f'{self.path} has a video stream without frames')
        if multi_thread:
            self.use_threads()
        self.fps = self._frame_rate()
        self._skip_nonref = _can_skip_nonref(self._codec)
        # One converter for all frames: VideoFrame.to_ndarray builds a new swscale context
        # (and thread pool) per frame, which costs more than decoding the frame.
        self._reformatter = VideoReformatter()

    def close(self) -> None:
        self._container.close()
        if self._helper is not None:
            self._helper.close()

    def use_threads(self) -> None:
        """Decode with threads where they pay (call before the first ``get_frames``).

        Runs of frames that start at different keyframes are decoded at the same time by a
        second decoder; files read from the start (AVI) use FFmpeg's frame and slice
        threads. FFmpeg's frame threads are not used when seeking: on the short, sparse
        decodes of sampled clips they cost more CPU time and gained nothing (measured on
        240p to 720p H.264). A no-op in DataLoader worker processes, which already keep
        the cores busy.
        """
        if _in_data_loader_worker():
            return
        self._threads = True
        if not self._index.ordered_by_pts:
            self._codec.thread_type = 'AUTO'

    def key_frame_indices(self) -> np.ndarray:
        return self._index.key_frames

    def get_motion_vectors(self, indices) -> np.ndarray:
        """Per-pixel motion (dx, dy) of frames ``indices``: (N, H, W, 2) int8.

        Every block of a frame is painted with its vector, destination minus source in
        whole pixels (clipped to the int8 range; a later vector of a block wins, as in
        MMAction2's ``PyAVDecodeMotionVector``); keyframes and intra blocks stay 0.
        Must be called before any frame of this reader has been decoded.
        """
        if self._codec.is_open:
            raise RuntimeError(f'{self.path}: motion vectors must be requested before the '
                               'first frame is decoded with this reader')
        self._codec.flags2 |= int(av.codec.context.Flags2.export_mvs)
        indices = self._check_indices(indices)
        unique, inverse = np.unique(indices, return_inverse=True)
        return self._decode(unique, _motion_field)[inverse]

    def _load_index(self) -> _Index:
        key = _file_key(self.path)
        index = _INDEX_CACHE.get(key) if key else None
        if index is not None:
            _INDEX_CACHE.move_to_end(key)
            return index
        try:
            index = _scan(self._container, self._stream)
        except av.error.FFmpegError as e:
            self.close()
            raise VideoReadError(f'cannot read the packets of {self.path}: {e}') from e
        declared = self._stream.frames
        if 0 < len(index.pts) < declared:
            logger.warning('%s: only %d of the %d frames the container declares can be read '
                           '(truncated file?)', self.path, len(index.pts), declared)
        if key:
            _INDEX_CACHE[key] = index
            if len(_INDEX_CACHE) > _INDEX_CACHE_SIZE:
                _INDEX_CACHE.popitem(last=False)
        return index

    def _frame_rate(self) -> float:
        for rate in (self._stream.average_rate, self._stream.guessed_rate):
            if rate:
                return float(rate)
        if self._stream.duration and self._stream.time_base:
            return self.num_frames / float(self._stream.duration * self._stream.time_base)
        return 0.0

    def _read(self, indices: np.ndarray) -> np.ndarray:
        return self._decode(indices, self._rgb, parallel=self._threads)

    def _rgb(self, frame: av.VideoFrame) -> np.ndarray:
        return self._reformatter.reformat(frame, format='rgb24', threads=1).to_ndarray()

    def _decode(self, indices: np.ndarray, convert: Callable, parallel: bool = False
                ) -> np.ndarray:
        """``convert(frame)`` of each frame ``indices`` (unique, ascending), stacked;
        ``parallel``: RGB frames, with the helper decoder taking some of the runs."""
        try:
            if self._index.ordered_by_pts:
                found = self._read_by_seeking(indices, convert, parallel)
            else:
                found = self._read_sequentially(indices, convert)
        except av.error.FFmpegError as e:
            raise VideoReadError(f'cannot decode {self.path} (frames {indices.tolist()}): '
                                 f'{e}') from e
        return _stack([found[i] for i in indices.tolist()])

    # -- decoding runs -----------------------------------------------------------------------

    def _runs(self, indices: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Split ascending ``indices`` by the keyframe they are decoded from: (slot, indices)."""
        slots = self._index.key_of[indices]
        starts = np.flatnonzero(np.diff(slots, prepend=slots[0] - 1))
        return [(int(slots[s]), run) for s, run in zip(starts, np.split(indices, starts[1:]))]

    def _seek(self, slot: int):
        """Position the demuxer at keyframe ``slot`` (-1: the file start); returns a packet
        iterator, or None when the container cannot seek there exactly."""
        if slot < 0:
            self._container.seek(0)
            return self._container.demux(self._stream)
        key_pts = int(self._index.pts[self._index.key_frames[slot]])
        # Demuxers index keyframes by pts (mp4, mkv) or by dts; seeking to the pts is exact for
        # the first kind but can overshoot with the second, and the dts never overshoots.
        for stamp in (key_pts, int(self._index.key_seek[slot])):
            self._container.seek(stamp, stream=self._stream, backward=True, any_frame=False)
            packets = self._container.demux(self._stream)
            first = next(packets, None)
            if first is None:
                return None
            if first.pts is None or first.pts <= key_pts:
                return _chain(first, packets)
        return None

    def _read_by_seeking(self, indices: np.ndarray, convert: Callable, parallel: bool
                         ) -> dict[int, np.ndarray]:
        pts = self._index.pts
        runs = self._runs(indices)
        found: dict[int, np.ndarray] = {}
        if parallel and len(runs) > 1:
            mine, theirs = _share(runs, self._index.key_frames)
            helper = self._helper_reader()
            job = _thread_pool().submit(helper._decode_runs, theirs, helper._rgb, {})
            try:
                self._decode_runs(mine, convert, found)
            finally:
                found.update(job.result())
        else:
            self._decode_runs(runs, convert, found)
        missing = [i for i in indices.tolist() if i not in found]
        if missing:
            # a damaged keyframe index or an open GOP: decode from the start as a last resort
            logger.debug('%s: frames %s not found after seeking; decoding from the start',
                         self.path, missing)
            self._decode_run(self._seek(-1), {int(pts[i]): i for i in missing}, convert, found)
            still = [i for i in missing if i not in found]
            if still:
                raise VideoReadError(f'cannot decode frame {still[0]} of {self.path}: the '
                                     f'decoder produced no frame with timestamp '
                                     f'{int(pts[still[0]])} (damaged video?)')
        return found

    def _helper_reader(self) -> PyAVReader:
        if self._helper is None:
            self._helper = PyAVReader(self.path)
        return self._helper

    def _decode_runs(self, runs: list[tuple[int, np.ndarray]], convert: Callable,
                     found: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """Decode each (keyframe slot, indices) run of ``runs`` into ``found``."""
        pts = self._index.pts
        for slot, run in runs:
            # every frame of the run is shown at or after its keyframe, so none of them can
            # reference frames before the seek point
            packets = self._seek(slot) or self._seek(-1)
            self._decode_run(packets, {int(pts[i]): int(i) for i in run}, convert, found)
        return found

    def _decode_run(self, packets, wanted: dict[int, int], convert: Callable,
                    found: dict[int, np.ndarray]) -> None:
        """Feed ``packets`` to the decoder until the frames ``wanted`` (pts -> index) have
        come out, storing ``convert(frame)`` in ``found``; drains the decoder at the end."""
        codec = self._codec
        unsent = set(wanted)
        pending = len(wanted)
        skipping = False
        for packet in packets:
            if self._skip_nonref:
                wanted_packet = packet.pts in unsent
                if wanted_packet == skipping:  # toggle only on change: it is a C call
                    skipping = not wanted_packet
                    codec.skip_frame = 'NONREF' if skipping else 'DEFAULT'
            unsent.discard(packet.pts)
            frames = codec.decode(packet)
            if not unsent and packet.size:
                # all wanted packets sent: drain rather than feed packets for the reorder delay
                frames += codec.decode(None)
            for frame in frames:
                index = wanted.get(frame.pts)
                if index is not None and index not in found:
                    found[index] = convert(frame)
                    pending -= 1
            if not unsent or pending == 0:
                break
        if skipping:
            codec.skip_frame = 'DEFAULT'

    def _read_sequentially(self, indices: np.ndarray, convert: Callable
                           ) -> dict[int, np.ndarray]:
        wanted = set(indices.tolist())
        last = int(indices[-1])
        found: dict[int, np.ndarray] = {}
        frame = None
        self._container.seek(0)
        for count, frame in enumerate(self._container.decode(self._stream)):
            if count in wanted:
                found[count] = convert(frame)
            if count >= last:
                break
        missing = [i for i in indices.tolist() if i not in found]
        if missing:
            if frame is None:
                raise VideoReadError(f'cannot decode any frame of {self.path}')
            # the packet count of such containers can overestimate the frame count slightly
            logger.warning('%s: frames %s lie past the last decodable frame; repeating it',
                           self.path, missing)
            tail = convert(frame)
            found.update({i: tail for i in missing})
        return found


def _share(runs: list[tuple[int, np.ndarray]], key_frames: np.ndarray) -> tuple[list, list]:
    """Split ``runs`` in two lists of about equal decoding work (frames from the keyframe to
    the run's last frame), each in file order."""
    work = [int(run[-1]) - (int(key_frames[slot]) if slot >= 0 else 0) + 1 for slot, run in runs]
    shares: tuple[list, list] = ([], [])
    totals = [0, 0]
    for k in sorted(range(len(runs)), key=work.__getitem__, reverse=True):
        lighter = int(totals[1] < totals[0])
        shares[lighter].append(k)
        totals[lighter] += work[k]
    return tuple([runs[k] for k in sorted(share)] for share in shares)


_POOL: tuple[int, ThreadPoolExecutor] | None = None


def _thread_pool() -> ThreadPoolExecutor:
    """The thread of the helper decoders, one per process (threads do not survive a fork)."""
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        _POOL = os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix='pyav-helper')
    return _POOL[1]


def _chain(first, rest):
    yield first
    yield from rest


def _motion_field(frame: av.VideoFrame) -> np.ndarray:
    field = np.zeros((frame.height, frame.width, 2), np.int8)
    vectors = frame.side_data.get('MOTION_VECTORS')
    if vectors is None or len(vectors) == 0:
        return field
    mv = vectors.to_ndarray()
    dx = np.clip(mv['dst_x'].astype(np.int32) - mv['src_x'], -128, 127)
    dy = np.clip(mv['dst_y'].astype(np.int32) - mv['src_y'], -128, 127)
    x1 = mv['dst_x'].astype(np.int32) - mv['w'] // 2
    y1 = mv['dst_y'].astype(np.int32) - mv['h'] // 2
    x2, y2 = x1 + mv['w'], y1 + mv['h']
    # MMAction2 keeps only blocks strictly inside the frame (its end test is exclusive)
    inside = (x1 >= 0) & (y1 >= 0) & (x2 < frame.width) & (y2 < frame.height)
    for i in np.flatnonzero(inside).tolist():
        field[y1[i]:y2[i], x1[i]:x2[i]] = (dx[i], dy[i])
    return field


def _stack(frames: list[np.ndarray]) -> np.ndarray:
    """One (N, H, W, C) array; a frame of another size (a mid-stream resolution change) is
    resized to the first frame's size so that the clip stays one array."""
    h, w = frames[0].shape[:2]
    if any(f.shape[:2] != (h, w) for f in frames):
        frames = [f if f.shape[:2] == (h, w) else cv2.resize(f, (w, h)) for f in frames]
    return np.stack(frames)
