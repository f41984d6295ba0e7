"""The synthetic dataset: files, labels, and that each class moves the way its name says."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from actionlab.data.datasets import VideoDataset
from actionlab.data.io import open_video
from actionlab.data.synthetic import CLASSES, make_synthetic_dataset, render_clip


@pytest.fixture(scope='module')
def dataset_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp('synthetic')
    info = make_synthetic_dataset(out, num_train_per_class=2, num_val_per_class=1, seed=3,
                                  progress=False)
    return out, info


def test_layout_and_labels(dataset_dir):
    out, info = dataset_dir
    assert (out / 'classes.txt').read_text().split() == list(CLASSES)
    assert (info['num_train'], info['num_val']) == (12, 6)
    train = VideoDataset(out / 'train.txt', [], data_prefix=out / 'videos')
    assert [i['label'] for i in train.video_infos] == [k % 6 for k in range(12)]
    assert train.video_infos[7]['filename'].endswith('videos/train/000007.mp4')
    assert (out / 'val.txt').read_text().splitlines()[0] == 'val/000000.mp4 0'
    with open_video(out / 'videos' / 'val' / '000004.mp4') as reader:
        assert (reader.num_frames, reader.fps) == (32, 16)
        assert reader.get_frames([0]).shape == (1, 96, 96, 3)


def test_same_seed_same_clips(dataset_dir, tmp_path):
    out, _ = dataset_dir
    again = make_synthetic_dataset(tmp_path, num_train_per_class=1, num_val_per_class=0,
                                   seed=3, progress=False)
    assert again['num_train'] == 6
    for k in range(6):
        with open_video(out / 'videos/train' / f'{k:06d}.mp4') as a, \
                open_video(tmp_path / 'videos/train' / f'{k:06d}.mp4') as b:
            assert np.array_equal(a.get_frames([0, 31]), b.get_frames([0, 31]))


def _flow_statistics(frames):
    """Mean horizontal flow, rotation (curl) and expansion (divergence) of moving pixels,
    from Farneback optical flow between frames 2 apart (y points down, so a clockwise
    turn on screen has positive curl)."""
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    stats = []
    for t in range(0, len(gray) - 2, 2):
        flow = cv2.calcOpticalFlowFarneback(gray[t], gray[t + 2], None, 0.5, 3, 9, 3, 5, 1.1, 0)
        u, v = flow[..., 0], flow[..., 1]
        moving = np.hypot(u, v) > 0.3
        ys, xs = np.nonzero(moving)
        if len(xs) < 20:
            continue
        cx, cy = xs.mean(), ys.mean()
        u, v = u[moving], v[moving]
        stats.append((u.mean(), ((xs - cx) * v - (ys - cy) * u).mean(),
                      ((xs - cx) * u + (ys - cy) * v).mean()))
    return np.mean(stats, axis=0)


def test_decoded_clips_move_in_the_direction_of_their_class(dataset_dir):
    out, _ = dataset_dir
    for k in range(12):
        label = k % 6
        with open_video(out / 'videos/train' / f'{k:06d}.mp4') as reader:
            frames = reader.get_frames(np.arange(32))
        dx, curl, div = _flow_statistics(frames)
        name = CLASSES[label]
        if name == 'move_left':
            assert dx < -0.3, (k, dx)
        elif name == 'move_right':
            assert dx > 0.3, (k, dx)
        elif name == 'rotate_clockwise':
            assert curl > 5, (k, curl)
        elif name == 'rotate_counterclockwise':
            assert curl < -5, (k, curl)
        elif name == 'grow':
            assert div > 5, (k, div)
        else:
            assert div < -5, (k, div)


@pytest.mark.parametrize('label', range(6))
def test_rendered_masks_follow_the_motion(label):
    frames, masks = render_clip(label, np.random.default_rng(label), size=96, num_frames=32)
    assert frames.shape == (32, 96, 96, 3) and masks.shape == (32, 96, 96)
    area = masks.sum(axis=(1, 2))
    xs = np.array([np.nonzero(m)[1].mean() for m in masks])
    # the shape stays large: its extent is at least a quarter of the frame
    extent = [np.ptp(np.nonzero(m)[1]) + 1 for m in masks]
    assert min(extent) >= 96 // 4
    name = CLASSES[label]
    if name.startswith('move'):
        step = np.diff(xs[::4])
        assert (step < -3).all() if name == 'move_left' else (step > 3).all()
        assert np.ptp(area) < 0.1 * area.mean()
    elif name.startswith('rotate'):
        assert np.ptp(xs) < 10 and (masks[0] != masks[8]).sum() > 50  # turns in place
    else:
        ratio = area[-1] / area[0]
        assert ratio > 3 if name == 'grow' else ratio < 1 / 3


def test_pairs_have_the_same_single_frame_distribution():
    """A clip of one class of a pair, reversed, is a clip of the other class (same draws)."""
    for a, b in ((0, 1), (2, 3), (4, 5)):
        frames_a, _ = render_clip(a, np.random.default_rng(9))
        frames_b, _ = render_clip(b, np.random.default_rng(9))
        assert np.array_equal(frames_a[::-1], frames_b)
