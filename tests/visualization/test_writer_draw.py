"""VideoWriter (video containers and GIF), label drawing and colour parsing."""
from __future__ import annotations

import numpy as np
import pytest

from actionlab.data.io import open_video
from actionlab.visualization import VideoWriter, draw_text_lines, parse_color, write_video


def test_video_writer_streams_frames_and_pads_odd_sizes(tmp_path, frame_maker, frame_id):
    frames = frame_maker(6, 31, 45)
    with VideoWriter(tmp_path / 'a' / 'out.mp4', fps=8) as writer:
        for frame in frames:
            writer.write(frame)
        assert writer.num_frames == 6
    with open_video(tmp_path / 'a' / 'out.mp4') as reader:
        assert (reader.num_frames, reader.fps) == (6, pytest.approx(8))
        decoded = reader.get_frames(np.arange(6))
    assert decoded.shape == (6, 32, 46, 3)
    assert [frame_id(f[:31, :45]) for f in decoded] == list(range(6))


def test_video_writer_gif(tmp_path, frame_maker, frame_id):
    image = pytest.importorskip('PIL.Image', reason='GIF writing needs Pillow (the plot extra)')
    frames = frame_maker(5, 24, 40)
    with VideoWriter(tmp_path / 'out.gif', fps=10) as writer:
        for frame in frames:
            writer.write(frame)
    gif = image.open(tmp_path / 'out.gif')
    assert (gif.n_frames, gif.size, gif.info['duration'], gif.info['loop']) == (5, (40, 24), 100, 0)
    for i in range(5):
        gif.seek(i)
        assert frame_id(np.asarray(gif.convert('RGB'))) == i
    # write_video takes the same route
    assert image.open(write_video(tmp_path / 'all.gif', frames, fps=10)).n_frames == 5


def test_video_writer_errors(tmp_path, frame_maker):
    with pytest.raises(ValueError, match='extension must be one of .mp4, .mkv, .mov, .avi, .gif'):
        VideoWriter(tmp_path / 'x.webm')
    with pytest.raises(ValueError, match='fps must be positive'):
        VideoWriter(tmp_path / 'x.mp4', fps=0)
    frames = frame_maker(2, 16, 16)
    writer = VideoWriter(tmp_path / 'x.mp4')
    writer.write(frames[0])
    with pytest.raises(ValueError, match=r'frame 1 is 8x16, but the video is 16x16'):
        writer.write(frames[1][:, :8])
    with pytest.raises(ValueError, match='must be uint8'):
        writer.write(frames[1].astype(np.float32))
    writer.close()
    writer.close()  # a second close does nothing
    VideoWriter(tmp_path / 'none.mp4').close()
    assert not (tmp_path / 'none.mp4').exists()  # no frame, no file


def test_parse_color():
    assert parse_color('White') == (255, 255, 255)
    assert parse_color('#ff8000') == (255, 128, 0)
    assert parse_color('1, 2, 3') == (1, 2, 3)
    assert parse_color([0, 128, 255]) == (0, 128, 255)
    with pytest.raises(ValueError, match="unknown colour 'pink-ish'"):
        parse_color('pink-ish')
    with pytest.raises(ValueError, match='three values in 0..255'):
        parse_color((0, 300, 0))


def test_draw_text_lines_draws_each_line_below_the_last():
    frame = np.zeros((60, 120, 3), np.uint8)
    out = draw_text_lines(frame, ['abc', 'def'], color='red', font_scale=0.5, origin=(5, 4))
    # drawn on a copy: the caller's frame (e.g. one a demo still scores) stays as it was
    assert out is not frame and not frame.any()
    rows = np.nonzero(out.any(axis=(1, 2)))[0]
    cols = np.nonzero(out.any(axis=(0, 2)))[0]
    assert rows.min() >= 4 and cols.min() >= 5 and cols.max() < 60
    # two separate bands of text, red only (antialiasing blends red into black)
    bands = np.split(rows, np.nonzero(np.diff(rows) > 1)[0] + 1)
    assert len(bands) == 2
    assert out[..., 1:].max() == 0 and out[..., 0].max() == 255
    # a read-only frame is drawn on a copy too
    locked = np.zeros((20, 40, 3), np.uint8)
    locked.flags.writeable = False
    assert draw_text_lines(locked, ['x']).any() and not locked.any()
