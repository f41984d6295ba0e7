"""Frame-index samplers: which frames of a video make up the clips of one sample."""
from __future__ import annotations

import warnings

import numpy as np

from .base import TRANSFORMS, Transform, as_frames, pair


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


@TRANSFORMS.register_module()
class DenseSampleFrames(SampleFrames):
    """Dense sampling (as in Non-local / SlowFast training): the ``num_clips`` clips start
    ``sample_range // num_clips`` frames apart inside one window of ``sample_range`` frames.

    Training: the window starts at a random frame in [0, total - sample_range - 1) (0 for
    short videos). Test: ``num_sample_positions`` windows evenly spaced over the video, so
    ``num_sample_positions * num_clips`` clips (``num_clips`` in the results stays the
    per-window count, as in MMAction2). Offsets wrap around short videos.
    """

    def __init__(self, clip_len: int, frame_interval: int = 1, num_clips: int = 1,
                 temporal_jitter: bool = False, twice_sample: bool = False,
                 out_of_bound_opt: str = 'loop', test_mode: bool = False,
                 start_index: int | None = None, keep_tail_frames: bool = False, *,
                 sample_range: int = 64, num_sample_positions: int = 10):
        super().__init__(clip_len, frame_interval, num_clips, temporal_jitter, twice_sample,
                         out_of_bound_opt, test_mode, start_index, keep_tail_frames)
        self.sample_range = int(sample_range)
        self.num_sample_positions = int(num_sample_positions)

    def _window(self, num_frames: int) -> tuple[int, np.ndarray]:
        sample_position = max(1, 1 + num_frames - self.sample_range)
        base = np.arange(self.num_clips) * (self.sample_range // self.num_clips)
        return sample_position, base

    def _train_offsets(self, num_frames: int) -> np.ndarray:
        sample_position, base = self._window(num_frames)
        start = 0 if sample_position == 1 else np.random.randint(0, sample_position - 1)
        return (base + start) % num_frames

    def _test_offsets(self, num_frames: int) -> np.ndarray:
        sample_position, base = self._window(num_frames)
        starts = np.linspace(0, sample_position - 1, num=self.num_sample_positions, dtype=int)
        return ((starts[:, None] + base[None, :]) % num_frames).reshape(-1)


@TRANSFORMS.register_module()
class UntrimmedSampleFrames(Transform):
    """Clips over a whole untrimmed video (feature extraction): one clip of ``clip_len``
    frames centred every ``frame_interval`` frames (centres interval//2, interval//2 +
    interval, ...), indices clipped to the video. ``num_clips`` = number of centres."""

    def __init__(self, clip_len: int = 1, frame_interval: int = 16,
                 start_index: int | None = None):
        if start_index is not None:
            warnings.warn('UntrimmedSampleFrames(start_index=...) is deprecated and ignored: '
                          'the dataset sets start_index', DeprecationWarning, stacklevel=2)
        self.clip_len = int(clip_len)
        self.frame_interval = int(frame_interval)

    def __call__(self, results: dict) -> dict:
        total_frames = int(results['total_frames'])
        centres = np.arange(self.frame_interval // 2, total_frames, self.frame_interval)
        offsets = np.arange(-(self.clip_len // 2), self.clip_len - self.clip_len // 2)
        frame_inds = np.clip(centres[:, None] + offsets[None, :], 0, total_frames - 1)
        results['frame_inds'] = frame_inds.reshape(-1).astype(np.int64) + results['start_index']
        results['clip_len'] = self.clip_len
        results['frame_interval'] = self.frame_interval
        results['num_clips'] = len(centres)
        return results


@TRANSFORMS.register_module()
class SampleAVAFrames(SampleFrames):
    """One clip around an AVA key frame: ``clip_len`` frames ``frame_interval`` apart,
    centred on frame ``fps * (timestamp - timestamp_start) + 1``; in training each frame
    moves by a random offset in [-interval // 2, (interval + 1) // 2). Indices are clipped
    to ``shot_info`` [start, end). Reads ``fps``, ``timestamp``, ``timestamp_start``,
    ``shot_info``; sets ``crop_quadruple`` to the full frame."""

    def __init__(self, clip_len: int, frame_interval: int = 2, test_mode: bool = False):
        super().__init__(clip_len, frame_interval, test_mode=test_mode)

    def __call__(self, results: dict) -> dict:
        centre = results['fps'] * (results['timestamp'] - results['timestamp_start']) + 1
        shot_start, shot_end = results['shot_info']
        # drawn in test mode too, so the random stream matches MMAction2's
        skip_offsets = np.random.randint(-self.frame_interval // 2,
                                         (self.frame_interval + 1) // 2, size=self.clip_len)
        start = centre - (self.clip_len // 2) * self.frame_interval
        frame_inds = start + np.arange(self.clip_len) * self.frame_interval
        if not self.test_mode:
            frame_inds = frame_inds + skip_offsets
        frame_inds = np.clip(frame_inds, shot_start, shot_end - 1)
        results['frame_inds'] = frame_inds.astype(np.int64) + results.get('start_index', 0)
        results['clip_len'] = self.clip_len
        results['frame_interval'] = self.frame_interval
        results['num_clips'] = 1
        results['crop_quadruple'] = np.array([0, 0, 1, 1], dtype=np.float32)
        return results


def proposal_stages(start_frame: int, end_frame: int, num_frames: int, span: int,
                    aug_ratio: tuple[float, float]) -> tuple[int, int, tuple[int, int, int]]:
    """SSN's three stages of the proposal [start_frame, end_frame) of a video of
    ``num_frames`` frames, for clips spanning ``span`` frames: (``valid_starting``, the
    first frame of the starting stage; ``valid_ending``, the end of the ending stage;
    the (starting, course, ending) lengths in which clips can start). The starting and
    ending stages extend ``aug_ratio`` of the proposal length, clipped to the video.
    Shared by :class:`SampleProposalFrames` and ``SSNDataset``'s stage scale factors."""
    duration = end_frame - start_frame
    valid_starting = max(0, start_frame - int(duration * aug_ratio[0]))
    valid_ending = min(num_frames - span + 1, end_frame - 1 + int(duration * aug_ratio[1]))
    lengths = (start_frame - valid_starting - span, duration - span,
               valid_ending - end_frame + 1 - span)
    return valid_starting, valid_ending, lengths


def proposal_test_offsets(total_frames: int, span: int, test_interval: int) -> np.ndarray:
    """SSN test mode: the start frames of the clips every ``test_interval`` frames of the
    whole video (``SampleProposalFrames(mode='test')``; ``SSNDataset`` maps proposals to
    these ticks)."""
    return np.arange(0, total_frames - span, test_interval)


@TRANSFORMS.register_module()
class SampleProposalFrames(SampleFrames):
    """SSN's proposal sampling. For each proposal of ``out_proposals`` ((video_id,
    instance), type) with ``instance.start_frame``/``end_frame``: ``aug_segments[0]``
    clips in the starting stage (``aug_ratio[0]`` of the proposal length before it),
    ``body_segments`` clips inside it and ``aug_segments[1]`` in the ending stage; one
    random clip per segment in 'train', the segment middles in 'val'. 'test' samples the
    whole video every ``test_interval`` frames. Sets ``num_clips`` = the segments per
    proposal and, except in test mode, ``num_proposals``.
    """

    def __init__(self, clip_len: int, body_segments: int, aug_segments, aug_ratio,
                 frame_interval: int = 1, test_interval: int = 6,
                 temporal_jitter: bool = False, mode: str = 'train'):
        super().__init__(clip_len, frame_interval=frame_interval,
                         temporal_jitter=temporal_jitter)
        if mode not in ('train', 'val', 'test'):
            raise ValueError(f"SampleProposalFrames: mode must be 'train', 'val' or 'test', "
                             f'got {mode!r}')
        self.body_segments = int(body_segments)
        self.aug_segments = tuple(int(a) for a in aug_segments)
        self.aug_ratio = tuple(float(r) for r in pair(aug_ratio, 'SampleProposalFrames: aug_ratio'))
        if len(self.aug_segments) != 2:
            raise ValueError(f'SampleProposalFrames: aug_segments needs two values '
                             f'(start, end), got {aug_segments!r}')
        self.test_interval = int(test_interval)
        self.mode = mode

    @staticmethod
    def _train_indices(valid_length: int, num_segments: int) -> np.ndarray:
        avg_interval = (valid_length + 1) // num_segments
        if avg_interval > 0:
            return (np.arange(num_segments) * avg_interval
                    + np.random.randint(avg_interval, size=num_segments))
        return np.zeros(num_segments, dtype=np.int64)

    @staticmethod
    def _val_indices(valid_length: int, num_segments: int) -> np.ndarray:
        if valid_length >= num_segments:
            avg_interval = valid_length / float(num_segments)
            return (np.arange(num_segments) * avg_interval + avg_interval / 2.0).astype(np.int64)
        return np.zeros(num_segments, dtype=np.int64)

    def _proposal_offsets(self, proposal, num_frames: int) -> np.ndarray:
        start_frame, end_frame = proposal.start_frame, proposal.end_frame  # [start, end)
        if end_frame <= start_frame:
            raise ValueError(f'SampleProposalFrames: empty proposal [{start_frame}, {end_frame})')
        valid_starting, _, lengths = proposal_stages(
            start_frame, end_frame, num_frames, self.clip_len * self.frame_interval,
            self.aug_ratio)
        segments = (self.aug_segments[0], self.body_segments, self.aug_segments[1])
        pick = self._train_indices if self.mode == 'train' else self._val_indices
        stages = [pick(length, num) for length, num in zip(lengths, segments)]
        return np.concatenate([stages[0] + valid_starting, stages[1] + start_frame,
                               stages[2] + end_frame])

    def __call__(self, results: dict) -> dict:
        total_frames = int(results['total_frames'])
        if self.mode == 'test':
            offsets = proposal_test_offsets(total_frames, self.clip_len * self.frame_interval,
                                            self.test_interval)
        else:
            offsets = np.concatenate([self._proposal_offsets(proposal[0][1], total_frames)
                                      for proposal in results['out_proposals']])
        frame_inds = (offsets[:, None] + np.arange(self.clip_len)[None, :]
                      * self.frame_interval).reshape(-1)
        if self.temporal_jitter:
            frame_inds = frame_inds + np.random.randint(self.frame_interval, size=len(frame_inds))
        frame_inds = np.mod(frame_inds, total_frames) + results['start_index']
        results['frame_inds'] = frame_inds.astype(np.int64)
        results['clip_len'] = self.clip_len
        results['frame_interval'] = self.frame_interval
        results['num_clips'] = self.body_segments + sum(self.aug_segments)
        if self.mode != 'test':
            results['num_proposals'] = len(results['out_proposals'])
        return results


@TRANSFORMS.register_module()
class UniformSampleFrames(Transform):
    """PoseC3D's sampler: split the video into ``clip_len`` equal parts and take one random
    frame from each (videos shorter than 2 * clip_len: a random subset of +1 steps, or a
    looped run for videos shorter than clip_len). Training draws one clip from the global
    NumPy generator; test mode draws ``num_clips`` clips from a generator seeded with
    ``seed``, so test samples are the same in every run (MMAction2 reseeds the global
    generator instead; the indices are identical). Sets ``frame_interval`` to None.
    """

    def __init__(self, clip_len: int, num_clips: int = 1, test_mode: bool = False,
                 seed: int = 255):
        self.clip_len = int(clip_len)
        self.num_clips = int(num_clips)
        self.test_mode = test_mode
        self.seed = seed
        if not test_mode and self.num_clips != 1:
            raise ValueError(f'UniformSampleFrames: training samples one clip, got '
                             f'num_clips={num_clips}')

    def _one_clip(self, num_frames: int, rng) -> np.ndarray:
        clip_len = self.clip_len
        if num_frames < 2 * clip_len:
            steps = np.zeros(clip_len + 1, dtype=np.int64)
            steps[rng.choice(clip_len + 1, num_frames - clip_len, replace=False)] = 1
            return np.arange(clip_len) + np.cumsum(steps)[:-1]
        bounds = np.array([i * num_frames // clip_len for i in range(clip_len + 1)])
        return bounds[:clip_len] + rng.randint(np.diff(bounds))

    def _clips(self, num_frames: int, rng) -> np.ndarray:
        if num_frames < self.clip_len:
            if self.test_mode:
                starts = (range(self.num_clips) if num_frames < self.num_clips else
                          [i * num_frames // self.num_clips for i in range(self.num_clips)])
            else:
                starts = [rng.randint(0, num_frames)]
            return np.concatenate([np.arange(s, s + self.clip_len) for s in starts])
        return np.concatenate([self._one_clip(num_frames, rng) for _ in range(self.num_clips)])

    def __call__(self, results: dict) -> dict:
        num_frames = int(results['total_frames'])
        rng = np.random.RandomState(self.seed) if self.test_mode else np.random
        inds = np.mod(self._clips(num_frames, rng), num_frames) + results['start_index']
        results['frame_inds'] = inds.astype(np.int64)
        results['clip_len'] = self.clip_len
        results['frame_interval'] = None
        results['num_clips'] = self.num_clips
        return results


@TRANSFORMS.register_module()
class PaddingWithLoop(Transform):
    """Frames 0 .. clip_len - 1, looped over short sequences (skeleton GCN pipelines).
    ``start_index`` is not added, as in MMAction2 (pose data is indexed from 0)."""

    def __init__(self, clip_len: int, num_clips: int = 1):
        self.clip_len = int(clip_len)
        self.num_clips = int(num_clips)

    def __call__(self, results: dict) -> dict:
        results['frame_inds'] = np.arange(self.clip_len, dtype=np.int64) % int(results['total_frames'])
        results['clip_len'] = self.clip_len
        results['frame_interval'] = None
        results['num_clips'] = self.num_clips
        return results


@TRANSFORMS.register_module()
class BuildPseudoClip(Transform):
    """Repeat the single decoded image ``clip_len`` times into a one-clip video
    (ImageDataset / OmniSource)."""

    def __init__(self, clip_len: int):
        self.clip_len = int(clip_len)

    def __call__(self, results: dict) -> dict:
        imgs = as_frames(results['imgs'])
        if len(imgs) != 1:
            raise ValueError(f'BuildPseudoClip needs exactly one image, got {len(imgs)}')
        results['imgs'] = np.repeat(imgs, self.clip_len, axis=0)
        results['clip_len'] = self.clip_len
        results['num_clips'] = 1
        return results
