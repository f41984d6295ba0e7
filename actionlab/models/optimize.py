"""Faster inference of a built model: :func:`optimize_for_inference` (and the
process-wide :func:`retain_freed_memory` it applies on CPUs).

The steps, with what each bought on a 2-core AMD EPYC (Zen 5), batch 1, 224 px, fp32
(``benchmarks/inference_speed.py`` measures the whole; together 1.5x on TSM-R50 to 4x
on X3D-M over the plain model):

* **Conv + BN folding** (:func:`~actionlab.models.ops.fuse_conv_bn`): one pass less
  over every feature map.
* **Channels-last** activations for the 2D and 3D convs: oneDNN's NHWC/NDHWC kernels
  are faster for every family measured, X3D's depthwise 3D convs included (2-10x on
  their own, forward and backward; a slowdown reported for them does not reproduce
  with PyTorch 2.13 / oneDNN 3.12).
* **oneDNN layers** (:mod:`~actionlab.models.ops.onednn`): convs that PyTorch would
  send to its slower native kernels at batch 1, and linear layers that would go to
  MKL's AVX2 code on AMD CPUs, run on oneDNN instead (about 2x on I3D, SlowFast, X3D
  and TimeSformer, measured on one thread).
* **Retained freed memory** (:func:`retain_freed_memory`): about 2x on TSN-R50 with
  25 frames, whose activations are the largest.

All of it keeps the outputs (within float rounding: 1e-5 relative on every model of
the config zoo); the model is for inference only (BatchNorm statistics are baked into
the convs).
"""
from __future__ import annotations

import ctypes
import logging
import sys

import torch
from torch import nn

from .builder import model_device
from .ops.fuse_conv_bn import fuse_conv_bn as fold_batch_norms
from .ops.onednn import use_onednn_layers

logger = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def retain_freed_memory(limit_bytes: int = 1 << 30) -> bool:
    """Make glibc's malloc keep freed blocks of up to ``limit_bytes`` for reuse (whole process).

    By default glibc maps every allocation above its mmap threshold (at most 32 MiB)
    from the kernel and unmaps it when freed, so each forward pass of a video model
    on the CPU gets its large activations as fresh pages that the kernel must fault in
    and zero: TSN-R50 with 25 frames takes 780,000 page faults per clip and spends
    half of its time in them. Raising the mmap and trim thresholds keeps that memory
    in the heap, where the next allocation reuses it; the process's resident memory
    then stays near its peak instead of shrinking between passes.

    Returns whether malloc accepted the setting (False where the C library is not
    glibc, e.g. on macOS, Windows or musl).
    """
    if not 0 < limit_bytes < 2**31:
        raise ValueError(f'retain_freed_memory limit_bytes must be in (0, 2**31), got {limit_bytes}')
    if not sys.platform.startswith('linux'):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    accepted = mallopt(_M_MMAP_THRESHOLD, limit_bytes) == 1 and mallopt(_M_TRIM_THRESHOLD, limit_bytes) == 1
    if accepted:
        logger.info('malloc keeps freed blocks of up to %d MiB for reuse', limit_bytes >> 20)
    return accepted


def convs_to_channels_last(model: nn.Module) -> int:
    """Store every Conv2d weight channels-last and every Conv3d weight channels-last-3d,
    so that the convs compute, and hand on, channels-last activations; in place.

    Done per layer because ``model.to(memory_format=...)`` fails on models that mix
    2D and 3D convs (TSM with non-local blocks). Returns how many convs were converted.
    """
    converted = 0
    for layer in model.modules():
        if isinstance(layer, nn.Conv2d):
            layer.to(memory_format=torch.channels_last)
        elif isinstance(layer, nn.Conv3d):
            layer.to(memory_format=torch.channels_last_3d)
        else:
            continue
        converted += 1
    return converted


def optimize_for_inference(model: nn.Module, channels_last: bool | str = 'auto',
                           fuse_conv_bn: bool = True, onednn: bool = True,
                           retain_memory: bool = True) -> nn.Module:
    """Make ``model`` faster at inference, in place, and return it (in eval mode).

    Call it once the model is on its device and has its weights; then run it under
    ``torch.inference_mode()`` (or ``torch.no_grad()``). Outputs stay the same within
    float rounding. With gradients on, the model still computes the same function
    (Grad-CAM works), but BatchNorm statistics are folded into the convs, so it must
    not be trained any more.

    Args:
        model: any model, typically a recognizer from ``build_model``.
        channels_last: ``'auto'``: channels-last convs on the CPU, where it is the faster
            layout for every family measured (TSN, TSM, I3D, SlowFast, X3D, TimeSformer;
            fp32 and bf16), and the default layout on other devices, where it has not
            been measured here; ``True``/``False`` force it on/off.
        fuse_conv_bn: fold each BatchNorm into the conv before it.
        onednn: on the CPU, switch convs, linear layers and self-attention to their
            oneDNN forms (:func:`~actionlab.models.ops.onednn.use_onednn_layers`).
        retain_memory: on the CPU, let malloc keep freed activations for reuse
            (:func:`retain_freed_memory`; this setting is process-wide).
    """
    if channels_last not in ('auto', True, False):
        raise ValueError(f"optimize_for_inference channels_last must be 'auto', True or False, "
                         f'got {channels_last!r}')
    model.eval()
    on_cpu = model_device(model).type == 'cpu'
    if fuse_conv_bn:
        fold_batch_norms(model)
    if channels_last is True or (channels_last == 'auto' and on_cpu):
        convs_to_channels_last(model)
    if onednn and on_cpu:
        switched = use_onednn_layers(model)
        logger.debug('optimize_for_inference: %d layers run on oneDNN', switched)
    if retain_memory and on_cpu:
        retain_freed_memory()
    return model
