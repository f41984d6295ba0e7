"""The recognition demos as functions: classify a video and draw the label on it, label a
long video window by window, label a live stream, and show Grad-CAM heatmaps.

Each takes a recognizer made by :func:`init_recognizer` (it carries its config) and the
class names; the ``actionlab demo`` command wraps them. The video demo reads the frames it
writes as the classification does (video files with :func:`~actionlab.data.io.open_video`,
frame folders by the config's ``filename_tmpl``); the long-video and stream demos read
frames as they come with OpenCV (camera indices, files and stream URLs alike). Frames are
written with :class:`~actionlab.visualization.VideoWriter` (.mp4 and the like, or .gif).
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from actionlab.apis.inference import _frame_count, build_inference_input, inference_recognizer
from actionlab.data.io import open_video, read_image
from actionlab.data.transforms import Compose
from actionlab.visualization import VideoWriter, draw_text_lines

logger = logging.getLogger(__name__)

#: OpenCV interpolations by the names MMAction2's demos take (FFmpeg scaler names)
RESIZE_ALGORITHMS = {'neighbor': cv2.INTER_NEAREST, 'nearest': cv2.INTER_NEAREST,
                     'bilinear': cv2.INTER_LINEAR, 'bicubic': cv2.INTER_CUBIC,
                     'area': cv2.INTER_AREA, 'lanczos': cv2.INTER_LANCZOS4}
#: the font of the long-video and stream demos (a small one: several labels per frame)
STREAM_FONT = cv2.FONT_HERSHEY_COMPLEX_SMALL


class FrameSource:
    """RGB frames from a camera index, a video file or a stream URL, read with OpenCV as
    they come (the long-video and stream demos).

    ``fps`` is what the source reports (0 when it does not know), ``num_frames`` the
    frame count a file reports (0 for live sources). Iterating yields (H, W, 3) uint8
    RGB frames until the input ends. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, source: int | str | os.PathLike):
        self.source = source
        if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
            target: int | str = int(source)
        else:
            target = str(source)
            if '://' not in target and not os.path.exists(target):
                raise FileNotFoundError(f'video not found: {target}')
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            raise OSError(f'cannot open {source!r} with OpenCV (a camera index, a video file or '
                          'a stream URL that FFmpeg can read)')
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0)
        self.num_frames = max(0, int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0))

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            ok, frame = self._capture.read()
            if not ok or frame is None:
                return
            yield np.ascontiguousarray(frame[..., ::-1])

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the camera or file."""
        self._capture.release()


def _check_input_kind(video: str | os.PathLike, use_frames: bool) -> None:
    path = str(video)
    if use_frames and not os.path.isdir(path):
        raise ValueError(f'{path} is not a folder of frames (drop --use-frames for a video file)')
    if not use_frames and os.path.isdir(path):
        raise ValueError(f'{path} is a folder of frames: add --use-frames')


def read_frames(video: str | os.PathLike, use_frames: bool = False, filename_tmpl: str = 'img_{:05}.jpg',
                start_index: int = 1) -> tuple[np.ndarray, float]:
    """All frames of a video file/URL as (T, H, W, 3) uint8 RGB, with the video's fps, read
    with :func:`~actionlab.data.io.open_video` (PyAV). With ``use_frames``, the frames of
    a folder as :func:`inference_recognizer` takes them (fps 0): as many as there are
    files named like ``filename_tmpl``, read as ``filename_tmpl.format(i)`` for i =
    ``start_index``, ``start_index + 1``, ...; a gap in the numbering is a
    FileNotFoundError naming the missing frame."""
    _check_input_kind(video, use_frames)
    if use_frames:
        folder = Path(video)
        total = _frame_count(folder, filename_tmpl, 'RGB')
        if total == 0:
            raise ValueError(f'no frames named like {filename_tmpl!r} in {video}')
        files = [folder / filename_tmpl.format(start_index + i) for i in range(total)]
        missing = next((f for f in files if not f.is_file()), None)
        if missing is not None:
            raise FileNotFoundError(f'{video} has {total} frames named like {filename_tmpl!r} but no '
                                    f'{missing.name}: frames must be numbered without gaps from '
                                    f'{filename_tmpl.format(start_index)}')
        return np.stack([read_image(f) for f in files]), 0.
    with open_video(video) as reader:
        return reader.get_frames(np.arange(reader.num_frames)), float(reader.fps)


def resize_frames(frames: np.ndarray, target_resolution: Sequence[int] | None,
                  resize_algorithm: str = 'bicubic') -> np.ndarray:
    """Resize (T, H, W, 3) frames to ``target_resolution`` (w, h); -1 for one side keeps
    the aspect ratio. ``resize_algorithm``: one of :data:`RESIZE_ALGORITHMS`."""
    if target_resolution is None:
        return frames
    if resize_algorithm not in RESIZE_ALGORITHMS:
        raise ValueError(f'unknown resize algorithm {resize_algorithm!r}; choose one of '
                         f'{", ".join(RESIZE_ALGORITHMS)}')
    w, h = (int(v) for v in target_resolution)
    frame_h, frame_w = frames.shape[1:3]
    if (w <= 0 and h <= 0) or min(w, h) < -1 or 0 in (w, h):
        raise ValueError(f'target resolution must be (w, h) with positive sizes, one of them '
                         f'maybe -1 (keep the aspect ratio); got {w} {h}')
    if w == -1:  # truncated, as MMAction2's int(h / frame_h * frame_w)
        w = max(1, int(h / frame_h * frame_w))
    if h == -1:
        h = max(1, int(w / frame_w * frame_h))
    interpolation = RESIZE_ALGORITHMS[resize_algorithm]
    return np.stack([cv2.resize(f, (w, h), interpolation=interpolation) for f in frames])


def _name(labels: Sequence[str], index: int) -> str:
    if index >= len(labels):
        raise ValueError(f'class {index} has no name: the label map has {len(labels)} lines')
    return labels[index]


def top_labels(scores: np.ndarray, labels: Sequence[str], k: int = 5,
               threshold: float | None = None) -> list[tuple[str, float]]:
    """The ``k`` best ``(name, score)`` pairs of one score vector, best first, keeping
    only scores >= ``threshold`` when given."""
    scores = np.asarray(scores).reshape(-1)
    order = np.argsort(-scores, kind='stable')[:k]
    return [(_name(labels, i), float(scores[i])) for i in order
            if threshold is None or scores[i] >= threshold]


def _format(results: Sequence[tuple[str, float]]) -> list[str]:
    return [f'{name}: {score:.2f}' for name, score in results]


def video_demo(model: nn.Module, video: str | os.PathLike, labels: Sequence[str],
               out_filename: str | os.PathLike | None = None, use_frames: bool = False,
               fps: float | None = None, font_scale: float = 0.5, font_color: str | Sequence[int] = 'white',
               target_resolution: Sequence[int] | None = None, resize_algorithm: str = 'bicubic'
               ) -> list[tuple[str, float]]:
    """Classify one video (file, URL, or a frame folder with ``use_frames``); returns the
    top-5 ``(name, score)`` pairs. With ``out_filename`` (.mp4, .gif, ...) also writes the
    input frames, resized to ``target_resolution`` (w, h; -1 keeps the aspect ratio), with
    the top-1 label drawn in the corner, at ``fps`` (default: the video's, 30 for frames).
    """
    _check_input_kind(video, use_frames)
    results = inference_recognizer(model, video)
    named = [(_name(labels, index), score) for index, score in results]
    if out_filename is not None:
        test_cfg = model.cfg.data.test
        frames, source_fps = read_frames(video, use_frames, test_cfg.get('filename_tmpl', 'img_{:05}.jpg'),
                                         test_cfg.get('start_index', 1))
        frames = resize_frames(frames, target_resolution, resize_algorithm)
        with VideoWriter(out_filename, fps=fps or source_fps or 30) as writer:
            for frame in frames:
                writer.write(draw_text_lines(frame, [named[0][0]], font_color, font_scale))
        logger.info('wrote %d frames to %s', len(frames), out_filename)
    return named


def _window_pipeline(model: nn.Module) -> tuple[Compose, int, dict[str, Any]]:
    """The test pipeline without its sampling and decoding steps, the number of frames
    one prediction takes (clip_len x num_clips of the sampler), and the results dict
    those frames go into."""
    steps = [dict(step) for step in model.cfg.data.test.pipeline]
    samplers = [s for s in steps if 'SampleFrames' in s['type']]
    if not samplers:
        raise ValueError('the test pipeline has no SampleFrames step, so the window length is unknown')
    sampler = samplers[0]
    clip_len, num_clips = sampler.get('clip_len', 1), sampler.get('num_clips', 1)
    kept = [s for s in steps if s is not sampler and not s['type'].endswith(('Init', 'Decode'))]
    data = dict(modality='RGB', label=-1, start_index=0, clip_len=clip_len, num_clips=num_clips,
                frame_interval=sampler.get('frame_interval', 1))
    return Compose(kept), clip_len * num_clips, data


@torch.inference_mode()
def _score_window(model: nn.Module, pipeline: Compose, template: dict, frames: Sequence[np.ndarray]
                  ) -> np.ndarray:
    data = pipeline(dict(template, imgs=np.stack(frames), total_frames=len(frames),
                         frame_inds=np.arange(len(frames))))
    device = next(model.parameters()).device
    imgs = torch.as_tensor(data['imgs'])[None].to(device)
    return model(imgs, return_loss=False)[0].float().cpu().numpy()


def long_video_demo(model: nn.Module, video: str | os.PathLike, labels: Sequence[str],
                    out_file: str | os.PathLike | None = None, out_json: str | os.PathLike | None = None,
                    input_step: int = 1, threshold: float = 0.01, stride: float = 0,
                    font_scale: float = 1, label_color: str | Sequence[int] = 'white',
                    msg_color: str | Sequence[int] = 'gray') -> list[dict[str, Any]]:
    """Predict labels along a long video with a sliding window.

    Every ``input_step``-th frame enters a window of ``sample_length`` frames (the test
    sampler's clip_len x num_clips; those steps and decoding are dropped from the test
    pipeline). A prediction is made whenever the window is full and, after the first,
    ``stride * sample_length`` new frames came in (``stride=0``: every new frame).

    Returns one record per prediction: ``frame`` (index of the frame it was made at),
    ``start``/``end`` (first and last frame of the window) and ``labels`` (top-5
    ``[name, score]`` with score >= ``threshold``). ``out_file``: a video with every
    frame showing the latest labels (or a .json file: then the records are written
    there); ``out_json``: the records as JSON as well.
    """
    if input_step < 1:
        raise ValueError(f'input_step must be >= 1, got {input_step}')
    if stride < 0:
        raise ValueError(f'stride must be >= 0, got {stride}')
    if out_file is not None and Path(out_file).suffix.lower() == '.json':
        out_file, out_json = None, out_json or out_file
    pipeline, sample_length, template = _window_pipeline(model)
    hop = max(1, int(sample_length * stride)) if stride > 0 else 1
    window: deque[tuple[int, np.ndarray]] = deque(maxlen=sample_length)
    records: list[dict[str, Any]] = []
    since_last = num_frames = 0
    lines, color = ['Preparing action recognition ...'], msg_color
    with FrameSource(video) as source:
        writer = VideoWriter(out_file, fps=source.fps or 30) if out_file is not None else None
        try:
            for index, frame in enumerate(tqdm(source, total=source.num_frames or None, unit='frame',
                                               desc='long video')):
                num_frames += 1
                if index % input_step == 0:
                    window.append((index, frame))
                    since_last += 1
                    if len(window) == sample_length and (not records or since_last >= hop):
                        scores = _score_window(model, pipeline, template, [f for _, f in window])
                        top = top_labels(scores, labels, 5, threshold)
                        records.append(dict(frame=index, start=window[0][0], end=window[-1][0],
                                            labels=[[name, score] for name, score in top]))
                        lines, color = _format(top), label_color
                        since_last = 0
                if writer is not None:
                    writer.write(draw_text_lines(frame, lines, color, font_scale, font=STREAM_FONT))
        finally:
            if writer is not None:
                writer.close()
        fps = source.fps
    if num_frames == 0:
        raise ValueError(f'no frames could be read from {video}')
    if not records:
        logger.warning('%s: %d frames are too few for one window of %d frames taken every %d',
                       video, num_frames, sample_length, input_step)
    if out_json is not None:
        Path(out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(out_json).write_text(json.dumps(dict(video=str(video), fps=fps, input_step=input_step,
                                                  sample_length=sample_length, windows=records), indent=1))
    return records


def webcam_demo(model: nn.Module, source: int | str | os.PathLike, labels: Sequence[str],
                out_filename: str | os.PathLike | None = None, show: bool = False,
                threshold: float = 0.01, average_size: int = 1, inference_fps: float = 4,
                drawing_fps: float = 20, font_scale: float = 1) -> list[dict[str, Any]]:
    """Label a live stream (camera index, video file or stream URL) as it comes.

    The latest ``sample_length`` frames (as in :func:`long_video_demo`) are scored at
    most ``inference_fps`` times per second of stream time (0: at every frame); the
    average of the last ``average_size`` score vectors gives the top-5 labels with
    score >= ``threshold``, drawn on every frame from then on. The annotated stream is
    written to ``out_filename`` and/or shown in a window (``show``, at most
    ``drawing_fps`` frames per second; Esc or q quits; needs OpenCV with GUI support).
    Ends when the input does. Returns one record per averaged prediction: ``frame`` and
    ``labels`` (``[name, score]`` pairs).
    """
    if average_size < 1:
        raise ValueError(f'average_size must be >= 1, got {average_size}')
    if inference_fps < 0 or drawing_fps < 0:
        raise ValueError('inference_fps and drawing_fps must be >= 0 (0 = no limit)')
    if show:
        check_display()
    pipeline, sample_length, template = _window_pipeline(model)
    window: deque[np.ndarray] = deque(maxlen=sample_length)
    recent: deque[np.ndarray] = deque(maxlen=average_size)
    records: list[dict[str, Any]] = []
    lines, color = ['Waiting for action ...'], 'gray'
    last_inference = None
    index = -1
    with FrameSource(source) as stream:
        fps = stream.fps or 30
        every = max(1, round(fps / inference_fps)) if inference_fps > 0 else 1
        writer = VideoWriter(out_filename, fps=fps) if out_filename is not None else None
        shown_at = time.monotonic()
        try:
            for index, frame in enumerate(stream):
                window.append(frame)
                due = last_inference is None or index - last_inference >= every
                if len(window) == sample_length and due:
                    last_inference = index
                    recent.append(_score_window(model, pipeline, template, window))
                    if len(recent) == average_size:
                        top = top_labels(np.mean(recent, axis=0), labels, 5, threshold)
                        records.append(dict(frame=index, labels=[[name, score] for name, score in top]))
                        lines, color = _format(top), 'white'
                if writer is None and not show:
                    continue
                frame = draw_text_lines(frame, lines, color, font_scale, font=STREAM_FONT)
                if writer is not None:
                    writer.write(frame)
                if show:
                    if drawing_fps > 0:
                        time.sleep(max(0., 1 / drawing_fps - (time.monotonic() - shown_at)))
                        shown_at = time.monotonic()
                    cv2.imshow('actionlab demo', frame[..., ::-1])
                    if cv2.waitKey(1) & 0xFF in (27, ord('q'), ord('Q')):
                        break
        finally:
            if writer is not None:
                writer.close()
            if show:
                cv2.destroyAllWindows()
    if index < 0:
        raise ValueError(f'no frames could be read from {source!r}')
    return records


def check_display() -> None:
    """Raise RuntimeError unless OpenCV can open a window here."""
    try:
        cv2.namedWindow('actionlab demo')
    except cv2.error:
        raise RuntimeError('showing the stream needs OpenCV with GUI support (opencv-python rather '
                           'than opencv-python-headless) and a display; write it with '
                           '--out-filename instead') from None


def gradcam_demo(model: nn.Module, video: str | os.PathLike,
                 target_layer_name: str = 'backbone/layer4/1/relu',
                 out_filename: str | os.PathLike | None = None, use_frames: bool = False, fps: float = 5,
                 target_resolution: Sequence[int] | None = None, resize_algorithm: str = 'bilinear',
                 alpha: float = 0.5, colormap: str = 'viridis') -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM of the predicted class for one video (see
    :class:`~actionlab.visualization.gradcam.GradCAM`).

    Returns the blended frames of every view the test pipeline makes (views x frames,
    H, W, 3) uint8 RGB and the class scores; with ``out_filename`` (.gif, .mp4, ...) also
    writes those frames, resized to ``target_resolution``, at ``fps``.
    """
    from actionlab.visualization.gradcam import GradCAM

    _check_input_kind(video, use_frames)
    data, steps = build_inference_input(model.cfg, video)
    data = Compose(steps)(data)
    device = next(model.parameters()).device
    inputs = dict(imgs=torch.as_tensor(data['imgs'])[None].to(device))
    gradcam = GradCAM(model, target_layer_name, colormap=colormap)
    try:
        blended, preds = gradcam(inputs, alpha=alpha)
    finally:
        gradcam.remove()
    frames = (blended * 255).round().to(torch.uint8).numpy()
    frames = resize_frames(frames.reshape(-1, *frames.shape[-3:]), target_resolution, resize_algorithm)
    if out_filename is not None:
        with VideoWriter(out_filename, fps=fps) as writer:
            for frame in frames:
                writer.write(frame)
        logger.info('wrote %d Grad-CAM frames to %s', len(frames), out_filename)
    return frames, preds[0].float().cpu().numpy()
