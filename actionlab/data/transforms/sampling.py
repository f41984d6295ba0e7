"""Frame-index samplers: which frames of a video make up the clips of one sample."""
from __future__ import annotations

import warnings

import numpy as np

from .base import TRANSFORMS, Transform


@TRANSFORMS.register_module()
class SampleFrames(Transform):
    """Sample ``num_clips`` clips of ``clip_len`` frames, ``frame_interval`` apart (TSN-style
    segments; MMAction2's index arithmetic and random draws, so seeded runs agree).

    Training: the video is split into ``num_clips`` equal segments and each clip starts at
    a random offset in its segment. Test (``test_mode``): each clip starts in the middle
    of its segment; ``twice_sample`` appends the clips starting at the segment starts.
    ``keep_tail_frames`` draws float offsets so the last frames can be sampled too.

    Indices past the end are handled by ``out_of_bound_opt``: ``'loop'`` wraps them
    around, ``'repeat_last'`` repeats the clip's last valid frame; short videos therefore
    always give full clips. Reads ``total_frames`` and ``start_index``; writes
    ``frame_inds`` (flat, + start_index), ``clip_len``, ``frame_interval``, ``num_clips``.
    ``start_index`` here is deprecated: datasets set it.
    """

    def __init__(self, clip_len: int, frame_interval: int = 1, num_clips: int = 1,
                 temporal_jitter: bool = False, twice_sample: bool = False,
                 out_of_bound_opt: str = 'loop', test_mode: bool = False,
                 start_index: int | None = None, keep_tail_frames: bool = False):
        if out_of_bound_opt not in ('loop', 'repeat_last'):
            raise ValueError(f"SampleFrames: out_of_bound_opt must be 'loop' or 'repeat_last', "
                             f'got {out_of_bound_opt!r}')
        for name, value in (('clip_len', clip_len), ('frame_interval', frame_interval),
                            ('num_clips', num_clips)):
            if int(value) != value or value < 1:
                raise ValueError(f'SampleFrames: {name} must be a positive integer, got {value!r}')
        if start_index is not None:
            warnings.warn('SampleFrames(start_index=...) is deprecated and ignored: the dataset '
                          'sets start_index', DeprecationWarning, stacklevel=2)
        self.clip_len = int(clip_len)
        self.frame_interval = int(frame_interval)
        self.num_clips = int(num_clips)
        self.temporal_jitter = temporal_jitter
        self.twice_sample = twice_sample
        self.out_of_bound_opt = out_of_bound_opt
        self.test_mode = test_mode
        self.keep_tail_frames = keep_tail_frames

    def _train_offsets(self, num_frames: int) -> np.ndarray:
        span = self.clip_len * self.frame_interval
        if self.keep_tail_frames:
            avg_interval = (num_frames - span + 1) / float(self.num_clips)
            if num_frames > span - 1:
                base = np.arange(self.num_clips) * avg_interval
                return (base + np.random.uniform(0, avg_interval, self.num_clips)).astype(np.int64)
            return np.zeros(self.num_clips, dtype=np.int64)
        avg_interval = (num_frames - span + 1) // self.num_clips
        if avg_interval > 0:
            base = np.arange(self.num_clips) * avg_interval
            return base + np.random.randint(avg_interval, size=self.num_clips)
        if num_frames > max(self.num_clips, span):
            return np.sort(np.random.randint(num_frames - span + 1, size=self.num_clips))
        if avg_interval == 0:
            ratio = (num_frames - span + 1.0) / self.num_clips
            return np.around(np.arange(self.num_clips) * ratio)
        return np.zeros(self.num_clips, dtype=np.int64)

    def _test_offsets(self, num_frames: int) -> np.ndarray:
        span = self.clip_len * self.frame_interval
        avg_interval = (num_frames - span + 1) / float(self.num_clips)
        if num_frames > span - 1:
            base = np.arange(self.num_clips) * avg_interval
            offsets = (base + avg_interval / 2.0).astype(np.int64)
            if self.twice_sample:
                offsets = np.concatenate([offsets, base])
            return offsets
        return np.zeros(self.num_clips, dtype=np.int64)

    def __call__(self, results: dict) -> dict:
        total_frames = int(results['total_frames'])
        if total_frames < 1:
            raise ValueError(f'SampleFrames: total_frames is {total_frames} for '
                             f'{results.get("filename", results.get("frame_dir", "this sample"))}')
        offsets = self._test_offsets(total_frames) if self.test_mode \
            else self._train_offsets(total_frames)
        frame_inds = offsets[:, None] + np.arange(self.clip_len)[None, :] * self.frame_interval
        if self.temporal_jitter:
            frame_inds = frame_inds + np.random.randint(self.frame_interval,
                                                        size=frame_inds.shape)
        if self.out_of_bound_opt == 'loop':
            frame_inds = np.mod(frame_inds, total_frames)
        else:
            inside = frame_inds < total_frames
            last = np.max(np.where(inside, frame_inds, 0), axis=1)
            frame_inds = np.where(inside, frame_inds, last[:, None])
        results['frame_inds'] = frame_inds.reshape(-1).astype(np.int64) + results['start_index']
        results['clip_len'] = self.clip_len
        results['frame_interval'] = self.frame_interval
        results['num_clips'] = self.num_clips
        return results
