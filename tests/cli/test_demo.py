"""``actionlab demo ...`` on a synthetic clip with a random-weight TSM: outputs exist with the
right frame count and size, and the predictions follow the window rules."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from actionlab.cli import main
from actionlab.config import Config
from actionlab.data.io import open_video
from actionlab.engine.checkpoint import save_checkpoint
from actionlab.models import build_model

ROOT = Path(__file__).resolve().parents[2]
# 8 segments of 64 x 64: one prediction takes 8 frames
CONFIG = str(ROOT / 'configs/recognition/tsm/tsm_r18w16_1x1x8_20e_synthetic_rgb.py')
CLASSES = ['move_left', 'move_right', 'rotate_clockwise', 'rotate_counterclockwise', 'grow', 'shrink']


@pytest.fixture(scope='module')
def model_files(tmp_path_factory):
    """(checkpoint, label map) of a random-weight TSM."""
    root = tmp_path_factory.mktemp('demo')
    torch.manual_seed(0)
    checkpoint = save_checkpoint(build_model(Config.fromfile(CONFIG).model), root / 'tsm.pth')
    label_map = root / 'classes.txt'
    label_map.write_text('\n'.join(CLASSES) + '\n')
    return str(checkpoint), str(label_map)


def _read(path: Path) -> np.ndarray:
    with open_video(path) as reader:
        return reader.get_frames(np.arange(reader.num_frames))


def test_video_demo_draws_the_top_label(model_files, synthetic_video, tmp_path, capsys):
    checkpoint, label_map = model_files
    out = tmp_path / 'out.mp4'
    assert main(['demo', 'video', CONFIG, checkpoint, str(synthetic_video.path), label_map, '--device', 'cpu',
                 '--out-filename', str(out), '--target-resolution', '128', '-1', '--font-color', 'red',
                 '--font-scale', '0.6']) == 0
    printed = capsys.readouterr().out.splitlines()
    top = printed[printed.index('The top-5 labels with corresponding scores are:') + 1:][:5]
    assert len(top) == 5 and all(line.split(':')[0] in CLASSES for line in top)
    scores = [float(line.split(':')[1]) for line in top]
    assert scores == sorted(scores, reverse=True)
    frames = _read(out)
    assert frames.shape == (24, 96, 128, 3)  # all frames, 64 x 48 resized to width 128
    red = (frames[..., 0] > 180) & (frames[..., 1] < 90) & (frames[..., 2] < 90)
    assert red[:, :30].sum(axis=(1, 2)).min() > 20 and red[:, 60:].sum() == 0  # the label, top left


def test_video_demo_frame_folder_to_gif(model_files, rawframe_dir, tmp_path, capsys):
    image = pytest.importorskip('PIL.Image', reason='GIF output needs Pillow (the plot extra)')
    checkpoint, label_map = model_files
    out = tmp_path / 'out.gif'
    assert main(['demo', 'video', CONFIG, checkpoint, str(rawframe_dir.path), label_map, '--use-frames',
                 '--out-filename', str(out), '--fps', '4']) == 0
    gif = image.open(out)
    assert (gif.n_frames, gif.size, gif.info['duration']) == (12, (64, 48), 250)
    assert main(['demo', 'video', CONFIG, checkpoint, str(rawframe_dir.path), label_map]) == 1
    assert 'is a folder of frames: add --use-frames' in capsys.readouterr().err


def test_long_video_demo_windows(model_files, synthetic_video, tmp_path):
    checkpoint, label_map = model_files
    out, out_json = tmp_path / 'long.mp4', tmp_path / 'long.json'
    assert main(['demo', 'long-video', CONFIG, checkpoint, str(synthetic_video.path), label_map, str(out),
                 '--out-json', str(out_json), '--stride', '0.5', '--threshold', '0']) == 0
    assert _read(out).shape == (24, 48, 64, 3)
    result = json.loads(out_json.read_text())
    assert result['sample_length'] == 8 and result['input_step'] == 1
    # 8-frame windows, a new one every 0.5 x 8 = 4 frames
    windows = result['windows']
    assert [(w['start'], w['end'], w['frame']) for w in windows] == \
        [(0, 7, 7), (4, 11, 11), (8, 15, 15), (12, 19, 19), (16, 23, 23)]
    for window in windows:
        assert len(window['labels']) == 5 and {name for name, _ in window['labels']} <= set(CLASSES)
    # every 3rd frame, a JSON only, threshold 1.0 keeps no label
    assert main(['demo', 'long-video', CONFIG, checkpoint, str(synthetic_video.path), label_map,
                 str(out_json), '--input-step', '3', '--threshold', '1.0']) == 0
    windows = json.loads(out_json.read_text())['windows']
    assert [(w['start'], w['end'], w['labels']) for w in windows] == [(0, 21, [])]


def test_webcam_demo_on_a_video_file(model_files, synthetic_video, tmp_path, capsys):
    checkpoint, label_map = model_files
    out = tmp_path / 'stream.mp4'
    assert main(['demo', 'webcam', CONFIG, checkpoint, label_map, '--camera-id', str(synthetic_video.path),
                 '--out-filename', str(out), '--average-size', '2', '--inference-fps', '4']) == 0
    assert _read(out).shape == (24, 48, 64, 3)
    # 16 fps at 4 predictions per second: every 4th frame once 8 are buffered (7, 11, ...);
    # each record averages the last 2 predictions
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith('frame ')]
    assert [int(line.split()[1].rstrip(':')) for line in printed] == [11, 15, 19, 23]
    with pytest.raises(SystemExit, match='needs OpenCV with GUI support'):
        main(['demo', 'webcam', CONFIG, checkpoint, label_map, '--camera-id', str(synthetic_video.path),
              '--show'])


def test_gradcam_demo(model_files, synthetic_video, tmp_path, capsys):
    checkpoint, _ = model_files
    out = tmp_path / 'cam.mp4'
    assert main(['demo', 'gradcam', CONFIG, checkpoint, str(synthetic_video.path), '--out-filename', str(out),
                 '--target-resolution', '32', '32', '--target-layer-name', 'backbone/layer4/1/relu']) == 0
    assert _read(out).shape == (8, 32, 32, 3)  # one heatmap per segment
    assert 'Grad-CAM of class' in capsys.readouterr().out


def test_drawn_labels_do_not_reach_the_scored_frames(model_files, synthetic_video, tmp_path):
    """The long-video and stream demos keep frames in their window after drawing on the
    output: the predictions are the same with and without an output video."""
    from actionlab.apis.demo import long_video_demo, webcam_demo
    from actionlab.apis.inference import init_recognizer, load_label_map

    checkpoint, label_map = model_files
    model = init_recognizer(CONFIG, checkpoint)
    labels = load_label_map(label_map)
    plain = long_video_demo(model, synthetic_video.path, labels, threshold=0)
    drawn = long_video_demo(model, synthetic_video.path, labels, out_file=tmp_path / 'long.mp4', threshold=0)
    assert len(plain) == 17 and drawn == plain
    plain = webcam_demo(model, synthetic_video.path, labels, threshold=0, inference_fps=0)
    drawn = webcam_demo(model, synthetic_video.path, labels, out_filename=tmp_path / 'stream.mp4',
                        threshold=0, inference_fps=0)
    assert len(plain) == 17 and drawn == plain
    # the written frames do carry the labels
    written = _read(tmp_path / 'long.mp4').astype(int)
    assert np.abs(written[8, :20] - synthetic_video.frames[8, :20]).max() > 100


def test_resize_keeps_the_aspect_ratio_truncating_as_mmaction2():
    from actionlab.apis.demo import resize_frames

    frames = np.zeros((2, 360, 640, 3), np.uint8)
    assert resize_frames(frames, (-1, 240)).shape == (2, 240, 426, 3)  # int(426.67)
    assert resize_frames(frames, (250, -1)).shape == (2, 140, 250, 3)  # int(140.625)
    assert resize_frames(frames, (1, -1), 'bilinear').shape == (2, 1, 1, 3)  # at least 1 pixel


def test_read_frames_takes_the_frames_the_classification_takes(synthetic_video, rawframe_dir, tmp_path):
    import shutil

    from actionlab.apis.demo import read_frames

    frames, fps = read_frames(synthetic_video.path)
    assert fps == 16 and frames.shape == (24, 48, 64, 3)
    np.testing.assert_array_equal(frames, _read(synthetic_video.path))
    frames, fps = read_frames(rawframe_dir.path, use_frames=True)
    assert fps == 0
    np.testing.assert_array_equal(frames, rawframe_dir.frames)
    # img_00004 missing: the classification counts 11 frames named img_*, so 1..11 are read
    gappy = tmp_path / 'gappy'
    shutil.copytree(rawframe_dir.path, gappy)
    (gappy / 'img_00004.jpg').unlink()
    with pytest.raises(FileNotFoundError, match='has 11 frames named like .* but no img_00004.jpg'):
        read_frames(gappy, use_frames=True)
    # numbered from 0: start_index 0 reads all 12 (img_00000 ... img_00011)
    shifted = tmp_path / 'shifted'
    shifted.mkdir()
    for i in range(12):
        shutil.copy(rawframe_dir.path / f'img_{i + 1:05}.jpg', shifted / f'img_{i:05}.jpg')
    frames, _ = read_frames(shifted, use_frames=True, start_index=0)
    np.testing.assert_array_equal(frames, rawframe_dir.frames)
