"""Frame-index samplers: indices for known totals and seeds, MMAction2's arithmetic."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from actionlab.data.transforms import (
    TRANSFORMS,
    BuildPseudoClip,
    DenseSampleFrames,
    PaddingWithLoop,
    SampleAVAFrames,
    SampleFrames,
    SampleProposalFrames,
    UniformSampleFrames,
    UntrimmedSampleFrames,
)


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


def test_dense_sample_frames_train_window_and_test_positions():
    np.random.seed(0)
    out = DenseSampleFrames(clip_len=2, num_clips=2, sample_range=32)(
        dict(total_frames=100, start_index=1))
    np.random.seed(0)
    start = np.random.randint(0, 68)  # window starts in [0, 1 + 100 - 32 - 1)
    expected = np.array([start, start + 1, start + 16, start + 17]) + 1  # clips 32 // 2 apart
    assert np.array_equal(out['frame_inds'], expected)
    out = DenseSampleFrames(clip_len=1, num_clips=2, sample_range=32, num_sample_positions=3,
                            test_mode=True)(dict(total_frames=100, start_index=0))
    # windows at linspace(0, 68, 3) = 0, 34, 68; two clips 16 apart in each
    assert out['frame_inds'].tolist() == [0, 16, 34, 50, 68, 84]
    assert out['num_clips'] == 2  # per window, as in MMAction2
    out = DenseSampleFrames(clip_len=1, num_clips=2)(dict(total_frames=10, start_index=0))
    assert out['frame_inds'].tolist() == [0, 2]  # short video: window at 0, offsets wrap
    assert 'sample_range=64, num_sample_positions=10' in repr(DenseSampleFrames(clip_len=1))


def test_untrimmed_sample_frames_centres_and_clipping():
    out = UntrimmedSampleFrames(clip_len=3, frame_interval=16)(dict(total_frames=40, start_index=1))
    assert out['frame_inds'].tolist() == [8, 9, 10, 24, 25, 26]  # centres 8, 24 (+1)
    assert (out['num_clips'], out['clip_len'], out['frame_interval']) == (2, 3, 16)
    out = UntrimmedSampleFrames(clip_len=5)(dict(total_frames=10, start_index=0))
    assert out['frame_inds'].tolist() == [6, 7, 8, 9, 9]
    with pytest.warns(DeprecationWarning):
        UntrimmedSampleFrames(start_index=0)


def test_sample_ava_frames_around_the_key_frame():
    info = dict(fps=30, timestamp=905, timestamp_start=900, shot_info=(0, 27000))
    out = SampleAVAFrames(clip_len=4, frame_interval=2, test_mode=True)(dict(info))
    assert out['frame_inds'].tolist() == [147, 149, 151, 153]  # centre 30 * 5 + 1 = 151
    assert out['num_clips'] == 1 and out['crop_quadruple'].tolist() == [0, 0, 1, 1]
    out = SampleAVAFrames(clip_len=4, frame_interval=2, test_mode=True)(
        dict(info, shot_info=(0, 152), start_index=1))
    assert out['frame_inds'].tolist() == [148, 150, 152, 152]  # clipped to the shot, + 1
    np.random.seed(5)
    out = SampleAVAFrames(clip_len=4, frame_interval=2)(dict(info))
    np.random.seed(5)
    skips = np.random.randint(-1, 1, size=4)
    assert np.array_equal(out['frame_inds'], np.array([147, 149, 151, 153]) + skips)


def test_sample_proposal_frames_stages():
    proposal = (('vid', SimpleNamespace(start_frame=40, end_frame=60)), 0)
    info = dict(total_frames=100, start_index=1, out_proposals=[proposal])
    kwargs = dict(clip_len=1, body_segments=5, aug_segments=(2, 2), aug_ratio=(0.5, 0.5))
    out = SampleProposalFrames(mode='val', **kwargs)(dict(info))
    # starting stage [30, 40): 9 valid starts -> middles 2, 6; body 19 -> 1, 5, 9, 13, 17;
    # ending stage 9 -> 2, 6 (then + start_index)
    expected = [32, 36, 41, 45, 49, 53, 57, 62, 66]
    assert out['frame_inds'].tolist() == [i + 1 for i in expected]
    assert (out['num_clips'], out['num_proposals']) == (9, 1)
    np.random.seed(2)
    out = SampleProposalFrames(**kwargs)(dict(info))
    np.random.seed(2)
    starting = np.arange(2) * 5 + np.random.randint(5, size=2) + 30
    body = np.arange(5) * 4 + np.random.randint(4, size=5) + 40
    ending = np.arange(2) * 5 + np.random.randint(5, size=2) + 60
    assert np.array_equal(out['frame_inds'], np.concatenate([starting, body, ending]) + 1)
    out = SampleProposalFrames(mode='test', test_interval=6, **kwargs)(dict(info))
    assert out['frame_inds'].tolist() == list(range(1, 100, 6)) and 'num_proposals' not in out
    with pytest.raises(ValueError, match="mode must be 'train', 'val' or 'test'"):
        SampleProposalFrames(mode='eval', **kwargs)


def test_uniform_sample_frames_train_segments():
    np.random.seed(1)
    out = UniformSampleFrames(clip_len=5)(dict(total_frames=100, start_index=0))
    np.random.seed(1)
    assert np.array_equal(out['frame_inds'], np.arange(5) * 20 + np.random.randint([20] * 5))
    assert out['frame_interval'] is None and out['num_clips'] == 1
    np.random.seed(2)
    inds = UniformSampleFrames(clip_len=5)(dict(total_frames=7, start_index=0))['frame_inds']
    steps = np.diff(inds)
    assert inds[0] in (0, 1, 2) and inds[-1] <= 6 and set(steps) <= {1, 2, 3}
    assert (inds - np.arange(5)).max() <= 2  # two extra steps spread over the clip
    np.random.seed(3)
    inds = UniformSampleFrames(clip_len=5)(dict(total_frames=3, start_index=1))['frame_inds']
    start = inds[0] - 1
    assert inds.tolist() == [(start + i) % 3 + 1 for i in range(5)]  # a looped run


def test_uniform_sample_frames_test_mode_is_seeded_and_leaves_global_rng_alone():
    sampler = UniformSampleFrames(clip_len=4, num_clips=2, test_mode=True, seed=7)
    state = np.random.get_state()[1].copy()
    first = sampler(dict(total_frames=40, start_index=0))['frame_inds']
    assert np.array_equal(np.random.get_state()[1], state)
    assert np.array_equal(first, sampler(dict(total_frames=40, start_index=0))['frame_inds'])
    rng = np.random.RandomState(7)
    bounds = np.arange(4) * 10
    expected = np.concatenate([bounds + rng.randint([10] * 4), bounds + rng.randint([10] * 4)])
    assert np.array_equal(first, expected)
    out = UniformSampleFrames(clip_len=5, num_clips=3, test_mode=True)(
        dict(total_frames=4, start_index=0))
    # short video: runs starting at 0, 1, 2 (i * 4 // 3), looped
    assert out['frame_inds'].tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2]
    with pytest.raises(ValueError, match='training samples one clip'):
        UniformSampleFrames(clip_len=4, num_clips=2)


def test_padding_with_loop_and_build_pseudo_clip():
    out = PaddingWithLoop(clip_len=7)(dict(total_frames=3, start_index=1))
    assert out['frame_inds'].tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert out['frame_interval'] is None and out['num_clips'] == 1
    img = np.arange(48, dtype=np.uint8).reshape(1, 4, 4, 3)
    out = BuildPseudoClip(clip_len=5)(dict(imgs=[img[0]]))
    assert out['imgs'].shape == (5, 4, 4, 3) and (out['imgs'] == img).all()
    assert (out['clip_len'], out['num_clips']) == (5, 1)
    with pytest.raises(ValueError, match='exactly one image'):
        BuildPseudoClip(clip_len=2)(dict(imgs=np.zeros((2, 4, 4, 3), np.uint8)))


def test_samplers_build_from_configs_and_show_their_arguments():
    sampler = TRANSFORMS.build(dict(type='SampleProposalFrames', clip_len=1, body_segments=5,
                                    aug_segments=[2, 2], aug_ratio=0.5))
    assert sampler.aug_segments == (2, 2) and sampler.aug_ratio == (0.5, 0.5)
    assert repr(sampler).startswith('SampleProposalFrames(clip_len=1')
    assert 'body_segments=5' in repr(sampler) and "mode='train'" in repr(sampler)
    assert repr(UniformSampleFrames(4)) == \
        'UniformSampleFrames(clip_len=4, num_clips=1, test_mode=False, seed=255)'
    assert repr(PaddingWithLoop(3)) == 'PaddingWithLoop(clip_len=3, num_clips=1)'


def test_proposal_stage_helpers_shared_with_ssn_dataset():
    from actionlab.data.transforms.sampling import proposal_stages, proposal_test_offsets

    # [40, 60) of 100 frames, clips of 2 frames: starting stage 30 .. 40, ending 59 .. 69
    assert proposal_stages(40, 60, 100, 2, (0.5, 0.5)) == (30, 69, (8, 18, 8))
    # clipped at both ends of a 62-frame video: starting from 0, ending at 62 - 2 + 1
    assert proposal_stages(5, 55, 62, 2, (0.5, 0.5)) == (0, 61, (3, 48, 5))
    assert proposal_test_offsets(100, 2, 6).tolist() == list(range(0, 98, 6))
    with pytest.raises(ValueError, match='aug_ratio must be a number or two numbers'):
        SampleProposalFrames(clip_len=1, body_segments=5, aug_segments=(2, 2),
                             aug_ratio=(0.5, 0.5, 0.5))
