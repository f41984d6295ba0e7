"""Shared test fixtures: small synthetic media written once per test session.

``synthetic_video`` -> SimpleNamespace with
    path        Path of an mp4 (H.264 when available, else MPEG-4), 64 x 48 px, 16 fps
    num_frames  24
    height, width, fps
    frames      the (24, 48, 64, 3) uint8 RGB frames that were encoded
    frame_id(img) -> int: which frame a decoded (H, W, 3) image is (the frames are told
                apart by their brightness, which survives lossy compression)

``rawframe_dir`` -> SimpleNamespace with
    path        a folder with RGB frames img_00001.jpg ... img_00012.jpg (64 x 48) and
                optical-flow frames flow_x_00001.jpg / flow_y_00001.jpg ... (grayscale)
    num_frames  12
    filename_tmpl 'img_{:05}.jpg';  flow_tmpl 'flow_{}_{:05d}.jpg';  start_index 1
    frames      (12, 48, 64, 3) uint8 RGB as decoded from the JPEGs (exact reference)
    flow_x, flow_y  (12, 48, 64) uint8 as decoded from the JPEGs

``frame_maker`` -> the function ``make_frames(num_frames, height, width, seed=0)`` that makes
    such frames, and ``frame_id`` -> the function telling which of them an image shows.

The media fixtures are session-scoped and shared: tests must not modify the files.
"""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the repository is used in place, not installed
    sys.path.insert(0, str(ROOT))

@pytest.fixture(autouse=True)
def single_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core machine the
    threads' contention makes them many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


_BASE, _STEP = 20, 9  # frame i has brightness about _BASE + _STEP * i


def _make_frames(num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """(num_frames, height, width, 3) uint8 RGB frames: a brightness ramp over time (frame
    i has mean level ~ 20 + 9 i), a per-channel tint, mild texture and a bright square
    that moves right by 2 px per frame."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(-6, 7, size=(height, width, 1))
    tint = np.array([0, 6, 12])
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for i in range(num_frames):
        img = _BASE + _STEP * i + tint + texture
        x = (2 * i) % (width - 8)
        img[4:12, x:x + 8] = 255
        frames[i] = np.clip(img, 0, 255)
    return frames


def _frame_id(img: np.ndarray) -> int:
    """The index of the ``_make_frames`` frame that ``img`` shows (decoded, maybe lossy)."""
    level = np.median(img[16:, :, 0])  # below the moving square, red has no tint
    return int(round((level - _BASE) / _STEP))


@pytest.fixture(scope='session')
def synthetic_video(tmp_path_factory) -> SimpleNamespace:
    from actionlab.visualization.writer import write_video

    num_frames, height, width, fps = 24, 48, 64, 16
    frames = _make_frames(num_frames, height, width)
    path = write_video(tmp_path_factory.mktemp('video') / 'clip.mp4', frames, fps=fps)
    return SimpleNamespace(path=path, num_frames=num_frames, height=height, width=width,
                           fps=fps, frames=frames, frame_id=_frame_id)


@pytest.fixture(scope='session')
def rawframe_dir(tmp_path_factory) -> SimpleNamespace:
    num_frames, height, width = 12, 48, 64
    folder = tmp_path_factory.mktemp('rawframes') / 'clip'
    folder.mkdir()
    frames = _make_frames(num_frames, height, width, seed=1)
    rng = np.random.default_rng(2)
    decoded, flow_x, flow_y = [], [], []
    for i, frame in enumerate(frames, start=1):
        path = folder / f'img_{i:05}.jpg'
        cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        decoded.append(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
        for axis, store in (('x', flow_x), ('y', flow_y)):
            flow = rng.integers(0, 256, size=(height, width), dtype=np.uint8)
            flow_path = folder / f'flow_{axis}_{i:05d}.jpg'
            cv2.imwrite(str(flow_path), flow)
            store.append(cv2.imread(str(flow_path), cv2.IMREAD_GRAYSCALE))
    return SimpleNamespace(path=folder, num_frames=num_frames, filename_tmpl='img_{:05}.jpg',
                           flow_tmpl='flow_{}_{:05d}.jpg', start_index=1,
                           frames=np.stack(decoded), flow_x=np.stack(flow_x),
                           flow_y=np.stack(flow_y))


@pytest.fixture(scope='session')
def frame_maker():
    return _make_frames


@pytest.fixture(scope='session')
def frame_id():
    return _frame_id
