"""SampleFrames: indices for known totals and seeds, MMAction2's arithmetic."""
from __future__ import annotations

import numpy as np
import pytest

from actionlab.data.transforms import SampleFrames


def sample(total, start_index=0, **kwargs):
    return SampleFrames(**kwargs)(dict(total_frames=total, start_index=start_index))


def test_train_mode_one_random_offset_per_segment():
    np.random.seed(3)
    out = sample(32, clip_len=1, num_clips=8)
    np.random.seed(3)
    expected = np.arange(8) * 4 + np.random.randint(4, size=8)  # segments of 4 frames
    assert np.array_equal(out['frame_inds'], expected)
    segment = out['frame_inds'] // 4
    assert segment.tolist() == list(range(8))
    assert (out['clip_len'], out['frame_interval'], out['num_clips']) == (1, 1, 8)
    assert out['frame_inds'].dtype == np.int64


def test_train_mode_clips_with_interval_and_start_index():
    np.random.seed(0)
    out = sample(100, start_index=1, clip_len=4, frame_interval=2, num_clips=2)
    np.random.seed(0)
    starts = np.arange(2) * 46 + np.random.randint(46, size=2)  # (100 - 8 + 1) // 2 = 46
    expected = (starts[:, None] + np.arange(4) * 2).reshape(-1) + 1
    assert np.array_equal(out['frame_inds'], expected)


def test_test_mode_centres_and_twice_sample():
    out = sample(32, clip_len=1, num_clips=8, test_mode=True)
    assert out['frame_inds'].tolist() == [2, 6, 10, 14, 18, 22, 26, 30]
    out = sample(32, clip_len=1, num_clips=8, test_mode=True, twice_sample=True)
    assert out['frame_inds'].tolist() == [2, 6, 10, 14, 18, 22, 26, 30,
                                          0, 4, 8, 12, 16, 20, 24, 28]
    assert out['num_clips'] == 8  # as in MMAction2: the doubled clips count as extra views
    out = sample(30, clip_len=2, frame_interval=3, num_clips=2, test_mode=True, start_index=1)
    # avg interval (30 - 6 + 1) / 2 = 12.5 -> starts int(6.25) = 6 and int(18.75) = 18
    assert out['frame_inds'].tolist() == [7, 10, 19, 22]


def test_short_video_loops_or_repeats_the_last_frame():
    assert sample(5, clip_len=4, frame_interval=2).get('frame_inds').tolist() == [0, 2, 4, 1]
    out = sample(5, clip_len=4, frame_interval=2, out_of_bound_opt='repeat_last')
    assert out['frame_inds'].tolist() == [0, 2, 4, 4]
    out = sample(3, clip_len=4, test_mode=True)
    assert out['frame_inds'].tolist() == [0, 1, 2, 0]
    out = sample(3, clip_len=4, test_mode=True, out_of_bound_opt='repeat_last')
    assert out['frame_inds'].tolist() == [0, 1, 2, 2]
    out = sample(1, clip_len=3, num_clips=2, out_of_bound_opt='repeat_last')
    assert out['frame_inds'].tolist() == [0, 0, 0, 0, 0, 0]


def test_train_mode_branches_for_videos_barely_longer_than_a_clip():
    # (8 - 8 + 1) // 2 == 0 and 8 frames are not more than the clip: evenly rounded starts
    out = sample(8, clip_len=8, num_clips=2)
    assert out['frame_inds'].tolist() == list(range(8)) * 2  # np.around([0, 0.5]) == [0, 0]
    # (9 - 8 + 1) // 3 == 0 but 9 > max(3, 8): sorted random starts in [0, 2)
    np.random.seed(7)
    out = sample(9, clip_len=8, num_clips=3)
    np.random.seed(7)
    starts = np.sort(np.random.randint(2, size=3))
    assert np.array_equal(out['frame_inds'], (starts[:, None] + np.arange(8)).reshape(-1))


def test_keep_tail_frames_uses_float_segments():
    np.random.seed(11)
    out = sample(10, clip_len=1, num_clips=4, keep_tail_frames=True)
    np.random.seed(11)
    expected = (np.arange(4) * 2.5 + np.random.uniform(0, 2.5, 4)).astype(int)
    assert np.array_equal(out['frame_inds'], expected)
    assert sample(2, clip_len=4, keep_tail_frames=True)['frame_inds'].tolist() == [0, 1, 0, 1]


def test_temporal_jitter_adds_per_frame_offsets():
    np.random.seed(5)
    out = sample(64, clip_len=3, frame_interval=4, temporal_jitter=True)
    np.random.seed(5)
    start = np.random.randint(64 - 12 + 1)
    jitter = np.random.randint(4, size=3)
    assert np.array_equal(out['frame_inds'], start + np.arange(3) * 4 + jitter)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="out_of_bound_opt must be 'loop' or 'repeat_last'"):
        SampleFrames(clip_len=1, out_of_bound_opt='wrap')
    with pytest.raises(ValueError, match='clip_len must be a positive integer'):
        SampleFrames(clip_len=0)
    with pytest.warns(DeprecationWarning, match='start_index'):
        SampleFrames(clip_len=1, start_index=1)
    with pytest.raises(ValueError, match='total_frames is 0 for a.mp4'):
        SampleFrames(clip_len=1)(dict(total_frames=0, start_index=0, filename='a.mp4'))
    assert repr(SampleFrames(clip_len=2, num_clips=3)).startswith(
        'SampleFrames(clip_len=2, frame_interval=1, num_clips=3, temporal_jitter=False')
