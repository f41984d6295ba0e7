"""Training speed on the CPU: seconds per iteration, data and compute measured apart.

Models (MMAction2 0.24.1's, 400 classes, random weights):

* ``tsn``: TSN ResNet-50, batch 2 x 3 segments of 224 x 224 (``tsn_r50_1x1x3_100e_kinetics400_rgb``);
* ``slowonly``: SlowOnly ResNet-50 4x16, batch 2 clips of 4 x 224 x 224
  (``slowonly_imagenet_pretrained_r50_4x16x1_150e_kinetics400_rgb``).

``compute``: forward, backward and SGD step (lr 0.01, momentum 0.9, weight decay 1e-4)
through ActionLab's training engine (``Runner`` with its optimizer hook, as
``train_model`` sets it up: channels-last weights, fused SGD, gradients dropped with
``set_to_none``), on one fixed batch, in ``fp32`` and in ``bf16`` (autocast through
``Fp16OptimizerHook``). ``mmaction2-style``: the same model trained the way MMAction2
0.24.1 does on a CPU (contiguous NCHW layout, the per-tensor SGD loop, gradients
zeroed in place), measured in alternation with ActionLab's so that both see the same
machine load. MMAction2 0.24.1 itself takes 0.61 s/iter (TSN) and 1.05 s/iter
(SlowOnly) for this on a 2-core CPU of this class.

``data``: the training pipeline (decord decoding, Resize -1x256, MultiScaleCrop or
RandomResizedCrop 224, Flip, Normalize, FormatShape) over synthetic 256 x 256 H.264
clips, per batch of 2, in the main process (what one data worker spends per batch).

Reported: minimum and median over ``--rounds`` x ``--iters`` timed iterations (the
minimum is the least disturbed by other processes). Example::

    python benchmarks/train_speed.py --threads 2 --rounds 3 --iters 4
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actionlab.config import Config  # noqa: E402
from actionlab.data import build_dataloader  # noqa: E402
from actionlab.data.datasets import VideoDataset  # noqa: E402
from actionlab.data.synthetic import make_synthetic_dataset  # noqa: E402
from actionlab.engine.hooks import Fp16OptimizerHook, Hook  # noqa: E402
from actionlab.engine.optimizers import build_optimizer  # noqa: E402
from actionlab.engine.runner import Runner, to_channels_last  # noqa: E402
from actionlab.models import build_model, retain_freed_memory  # noqa: E402
from actionlab.models.recognizers.base import parse_losses  # noqa: E402

NORM = dict(type='Normalize', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)
TAIL = [dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
        dict(type='ToTensor', keys=['imgs', 'label'])]
MODELS = {
    'tsn': dict(
        config='configs/_base_/models/tsn_r50.py', mmaction2=0.61,
        pipeline=[dict(type='DecordInit'),
                  dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=3),
                  dict(type='DecordDecode'), dict(type='Resize', scale=(-1, 256)),
                  dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66),
                       random_crop=False, max_wh_scale_gap=1),
                  dict(type='Resize', scale=(224, 224), keep_ratio=False), dict(type='Flip', flip_ratio=0.5),
                  NORM, dict(type='FormatShape', input_format='NCHW'), *TAIL]),
    'slowonly': dict(
        config='configs/_base_/models/slowonly_r50.py', mmaction2=1.05,
        pipeline=[dict(type='DecordInit'),
                  dict(type='SampleFrames', clip_len=4, frame_interval=16, num_clips=1),
                  dict(type='DecordDecode'), dict(type='Resize', scale=(-1, 256)),
                  dict(type='RandomResizedCrop'),
                  dict(type='Resize', scale=(224, 224), keep_ratio=False), dict(type='Flip', flip_ratio=0.5),
                  NORM, dict(type='FormatShape', input_format='NCTHW'), *TAIL]),
}
SGD = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4)
BATCH = 2


class Clock(Hook):
    """Times each iteration: registered first, it starts at ``before_train_iter``;
    :class:`StopClock`, registered last, stops it after every other hook's ``after_train_iter``."""

    def __init__(self):
        self.times: list[float] = []

    def before_train_iter(self, runner: Runner) -> None:
        self.start = time.perf_counter()


class StopClock(Hook):
    def __init__(self, clock: Clock):
        self.clock = clock

    def after_train_iter(self, runner: Runner) -> None:
        self.clock.times.append(time.perf_counter() - self.clock.start)


def build(name: str) -> torch.nn.Module:
    cfg = Config.fromfile(ROOT / MODELS[name]['config'])
    cfg.model.backbone.pretrained = None
    return build_model(cfg.model).train()


def actionlab_iters(model: torch.nn.Module, optimizer, batch: dict, n: int, precision: str) -> list[float]:
    """``n`` training iterations through the engine; the time of each."""
    retain_freed_memory()  # as train_model does on the CPU (process-wide: the baseline gets it too)
    runner = Runner(model, optimizer, max_epochs=1)
    clock = Clock()
    runner.register_hook(clock, 'HIGHEST')
    runner.register_training_hooks(None, Fp16OptimizerHook(dtype='bfloat16') if precision == 'bf16' else {})
    runner.register_hook(StopClock(clock), 'LOWEST')
    runner.run([[batch] * n], [('train', 1)])
    return clock.times


def mmaction2_iters(model: torch.nn.Module, optimizer, batch: dict, n: int) -> list[float]:
    """``n`` iterations as MMAction2 0.24.1 runs them (mmcv's OptimizerHook)."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        loss, _ = parse_losses(model(**batch, return_loss=True))
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def data_time(name: str, video_dir: Path, ann_file: Path, batches: int) -> float:
    dataset = VideoDataset(str(ann_file), MODELS[name]['pipeline'], data_prefix=str(video_dir))
    loader = build_dataloader(dataset, videos_per_gpu=BATCH, workers_per_gpu=0, seed=0)
    times = []
    while len(times) < batches:
        start = time.perf_counter()
        for batch in loader:
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
    return statistics.median(times[1:batches])


def summary(times: list[float]) -> str:
    return f'{min(times):.3f} / {statistics.median(times):.3f}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--models', nargs='+', choices=sorted(MODELS), default=['tsn', 'slowonly'])
    parser.add_argument('--precision', nargs='+', choices=['fp32', 'bf16'], default=['fp32', 'bf16'])
    parser.add_argument('--threads', type=int, default=2, help='torch intra-op threads')
    parser.add_argument('--rounds', type=int, default=3, help='alternations of the measured variants')
    parser.add_argument('--iters', type=int, default=4, help='timed iterations per round and variant')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations per variant first')
    parser.add_argument('--data-batches', type=int, default=6, help='batches timed for the data pipeline')
    parser.add_argument('--no-baseline', action='store_true', help='skip the MMAction2-style loop')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    with tempfile.TemporaryDirectory() as tmp:
        info = make_synthetic_dataset(tmp, num_train_per_class=1, num_val_per_class=0, size=256,
                                      num_frames=96, progress=False)
        print(f'torch {torch.__version__}, {args.threads} threads; times in s/iter as min / median '
              f'over {args.rounds} x {args.iters} iterations\n')
        print(f'{"model":<9} {"precision":<9} {"data":>7} {"compute (ActionLab)":>20} '
              f'{"mmaction2-style fp32":>21} {"speed-up (min)":>15}  MMAction2 0.24.1')
        for name in args.models:
            data = data_time(name, Path(info['videos']), Path(info['train_list']), args.data_batches)
            pipeline_batch = next(iter(build_dataloader(
                VideoDataset(info['train_list'], MODELS[name]['pipeline'], data_prefix=info['videos']),
                videos_per_gpu=BATCH, workers_per_gpu=0)))
            batch = {'imgs': pipeline_batch['imgs'], 'label': pipeline_batch['label']}
            reference = build(name)
            baseline = None
            if not args.no_baseline:
                model = copy.deepcopy(reference)
                optimizer = build_optimizer(model, dict(SGD, foreach=False))
                baseline = (model, optimizer, [])
                mmaction2_iters(model, optimizer, batch, args.warmup)
            ours = {}
            for precision in args.precision:
                model = to_channels_last(copy.deepcopy(reference))
                optimizer = build_optimizer(model, SGD)
                actionlab_iters(model, optimizer, batch, args.warmup, precision)
                ours[precision] = (model, optimizer, [])
            for _ in range(args.rounds):
                if baseline is not None:
                    baseline[2].extend(mmaction2_iters(baseline[0], baseline[1], batch, args.iters))
                for precision, (model, optimizer, times) in ours.items():
                    times.extend(actionlab_iters(model, optimizer, batch, args.iters, precision))
            base_text = summary(baseline[2]) if baseline else '-'
            for precision, (_, _, times) in ours.items():
                speedup = f'{min(baseline[2]) / min(times):.2f}x' if baseline else '-'
                print(f'{name:<9} {precision:<9} {data:>7.3f} {summary(times):>20} {base_text:>21} '
                      f'{speedup:>15}  {MODELS[name]["mmaction2"]:.2f} (fp32 compute)', flush=True)


if __name__ == '__main__':
    main()
