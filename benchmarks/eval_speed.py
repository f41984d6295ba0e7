"""Speed of the test tool's parts on the CPU: metrics at benchmark scale, and what
``fuse_conv_bn`` saves at inference.

Metrics (synthetic inputs of the size of the real benchmarks, seeded):

* ``mean_average_precision`` / ``mmit_mean_average_precision``: 20,000 samples x 400
  classes with tied scores (MMAction2 computes one precision-recall curve per class or
  sample in a Python loop);
* ``average_recall_at_avg_proposals``: ActivityNet proposals, 4,728 videos, 1-4 ground
  truths and 100 proposals each (AR@100);
* ``ActivityNetLocalization``: 200 classes, 4,728 videos, 100 detections per video
  (MMAction2: a Python loop over detections x thresholds x ground truths).

``fuse_conv_bn``: test-mode forward of TSM ResNet-50 (1 clip of 8 x 224 x 224, 400
classes, random weights), BatchNorms folded into the convs vs. not, fastest of
``--repeats`` (alternating) after one warm-up, with ``--threads`` intra-op threads; wall
time, and the process's CPU time (with one thread, CPU time is the compute time even on
a busy machine).

    python benchmarks/eval_speed.py [--threads 1] [--repeats 5] [--skip-model]
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actionlab.evaluation import (  # noqa: E402
    ActivityNetLocalization,
    average_recall_at_avg_proposals,
    mean_average_precision,
    mmit_mean_average_precision,
)
from actionlab.models import build_model  # noqa: E402
from actionlab.models.ops import fuse_conv_bn  # noqa: E402


def _timed(fn) -> float:
    """CPU seconds of one call (NumPy runs these on one core, so that is the compute time
    even on a busy machine)."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def _activitynet(rng: np.random.Generator, folder: Path, num_videos: int = 4728, num_classes: int = 200,
                 per_video: int = 100) -> tuple[dict, dict, Path, Path]:
    gt, proposals, gt_json, results_json = {}, {}, {}, {}
    for v in range(num_videos):
        n = rng.integers(1, 5)
        starts = rng.uniform(0, 100, n)
        segments = np.stack([starts, starts + rng.uniform(5, 60, n)], axis=1)
        labels = rng.integers(0, num_classes, n)
        gt[f'{v}'] = segments
        gt_json[f'v_{v}'] = {'annotations': [{'label': f'c{lab}', 'segment': seg.tolist()}
                                             for lab, seg in zip(labels, segments)]}
        # proposals: jittered ground truths and random segments
        base = segments[rng.integers(0, n, per_video)]
        jitter = rng.normal(0, 5, (per_video, 2)) * (rng.random((per_video, 1)) < 0.5)
        props = np.sort(base + jitter, axis=1)
        proposals[f'{v}'] = np.concatenate([props, rng.random((per_video, 1))], axis=1)
        # half the detections carry a class of the video, half a random one
        classes = np.where(rng.random(per_video) < 0.5, labels[np.arange(per_video) % n],
                           rng.integers(0, num_classes, per_video))
        results_json[f'{v}'] = [{'label': f'c{c}', 'segment': p[:2].tolist(), 'score': float(p[2])}
                                for c, p in zip(classes, proposals[f'{v}'])]
    gt_file, results_file = folder / 'gt.json', folder / 'results.json'
    gt_file.write_text(json.dumps(gt_json))
    results_file.write_text(json.dumps({'results': results_json}))
    return gt, proposals, gt_file, results_file


def bench_metrics() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((20000, 400)).round(3)
    labels = (rng.random((20000, 400)) < 0.01).astype(np.int64)
    labels[np.arange(20000), rng.integers(0, 400, 20000)] = 1
    print(f'mean_average_precision       20000 x 400: '
          f'{_timed(lambda: mean_average_precision(scores, labels)):.2f} s CPU')
    print(f'mmit_mean_average_precision  20000 x 400: '
          f'{_timed(lambda: mmit_mean_average_precision(scores, labels)):.2f} s CPU')
    with tempfile.TemporaryDirectory() as tmp:
        gt, proposals, gt_file, results_file = _activitynet(rng, Path(tmp))
        total = sum(len(p) for p in proposals.values())
        seconds = _timed(lambda: average_recall_at_avg_proposals(gt, proposals, total, 100))
        print(f'average_recall_at_avg_proposals  {len(gt)} videos x 100: {seconds:.2f} s CPU')
        evaluator = None

        def load():
            nonlocal evaluator
            evaluator = ActivityNetLocalization(gt_file, results_file)
        print(f'ActivityNetLocalization load     {total} detections: {_timed(load):.2f} s CPU')
        seconds = _timed(evaluator.evaluate)
        print(f'ActivityNetLocalization evaluate 200 classes x 10 tIoU: {seconds:.2f} s CPU '
              f'(average mAP {evaluator.average_mAP:.4f})')


def bench_fuse(repeats: int) -> None:
    model = build_model(dict(
        type='Recognizer2D',
        backbone=dict(type='ResNetTSM', depth=50, pretrained=None, num_segments=8),
        cls_head=dict(type='TSMHead', num_classes=400, in_channels=2048, num_segments=8),
        test_cfg=dict(average_clips='prob'))).eval()
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():  # non-trivial statistics, so the outputs are compared for real
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    nets = {'plain': model, 'fused': fuse_conv_bn(copy.deepcopy(model))}
    imgs = torch.randn(1, 8, 3, 224, 224, generator=gen)
    wall = dict.fromkeys(nets, float('inf'))
    cpu = dict.fromkeys(nets, float('inf'))
    with torch.inference_mode():
        outputs = {name: net(imgs, return_loss=False) for name, net in nets.items()}  # warm-up
        # alternate the two, so that both see the same machine load
        for _ in range(repeats):
            for name, net in nets.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                net(imgs, return_loss=False)
                wall[name] = min(wall[name], time.perf_counter() - start)
                cpu[name] = min(cpu[name], time.process_time() - start_cpu)
    for name in nets:
        print(f'TSM-R50 8x224 forward, {name}: {wall[name]:.3f} s wall, {cpu[name]:.3f} s CPU')
    print(f'fused / plain: {wall["fused"] / wall["plain"]:.3f} wall, {cpu["fused"] / cpu["plain"]:.3f} CPU')
    diff = (outputs['plain'] - outputs['fused']).abs().max().item()
    print(f'max |plain - fused| of the class probabilities: {diff:.2e}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--threads', type=int, default=1, help='torch intra-op threads (default: 1)')
    parser.add_argument('--repeats', type=int, default=5, help='timed forward passes (default: 5)')
    parser.add_argument('--skip-model', action='store_true', help='metrics only')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bench_metrics()
    if not args.skip_model:
        bench_fuse(args.repeats)


if __name__ == '__main__':
    main()
