"""Clips per second of three standard video pipelines, per decoding backend, in one process
and through a DataLoader.

Pipelines (MMAction2 0.24.1 configs, the decoder swapped per backend):

* ``tsn_train``: 3 segments x 1 frame, Resize -1x256, MultiScaleCrop 224, Resize 224, Flip,
  Normalize, FormatShape NCHW (``tsn_r50_video_1x1x3_100e_kinetics400_rgb``);
* ``i3d_train``: 32 frames every 2nd, Resize -1x256, RandomResizedCrop, Resize 224, Flip,
  Normalize, FormatShape NCTHW;
* ``tsn_test``: 25 segments x 1 frame, Resize -1x256, ThreeCrop 256, Normalize, FormatShape
  NCHW (75 crops per clip).

Backends: ``pyav`` (PyAVInit/PyAVDecode; ``pyav-mt`` adds ``multi_thread=True``) and
``decord`` (DecordInit/DecordDecode, when decord is installed). ``process``: the pipeline
called in a loop; ``loader``: a ``VideoDataset`` through ``build_dataloader`` with
``--workers`` worker processes and batch size 1 (warm-up batches are not timed). Each
measurement is ``--rounds`` timed rounds of ``--clips`` clips; the best round is the
figure least disturbed by other work on the machine, and the CPU time per clip (all
threads and worker processes) does not depend on it.

Without ``--videos`` it first writes three 10 s 256p H.264 videos with long GOPs and
B-frames to a temporary folder, so it runs anywhere. Example::

    python benchmarks/pipeline_throughput.py \
        --videos ../shared/videos/{demo,test,test_video_structuralize}.mp4
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actionlab.data import build_dataloader  # noqa: E402
from actionlab.data.datasets import VideoDataset  # noqa: E402
from actionlab.data.transforms import Compose  # noqa: E402

NORM = dict(type='Normalize', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
            to_bgr=False)
COLLECT = [dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
           dict(type='ToTensor', keys=['imgs', 'label'])]
PIPELINES = {
    'tsn_train': [
        dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=3),
        'decode',
        dict(type='Resize', scale=(-1, 256)),
        dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66),
             random_crop=False, max_wh_scale_gap=1),
        dict(type='Resize', scale=(224, 224), keep_ratio=False),
        dict(type='Flip', flip_ratio=0.5),
        NORM,
        dict(type='FormatShape', input_format='NCHW'),
        *COLLECT],
    'i3d_train': [
        dict(type='SampleFrames', clip_len=32, frame_interval=2, num_clips=1),
        'decode',
        dict(type='Resize', scale=(-1, 256)),
        dict(type='RandomResizedCrop'),
        dict(type='Resize', scale=(224, 224), keep_ratio=False),
        dict(type='Flip', flip_ratio=0.5),
        NORM,
        dict(type='FormatShape', input_format='NCTHW'),
        *COLLECT],
    'tsn_test': [
        dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=25, test_mode=True),
        'decode',
        dict(type='Resize', scale=(-1, 256)),
        dict(type='ThreeCrop', crop_size=256),
        NORM,
        dict(type='FormatShape', input_format='NCHW'),
        *COLLECT],
}
DECODERS = {
    'pyav': [dict(type='PyAVInit'), dict(type='PyAVDecode')],
    'pyav-mt': [dict(type='PyAVInit'), dict(type='PyAVDecode', multi_thread=True)],
    'decord': [dict(type='DecordInit'), dict(type='DecordDecode')],
}


def pipeline_config(name: str, backend: str) -> list[dict]:
    """The config of pipeline ``name`` decoding with ``backend``: Init first, Decode after
    the sampler."""
    init, decode = DECODERS[backend]
    steps = [decode if step == 'decode' else step for step in PIPELINES[name]]
    return [init] + steps


def make_videos(folder: Path, seconds: float = 10, fps: int = 30) -> list[Path]:
    """Three H.264 clips (MPEG-4 without libx264) of 340x256, 340x256 and 426x240 pixels,
    with keyframes 250 frames apart and B-frames: a smooth texture panning and zooming
    at sub-pixel steps, plus sensor-like noise, so that decoding costs about what it costs
    on real footage."""
    import av

    codec = 'libx264' if 'libx264' in av.codecs_available else 'mpeg4'
    paths = []
    for k, (width, height) in enumerate([(340, 256), (340, 256), (426, 240)]):
        rng = np.random.default_rng(k)
        texture = cv2.GaussianBlur(rng.integers(0, 256, (2 * height, 2 * width, 3)).astype(
            np.float32), (0, 0), 1.5)
        texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX)
        path = folder / f'clip{k}.mp4'
        with av.open(str(path), 'w') as container:
            stream = container.add_stream(codec, rate=Fraction(fps))
            stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
            stream.options = {'g': '250', 'bf': '3', 'crf': '18'} if codec == 'libx264' \
                else {'g': '250', 'bf': '2', 'qscale': '4'}
            for i in range(int(seconds * fps)):
                t = i / fps
                zoom = 1.2 + 0.15 * np.sin(t * (k + 1))
                warp = np.float32([[zoom, 0, 0.5 * width + 17.3 * (k + 1) * t],
                                   [0, zoom, 0.4 * height + 9.1 * np.sin(t)]])
                frame = cv2.warpAffine(texture, warp, (width, height),
                                       flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
                frame += rng.normal(0, 4, frame.shape).astype(np.float32)
                frame = np.clip(frame, 0, 255).astype(np.uint8)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')))
            container.mux(stream.encode())
        paths.append(path)
    return paths


@dataclass
class Result:
    """Clips/s of each timed round, and CPU time per clip of all processes involved."""

    rates: list[float]
    cpu_ms: float

    def row(self) -> str:
        return (f'{max(self.rates):7.1f} {float(np.median(self.rates)):7.1f} '
                f'{self.cpu_ms:8.1f}')


def _cpu_seconds(children: bool = False) -> float:
    times = os.times()
    return times.children_user + times.children_system if children \
        else times.user + times.system


def run_process(pipeline: Compose, videos: list[Path], clips: int, rounds: int) -> Result:
    """``pipeline`` called in a loop over ``videos``: ``rounds`` rounds of ``clips`` clips,
    each round with the same random draws."""

    def one(k: int) -> None:
        pipeline(dict(filename=str(videos[k % len(videos)]), label=0, start_index=0,
                      modality='RGB'))

    for k in range(len(videos)):  # warm-up: imports, caches, first-call costs
        one(k)
    rates, cpu = [], _cpu_seconds()
    for _ in range(rounds):
        np.random.seed(0)
        random.seed(0)
        start = time.perf_counter()
        for k in range(clips):
            one(k)
        rates.append(clips / (time.perf_counter() - start))
    return Result(rates, (_cpu_seconds() - cpu) / (clips * rounds) * 1000)


def run_loader(config: list[dict], videos: list[Path], clips: int, rounds: int, workers: int,
               folder: Path) -> Result:
    """A VideoDataset with ``config`` through ``workers`` DataLoader workers (batch 1):
    ``rounds`` consecutive windows of ``clips`` batches after a warm-up."""
    ann = folder / 'bench_list.txt'
    ann.write_text(''.join(f'{v} 0\n' for v in videos) * (clips * (rounds + 2)))
    dataset = VideoDataset(ann, config)
    cpu = _cpu_seconds() + _cpu_seconds(children=True)
    loader = build_dataloader(dataset, videos_per_gpu=1, workers_per_gpu=workers, seed=0,
                              shuffle=True)
    batches = iter(loader)
    warm_up = 2 * max(workers, 1)  # worker start-up, first calls
    for _ in range(warm_up):
        next(batches)
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(clips):
            next(batches)
        rates.append(clips / (time.perf_counter() - start))
    del batches  # joins the workers, whose CPU time then counts as the children's
    produced = warm_up + clips * rounds + 2 * workers  # + the batches prefetched in vain
    cpu = _cpu_seconds() + _cpu_seconds(children=True) - cpu
    return Result(rates, cpu / produced * 1000)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--videos', nargs='+', type=Path,
                        help='videos to read (default: three generated 10 s clips)')
    parser.add_argument('--pipelines', nargs='+', default=list(PIPELINES), choices=PIPELINES)
    parser.add_argument('--backends', nargs='+', default=['pyav', 'decord'], choices=DECODERS)
    parser.add_argument('--modes', nargs='+', default=['process', 'loader'],
                        choices=['process', 'loader'])
    parser.add_argument('--workers', type=int, default=2, help='DataLoader workers')
    parser.add_argument('--clips', type=int, default=30, help='clips per timed round')
    parser.add_argument('--rounds', type=int, default=5, help='timed rounds per measurement')
    args = parser.parse_args(argv)

    backends = [b for b in args.backends
                if b != 'decord' or importlib.util.find_spec('decord') is not None]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        videos = args.videos or make_videos(folder)
        print(f'videos: {", ".join(str(v) for v in videos)}')
        print(f'load average before: {", ".join(f"{x:.2f}" for x in os.getloadavg())}')
        print('clips/s: best and median round; CPU: ms per clip, all threads and processes')
        print(f'{"pipeline":<10} {"backend":<8} {"mode":<9} {"best":>7} {"median":>7} '
              f'{"CPU ms":>8}')
        for name in args.pipelines:
            for backend in backends:
                config = pipeline_config(name, backend)
                for mode in args.modes:
                    if mode == 'process':
                        result = run_process(Compose(config), videos, args.clips, args.rounds)
                        label = mode
                    else:
                        result = run_loader(config, videos, args.clips, args.rounds,
                                            args.workers, folder)
                        label = f'{mode}x{args.workers}'
                    print(f'{name:<10} {backend:<8} {label:<9} {result.row()}', flush=True)
        print(f'load average after: {", ".join(f"{x:.2f}" for x in os.getloadavg())}')


if __name__ == '__main__':
    main()
