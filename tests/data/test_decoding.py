"""Decoding transforms: video Init/Decode pairs, motion vectors, RawFrameDecode, ArrayDecode
and ImageDecode."""
from __future__ import annotations

import importlib.util
import logging
import sys

import av
import cv2
import numpy as np
import pytest

from actionlab.data.io import VideoReadError
from actionlab.data.transforms import (
    TRANSFORMS,
    ArrayDecode,
    Compose,
    DecordDecode,
    DecordInit,
    ImageDecode,
    OpenCVDecode,
    OpenCVInit,
    PIMSDecode,
    PIMSInit,
    PyAVDecode,
    PyAVDecodeMotionVector,
    PyAVInit,
    RawFrameDecode,
    decoding,
)

PAIRS = [(PyAVInit, PyAVDecode), (PyAVInit, lambda: PyAVDecode(multi_thread=True)),
         (DecordInit, DecordDecode), (OpenCVInit, OpenCVDecode), (PIMSInit, PIMSDecode),
         (lambda: PIMSInit(mode='efficient'), PIMSDecode)]


@pytest.mark.parametrize('init, decode', PAIRS,
                         ids=['pyav', 'pyav-threads', 'decord', 'opencv', 'pims', 'pims-timed'])
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


@pytest.fixture(scope='module')
def long_gop_video(tmp_path_factory, frame_maker):
    """24 frames with keyframes at 0, 8 and 16 only, and B-frames."""
    path = tmp_path_factory.mktemp('gop') / 'gop8.mp4'
    with av.open(str(path), 'w') as container:
        codec = 'libx264' if 'libx264' in av.codecs_available else 'mpeg4'
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, 'yuv420p'
        stream.options = {'g': '8', 'keyint_min': '8', 'sc_threshold': '0', 'bf': '2'}
        for frame in frame_maker(24, 48, 64):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize('init, decode', [(PyAVInit, PyAVDecode), (DecordInit, DecordDecode)],
                         ids=['pyav', 'decord'])
def test_efficient_mode_returns_the_keyframe_before_each_index(long_gop_video, frame_id,
                                                                 init, decode):
    results = init()(dict(filename=str(long_gop_video)))
    results['frame_inds'] = np.array([5, 8, 15, 23, 0])
    imgs = decode(mode='efficient')(results)['imgs']
    assert [frame_id(f) for f in imgs] == [0, 8, 8, 16, 0]


def test_motion_vector_decode(long_gop_video):
    results = PyAVInit()(dict(filename=str(long_gop_video)))
    results['frame_inds'] = np.array([[0, 1, 2]])
    results = PyAVDecodeMotionVector()(results)
    vectors = results['motion_vectors']
    assert vectors.shape == (3, 48, 64, 2) and vectors.dtype == np.int8
    # the first frame is a keyframe; the bright square moves 2 px right per frame
    assert not vectors[0].any() and vectors[1:].any()
    assert results['video_reader'] is None and results['frame_inds'].tolist() == [0, 1, 2]
    assert 'imgs' not in results


def test_decode_arguments_are_checked():
    with pytest.raises(ValueError, match="mode must be 'accurate' or 'efficient'"):
        PyAVDecode(mode='fast')
    with pytest.raises(ValueError, match="PIMSInit: mode must be"):
        PIMSInit(mode='indexed')
    with pytest.raises(NotImplementedError, match="io_backend 'petrel'"):
        PyAVInit(io_backend='petrel')
    with pytest.raises(TypeError, match='unexpected argument'):
        OpenCVInit(path_mapping={})
    assert repr(PyAVDecode(multi_thread=True)) == "PyAVDecode(multi_thread=True, mode='accurate')"
    assert repr(PIMSInit(mode='efficient')) == "PIMSInit(io_backend='disk', mode='efficient')"
    assert repr(TRANSFORMS.build(dict(type='PyAVDecodeMotionVector'))) == \
        "PyAVDecodeMotionVector(multi_thread=False, mode='accurate')"
    assert DecordDecode(mode='efficient').mode == 'efficient'


def test_opencv_init_sets_new_path(synthetic_video):
    results = OpenCVInit()(dict(filename=str(synthetic_video.path)))
    assert results['new_path'] == str(synthetic_video.path)
    results['video_reader'].close()


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
    results = PyAVInit()(dict(filename=str(synthetic_video.path)))
    results['frame_inds'] = np.array([2, 30])
    with pytest.raises(IndexError, match=r'frame index 30 .*clip\.mp4'):
        PyAVDecode()(results)
    assert results['video_reader'] is None  # closed even when decoding fails


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


def test_array_decode_rgb_and_flow():
    array = np.arange(5 * 2 * 3 * 3, dtype=np.uint8).reshape(5, 2, 3, 3)
    out = ArrayDecode()(dict(array=array, modality='RGB', frame_inds=np.array([[3, 1]]),
                             offset=1))
    assert np.array_equal(out['imgs'], array[[4, 2]])
    assert out['original_shape'] == out['img_shape'] == (2, 3)
    flow = array[..., :2]
    imgs = ArrayDecode()(dict(array=flow, modality='Flow', frame_inds=np.array([2, 0])))['imgs']
    assert np.array_equal(imgs, np.stack([flow[2, ..., 0], flow[2, ..., 1], flow[0, ..., 0],
                                          flow[0, ..., 1]]))
    with pytest.raises(IndexError, match='frame index 5 is out of range for an array of 5'):
        ArrayDecode()(dict(array=array, modality='RGB', frame_inds=np.array([5])))
    with pytest.raises(ValueError, match='Flow arrays need 2 channels'):
        ArrayDecode()(dict(array=array, modality='Flow', frame_inds=np.array([0])))
    with pytest.raises(ValueError, match='must be 4-D'):
        ArrayDecode()(dict(array=array[0], modality='RGB', frame_inds=np.array([0])))


def test_image_decode(rawframe_dir, tmp_path):
    path = rawframe_dir.path / 'img_00004.jpg'
    out = ImageDecode()(dict(filename=str(path)))
    assert out['imgs'].shape == (1, 48, 64, 3)
    assert np.array_equal(out['imgs'][0], cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
    assert out['original_shape'] == out['img_shape'] == (48, 64)
    clip = Compose([dict(type='ImageDecode'), dict(type='BuildPseudoClip', clip_len=3)])(
        dict(filename=str(path)))
    assert clip['imgs'].shape == (3, 48, 64, 3)
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        ImageDecode()(dict(filename=str(tmp_path / 'missing.jpg')))
