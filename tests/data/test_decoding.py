"""Decoding transforms: video Init/Decode pairs and RawFrameDecode."""
from __future__ import annotations

import importlib.util
import logging
import sys

import numpy as np
import pytest

from actionlab.data.io import VideoReadError
from actionlab.data.transforms import (
    Compose,
    DecordDecode,
    DecordInit,
    OpenCVDecode,
    OpenCVInit,
    PyAVDecode,
    PyAVInit,
    RawFrameDecode,
    decoding,
)

PAIRS = [(PyAVInit, PyAVDecode), (PyAVInit, lambda: PyAVDecode(multi_thread=True)),
         (DecordInit, DecordDecode), (OpenCVInit, OpenCVDecode)]


@pytest.mark.parametrize('init, decode', PAIRS, ids=['pyav', 'pyav-threads', 'decord', 'opencv'])
def test_video_decoders_return_the_sampled_frames(synthetic_video, init, decode):
    results = dict(filename=str(synthetic_video.path), start_index=0, modality='RGB')
    results = init()(results)
    assert results['total_frames'] == 24
    results['frame_inds'] = np.array([[3, 3], [20, 0]])  # 2-D indices are flattened
    results = decode()(results)
    imgs = results['imgs']
    assert imgs.dtype == np.uint8 and imgs.shape == (4, 48, 64, 3)
    assert [synthetic_video.frame_id(f) for f in imgs] == [3, 3, 20, 0]
    assert results['original_shape'] == results['img_shape'] == (48, 64)
    assert results['video_reader'] is None and results['frame_inds'].ndim == 1


def test_decode_arguments_are_checked():
    with pytest.raises(ValueError, match="mode must be 'accurate' or 'efficient'"):
        PyAVDecode(mode='fast')
    with pytest.raises(NotImplementedError, match="io_backend 'petrel'"):
        PyAVInit(io_backend='petrel')
    with pytest.raises(TypeError, match='unexpected argument'):
        OpenCVInit(path_mapping={})
    assert repr(PyAVDecode(multi_thread=True)) == "PyAVDecode(multi_thread=True, mode='accurate')"
    assert DecordDecode(mode='efficient').mode == 'efficient'


def test_decord_init_falls_back_to_pyav_with_one_warning(synthetic_video, monkeypatch, caplog):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, *a: None if name == 'decord' else real_find_spec(name, *a))
    monkeypatch.setattr(decoding, '_warned_no_decord', False)
    with caplog.at_level(logging.WARNING, logger='actionlab.data.transforms.decoding'):
        inits = [DecordInit(), DecordInit(num_threads=2)]
    assert sum('decord is not installed' in r.message for r in caplog.records) == 1
    results = inits[0](dict(filename=str(synthetic_video.path)))
    assert results['video_reader'].backend == 'pyav'
    results['frame_inds'] = np.array([7])
    assert synthetic_video.frame_id(DecordDecode()(results)['imgs'][0]) == 7


def test_decord_init_reads_avi_with_pyav(tmp_path, frame_maker):
    from actionlab.visualization.writer import write_video

    path = write_video(tmp_path / 'clip.avi', frame_maker(4, 16, 16), codec='mpeg4')
    results = DecordInit()(dict(filename=str(path)))
    assert results['video_reader'].backend == 'pyav' and results['total_frames'] == 4


def test_video_decode_errors_name_the_file(tmp_path, synthetic_video):
    pipeline = Compose([dict(type='PyAVInit'), dict(type='PyAVDecode')])
    with pytest.raises(FileNotFoundError, match='nothere.mp4'):
        pipeline(dict(filename=str(tmp_path / 'nothere.mp4')))
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(synthetic_video.path.read_bytes()[:200])  # truncated: no usable data
    with pytest.raises(VideoReadError, match='broken.mp4') as info:
        pipeline(dict(filename=str(broken), frame_inds=np.array([0])))
    if sys.version_info >= (3, 11):  # exception notes name the pipeline step and the sample
        assert 'PyAVInit' in info.value.__notes__[0] and 'broken.mp4' in info.value.__notes__[0]


def test_rawframe_decode_rgb_with_offset_and_repeats(rawframe_dir):
    results = dict(frame_dir=str(rawframe_dir.path), filename_tmpl=rawframe_dir.filename_tmpl,
                   modality='RGB', frame_inds=np.array([1, 5, 5, 3]), offset=2)
    out = RawFrameDecode()(results)
    # file index = frame index + offset; files are numbered from 1
    assert np.array_equal(out['imgs'], rawframe_dir.frames[[2, 6, 6, 4]])
    assert out['original_shape'] == out['img_shape'] == (48, 64)


def test_rawframe_decode_flow_interleaves_x_and_y(rawframe_dir):
    results = dict(frame_dir=str(rawframe_dir.path), filename_tmpl=rawframe_dir.flow_tmpl,
                   modality='Flow', frame_inds=np.array([2, 1, 2]))
    imgs = RawFrameDecode()(results)['imgs']
    assert imgs.shape == (6, 48, 64)
    expected = [rawframe_dir.flow_x[1], rawframe_dir.flow_y[1], rawframe_dir.flow_x[0],
                rawframe_dir.flow_y[0], rawframe_dir.flow_x[1], rawframe_dir.flow_y[1]]
    assert np.array_equal(imgs, np.stack(expected))


def test_rawframe_decode_scales_normalised_boxes(rawframe_dir):
    results = dict(frame_dir=str(rawframe_dir.path), filename_tmpl=rawframe_dir.filename_tmpl,
                   modality='RGB', frame_inds=np.array([1]),
                   gt_bboxes=np.array([[0.25, 0.5, 0.75, 1.0]]), proposals=None)
    out = RawFrameDecode()(results)
    assert out['gt_bboxes'].tolist() == [[16., 24., 48., 48.]]


def test_rawframe_decode_errors(rawframe_dir):
    results = dict(frame_dir=str(rawframe_dir.path), filename_tmpl=rawframe_dir.filename_tmpl,
                   modality='RGB', frame_inds=np.array([1, 40]))
    with pytest.raises(FileNotFoundError, match='img_00040.jpg'):
        RawFrameDecode()(results)
    with pytest.raises(ValueError, match="unknown image decoding backend 'gif'"):
        RawFrameDecode(decoding_backend='gif')
    results['modality'] = 'Audio'
    with pytest.raises(ValueError, match="modality must be 'RGB' or 'Flow'"):
        RawFrameDecode()(results)
