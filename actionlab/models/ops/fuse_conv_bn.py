"""Fold BatchNorm layers into the convolutions before them, for faster inference.

In eval mode a BatchNorm is an affine map per channel, ``y = (x - mean) / sqrt(var + eps)
* gamma + beta``; applied to a convolution's output it can be folded into the
convolution's weight and bias, which saves one pass over every feature map.
"""
from __future__ import annotations

import logging

import torch
from torch import nn

from .conv_module import ConvModule
from .shift import TemporalShift

logger = logging.getLogger(__name__)


def _inner_conv(module: nn.Module) -> nn.modules.conv._ConvNd | None:
    """The convolution that produces ``module``'s output, if ``module`` is a (non-transposed)
    Conv1d/2d/3d, or a temporal shift in front of one; else None."""
    if isinstance(module, TemporalShift):
        return _inner_conv(module.net)
    if isinstance(module, nn.modules.conv._ConvNd) and not module.transposed:
        return module
    return None


def _foldable(conv: nn.modules.conv._ConvNd, bn: nn.Module) -> bool:
    return (isinstance(bn, nn.modules.batchnorm._BatchNorm) and bn.running_mean is not None
            and bn.num_features == conv.out_channels)


@torch.no_grad()
def _fold(conv: nn.modules.conv._ConvNd, bn: nn.modules.batchnorm._BatchNorm) -> None:
    """Make ``conv`` compute ``bn(conv(x))`` (BatchNorm with its running statistics)."""
    weight = conv.weight.double()
    scale = torch.rsqrt(bn.running_var.double() + bn.eps)
    shift = -bn.running_mean.double()
    if bn.affine:
        scale = scale * bn.weight.double()
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(shift)
    bias = (bias + shift) * scale
    if bn.affine:
        bias = bias + bn.bias.double()
    conv.weight.copy_(weight * scale.reshape((-1,) + (1,) * (weight.dim() - 1)))
    if conv.bias is None:
        conv.bias = nn.Parameter(torch.empty_like(bn.running_mean, dtype=conv.weight.dtype),
                                 requires_grad=conv.weight.requires_grad)
    conv.bias.copy_(bias)


def fuse_conv_bn(module: nn.Module) -> nn.Module:
    """Fold every BatchNorm that directly follows a Conv1d/2d/3d into that conv (in place).

    A BatchNorm is folded when it is the child registered right after a conv child of
    the same parent (the pairs ``conv``/``bn`` of a :class:`ConvModule` whose order puts
    the conv first, and ``conv1``/``bn1``-style pairs of plain blocks), it has running
    statistics and as many channels as the conv's outputs; it is then replaced by an
    ``nn.Identity``. A conv behind a :class:`TemporalShift` counts as a conv (the shift
    acts on the input). Only for inference: the folded model computes what the original
    computes in eval mode. Returns ``module``.
    """
    fused = _fuse_children(module)
    logger.debug('fuse_conv_bn: folded %d BatchNorm layers', fused)
    return module


def _fuse_children(module: nn.Module) -> int:
    fused = 0
    norm_first = isinstance(module, ConvModule) and module.order.index('norm') < module.order.index('conv')
    last_conv = None
    for name, child in module.named_children():
        if last_conv is not None and not norm_first and _foldable(last_conv, child):
            _fold(last_conv, child)
            setattr(module, name, nn.Identity())
            fused += 1
            last_conv = None
            continue
        last_conv = _inner_conv(child)
        fused += _fuse_children(child)
    return fused
