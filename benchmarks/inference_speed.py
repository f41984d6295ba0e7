"""Inference speed of the recognition models: plain vs ``optimize_for_inference``, fp32 and
bf16 autocast, on the CPU (or a GPU).

    python benchmarks/inference_speed.py [--models tsn_r50 tsm_r50 ...] [--batch-sizes 1 8]
        [--threads 2] [--repeats 3] [--device cpu] [--dtypes fp32 bf16]
        [--variants plain optimised] [--channels-last auto|on|off]

Models (config, input of one view at 224 px; ``NAME:SIZE`` sets another side length):
tsn_r50 (25 segments), tsm_r50 (8 segments), i3d_r50 (32 frames), slowfast_r50 (4x16, 32
frames), x3d_s (13 frames; the config tests at 192 px, hence ``x3d_s:192`` in the default
list), x3d_m (16 frames), timesformer (divided space-time, 8 frames). Random weights (seed 0)
from the config; the batch is random too (the speed does not depend on the values).

``plain`` is ``model.eval()`` under ``torch.no_grad()`` (MMAction2's test loop);
``optimised`` is ``optimize_for_inference(model)`` under ``torch.inference_mode()``.
``bf16`` wraps the forward in ``torch.autocast(device, torch.bfloat16)``.

Every row runs in a fresh process, so one row's memory high-water mark and malloc
settings do not leak into the next: build, one warm-up pass, ``--repeats`` timed passes.
Printed per row, as it finishes:

* ``ms/batch``: the fastest timed pass (on a shared machine the least disturbed one);
* ``clips/s``: batch size / that time;
* ``GFLOP/s``: the model's FLOPs / that time. FLOPs are counted by
  ``torch.utils.flop_counter.FlopCounterMode`` on the meta device (convolutions, matrix
  products, attention; element-wise ops are not counted); a multiply-add counts as 2 FLOPs;
* ``peak MiB``: on the CPU, how far the resident memory rises above its level before the
  warm-up pass (``VmHWM`` after it, the high-water mark being reset first, minus ``VmRSS``
  before): activations, workspaces, layout copies; on CUDA, ``torch.cuda.max_memory_allocated``
  above the memory allocated before.

The closing note gives the speed-up of ``optimised`` over ``plain``, the MMAction2 0.24.1
speeds of the issue's target (fp32, batch 1, 2 threads, one 224 px view) and, per model,
the fraction of the CPU's peak its best row reaches: of the nominal peak (``--peak-fp32`` /
``--peak-bf16``, by default 220 and 900 GFLOP/s: an fp32 GEMM through PyTorch's default
BLAS, MKL, and a bf16 one, on this machine class) and of the GEMM rates measured at the
start (2048^3; for fp32 the faster of MKL and oneDNN, which on AMD CPUs is ~1.6x faster).
The load average (``os.getloadavg``) is printed at the start and the end.
Batch 8 of I3D/SlowFast at 224 px takes a while on 2 cores: ``--batch-sizes 1`` is quick.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

#: name -> (config, frames per view, input layout)
MODELS = {
    'tsn_r50': ('configs/recognition/tsn/tsn_r50_1x1x3_100e_kinetics400_rgb.py', 25, '2d'),
    'tsm_r50': ('configs/recognition/tsm/tsm_r50_1x1x8_50e_kinetics400_rgb.py', 8, '2d'),
    'i3d_r50': ('configs/recognition/i3d/i3d_r50_32x2x1_100e_kinetics400_rgb.py', 32, '3d'),
    'slowfast_r50': ('configs/recognition/slowfast/slowfast_r50_4x16x1_256e_kinetics400_rgb.py', 32, '3d'),
    'x3d_s': ('configs/recognition/x3d/x3d_s_13x6x1_facebook_kinetics400_rgb.py', 13, '3d'),
    'x3d_m': ('configs/recognition/x3d/x3d_m_16x5x1_facebook_kinetics400_rgb.py', 16, '3d'),
    'timesformer': ('configs/recognition/timesformer/timesformer_divST_8x32x1_15e_kinetics400_rgb.py',
                    8, '3d'),
}
DEFAULT_MODELS = ['tsn_r50', 'tsm_r50', 'i3d_r50', 'slowfast_r50', 'x3d_s', 'x3d_s:192', 'x3d_m',
                  'timesformer']
#: the issue's reference: MMAction2 0.24.1, fp32, batch 1, 2 threads, one 224 px view
MMACTION2_CLIPS_PER_S = {'tsn_r50': 0.21, 'tsm_r50': 0.26, 'i3d_r50': 0.37, 'slowfast_r50': 0.23,
                         'x3d_s': 0.25}
DTYPES = ('fp32', 'bf16')
VARIANTS = ('plain', 'optimised')


def parse_model(spec: str) -> tuple[str, int]:
    """``'x3d_s:192'`` -> ``('x3d_s', 192)``; the size defaults to 224."""
    name, _, size = spec.partition(':')
    if name not in MODELS:
        raise argparse.ArgumentTypeError(f'unknown model {name!r}; choose from {", ".join(MODELS)}')
    if size and not size.isdigit():
        raise argparse.ArgumentTypeError(f'model {spec!r}: the size after ":" must be a number of pixels')
    return name, int(size or 224)


def input_shape(name: str, size: int, batch: int) -> tuple[int, ...]:
    _, frames, layout = MODELS[name]
    if layout == '2d':
        return batch, frames, 3, size, size   # Recognizer2D: (N, segments, C, H, W)
    return batch, 1, 3, frames, size, size    # Recognizer3D: (N, views, C, T, H, W)


# ---------------------------------------------------------------------------------------
# One row, in its own process

def _memory_kib(field: str) -> int:
    text = Path('/proc/self/status').read_text()
    return int(re.search(rf'^{field}:\s+(\d+)', text, re.MULTILINE).group(1))


def _build(name: str, size: int):
    from actionlab.config import Config
    from actionlab.models import build_model

    cfg = Config.fromfile(ROOT / MODELS[name][0])
    cfg.model.backbone.pretrained = None
    if 'img_size' in cfg.model.backbone:
        cfg.model.backbone.img_size = size
    return build_model(cfg.model).eval()


def count_flops(name: str, size: int, batch: int) -> int:
    """FLOPs of one test forward (a multiply-add = 2), counted on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device('meta'):
        model = _build(name, size)
        imgs = torch.empty(input_shape(name, size, batch))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(imgs, return_loss=False)
    return counter.get_total_flops()


def run_row(spec: dict) -> dict:
    """Time one (model, size, batch, dtype, variant) row; returns times, FLOPs and peak memory."""
    from actionlab.models import optimize_for_inference

    device = torch.device(spec['device'])
    if device.type == 'cpu':
        torch.set_num_threads(spec['threads'])
    flops = count_flops(spec['model'], spec['size'], spec['batch'])
    torch.manual_seed(0)
    model = _build(spec['model'], spec['size']).to(device)
    grad_mode = torch.no_grad
    if spec['variant'] == 'optimised':
        channels_last = {'auto': 'auto', 'on': True, 'off': False}[spec['channels_last']]
        model = optimize_for_inference(model, channels_last=channels_last)
        grad_mode = torch.inference_mode
    imgs = torch.randn(input_shape(spec['model'], spec['size'], spec['batch']), device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if spec['dtype'] == 'bf16' \
        else contextlib.nullcontext()

    def forward() -> float:
        if device.type == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        with grad_mode(), autocast:
            model(imgs, return_loss=False)
        if device.type == 'cuda':
            torch.cuda.synchronize()
        return time.perf_counter() - start

    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        forward()
        peak = torch.cuda.max_memory_allocated() - before
    elif Path('/proc/self/clear_refs').exists():
        Path('/proc/self/clear_refs').write_text('5')  # reset VmHWM to the current VmRSS
        before = _memory_kib('VmRSS')
        forward()
        peak = (_memory_kib('VmHWM') - before) * 1024
    else:  # no /proc (not Linux): no high-water mark to read
        forward()
        peak = None
    times = [forward() for _ in range(spec['repeats'])]
    return dict(spec, times=times, flops=flops, peak_bytes=peak)


# ---------------------------------------------------------------------------------------
# The driver

def gemm_rates(device: torch.device, threads: int, n: int = 2048) -> dict[str, float]:
    """GFLOP/s of an n x n x n matrix product: fp32 (PyTorch's default BLAS), fp32 through
    oneDNN (a 1x1 conv over channels-last data; CPU only) and bf16."""
    if device.type == 'cpu':
        torch.set_num_threads(threads)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a16, b16 = a.bfloat16(), b.bfloat16()
    products = {'fp32 matmul': lambda: a @ b, 'bf16 matmul': lambda: a16 @ b16}
    if device.type == 'cpu':
        image = a.reshape(1, n, 1, n).permute(0, 3, 1, 2)   # a as (1, C, H, 1), channels-last
        kernel = b.t().reshape(n, n, 1, 1)
        products['fp32 oneDNN 1x1 conv'] = lambda: torch.ops.aten.mkldnn_convolution(
            image, kernel, None, (0, 0), (1, 1), (1, 1), 1)
    rates = {}
    with torch.inference_mode():
        for label, product in products.items():
            product()
            best = float('inf')
            for _ in range(5):
                if device.type == 'cuda':
                    torch.cuda.synchronize()
                start = time.perf_counter()
                product()
                if device.type == 'cuda':
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - start)
            rates[label] = 2 * n**3 / best / 1e9
    return rates


def _row_in_subprocess(spec: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(spec['threads']), MKL_NUM_THREADS=str(spec['threads']))
    proc = subprocess.run([sys.executable, __file__, '--worker', json.dumps(spec)], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        last_line = (proc.stderr.strip().splitlines() or [f'exit status {proc.returncode}'])[-1]
        return dict(spec, error=last_line)
    return json.loads(proc.stdout.strip().splitlines()[-1])


HEADER = (f'{"model":<13} {"size":>4} {"batch":>5} {"dtype":<5} {"variant":<9} {"ms/batch":>9} '
          f'{"clips/s":>8} {"GFLOP/s":>8} {"peak MiB":>8}')


def format_row(row: dict) -> str:
    head = (f'{row["model"]:<13} {row["size"]:>4} {row["batch"]:>5} {row["dtype"]:<5} '
            f'{row["variant"]:<9}')
    if 'error' in row:
        return f'{head} failed: {row["error"]}'
    best = min(row['times'])
    peak = '-' if row['peak_bytes'] is None else f'{row["peak_bytes"] / 2**20:.0f}'
    return (f'{head} {best * 1000:>9.1f} {row["batch"] / best:>8.2f} {row["flops"] / best / 1e9:>8.1f} '
            f'{peak:>8}')


def closing_note(rows: list[dict], peaks: dict[str, float], measured: dict[str, float]) -> list[str]:
    """Speed-ups, the MMAction2 target and the fraction of the nominal (``peaks``) and
    measured (``measured``) GEMM rates, per dtype, reached by each model's best row."""
    ok = [r for r in rows if 'error' not in r]
    best = {(r['model'], r['size'], r['batch'], r['dtype'], r['variant']): min(r['times']) for r in ok}
    lines = ['', 'speed-up of optimised over plain (same model, size, batch, dtype):']
    for (model, size, batch, dtype, variant), seconds in best.items():
        plain = best.get((model, size, batch, dtype, 'plain'))
        if variant == 'optimised' and plain:
            lines.append(f'  {model:<13} {size:>4} px  batch {batch}  {dtype}: {plain / seconds:.2f}x')
    lines += ['', 'MMAction2 0.24.1 target (fp32, batch 1, 224 px; 2x its clips/s):']
    for model, reference in MMACTION2_CLIPS_PER_S.items():
        for variant in VARIANTS:
            seconds = best.get((model, 224, 1, 'fp32', variant))
            if seconds:
                ratio = 1 / seconds / reference
                lines.append(f'  {model:<13} {variant:<9} {1 / seconds:6.2f} clips/s = {ratio:5.1f}x '
                             f'MMAction2 ({reference}) -> {"met" if ratio >= 2 else "NOT met"}')
    lines += ['', f'fraction of peak: nominal (fp32 {peaks["fp32"]:.0f}, bf16 {peaks["bf16"]:.0f} GFLOP/s) '
              f'and measured here (fp32 {measured["fp32"]:.0f}, bf16 {measured["bf16"]:.0f}), '
              'best variant per model, size, batch and dtype:']
    fastest: dict[tuple, dict] = {}
    for r in ok:
        key = (r['model'], r['size'], r['batch'], r['dtype'])
        if key not in fastest or min(r['times']) < min(fastest[key]['times']):
            fastest[key] = r
    for (model, size, batch, dtype), r in fastest.items():
        rate = r['flops'] / min(r['times']) / 1e9
        lines.append(f'  {model:<13} {size:>4} px  batch {batch}  {dtype}: {rate:7.1f} GFLOP/s = '
                     f'{rate / peaks[dtype]:6.1%} nominal, {rate / measured[dtype]:6.1%} measured '
                     f'({r["variant"]})')
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--models', nargs='+', type=parse_model, metavar='NAME[:SIZE]',
                        default=[parse_model(m) for m in DEFAULT_MODELS],
                        help=f'from {", ".join(MODELS)} (default: {" ".join(DEFAULT_MODELS)})')
    parser.add_argument('--batch-sizes', nargs='+', type=int, default=[1, 8])
    parser.add_argument('--threads', type=int, default=2, help='intra-op threads on the CPU (default 2)')
    parser.add_argument('--repeats', type=int, default=3, help='timed passes per row, after one warm-up')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dtypes', nargs='+', choices=DTYPES, default=list(DTYPES))
    parser.add_argument('--variants', nargs='+', choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument('--channels-last', choices=('auto', 'on', 'off'), default='auto',
                        help="optimize_for_inference's channels_last for the optimised rows")
    parser.add_argument('--peak-fp32', type=float, default=220.0, help='GFLOP/s (default 220)')
    parser.add_argument('--peak-bf16', type=float, default=900.0, help='GFLOP/s (default 900)')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_row(json.loads(args.worker))))
        return

    device = torch.device(args.device)
    print(f'{platform.processor() or platform.machine()}, torch {torch.__version__}, device {device}, '
          f'{args.threads} threads, best of {args.repeats} passes after a warm-up')
    print('load average (1, 5, 15 min) at start: %.2f %.2f %.2f' % os.getloadavg())
    rates = gemm_rates(device, args.threads)
    print('GEMM 2048^3 here: ' + ', '.join(f'{label} {rate:.0f} GFLOP/s' for label, rate in rates.items()))
    print(HEADER, flush=True)
    rows = []
    for name, size in args.models:
        for batch in args.batch_sizes:
            for dtype in args.dtypes:
                for variant in args.variants:
                    spec = dict(model=name, size=size, batch=batch, dtype=dtype, variant=variant,
                                threads=args.threads, repeats=args.repeats, device=args.device,
                                channels_last=args.channels_last)
                    rows.append(_row_in_subprocess(spec))
                    print(format_row(rows[-1]), flush=True)
    measured = {'fp32': max(rate for label, rate in rates.items() if label.startswith('fp32')),
                'bf16': rates['bf16 matmul']}
    for line in closing_note(rows, {'fp32': args.peak_fp32, 'bf16': args.peak_bf16}, measured):
        print(line)
    print('load average (1, 5, 15 min) at end: %.2f %.2f %.2f' % os.getloadavg())


if __name__ == '__main__':
    main()
