"""Temporal Adaptive Module (TAM), the temporal block of TANet.

Liu et al., "TAM: Temporal Adaptive Module for Video Recognition", ICCV 2021
(https://arxiv.org/abs/2005.06803).

Frames of a clip lie next to each other in the batch, (N * T, C, H, W). From the
spatially pooled features (N, C, T) TAM learns

* a *local* branch ``L``: per-frame channel importance in (0, 1) (Conv1d over time,
  BN, ReLU, Conv1d, sigmoid) that rescales the features, and
* a *global* branch ``G``: per (clip, channel) a softmax-normalised temporal kernel
  of size K (an MLP over the T pooled values) that aggregates neighbouring
  frames: ``y[t] = sum_k kernel[k] * x[t + k - padding]`` (zero outside the clip).

Child names (``G.0``, ``G.1``, ``G.3``, ``L.0``, ``L.1``, ``L.3``) follow MMAction2.
"""
from __future__ import annotations

import torch
from torch import nn


class TAM(nn.Module):
    """Temporal Adaptive Module on (N * num_segments, C, H, W) frame batches.

    Args:
        in_channels: channels C of the input.
        num_segments: frames T per clip.
        alpha: width of the global branch's hidden layer, ``T * alpha``.
        adaptive_kernel_size: size K of the learned temporal kernel.
        beta: channel reduction of the local branch (``C // beta`` hidden channels).
        conv1d_kernel_size: temporal kernel of the local branch's first Conv1d.
        adaptive_convolution_stride: temporal stride of the aggregation (must be 1:
            the output keeps all T frames).
        adaptive_convolution_padding: temporal zero padding of the aggregation; it
            must keep T frames, i.e. ``2 * padding == adaptive_kernel_size - 1``.
        init_std: kept for MMAction2 configs; like MMAction2 0.24.1 the layers keep
            PyTorch's default initialisation.
    """

    def __init__(self, in_channels: int, num_segments: int, alpha: int = 2,
                 adaptive_kernel_size: int = 3, beta: int = 4, conv1d_kernel_size: int = 3,
                 adaptive_convolution_stride: int = 1, adaptive_convolution_padding: int = 1,
                 init_std: float = 0.001):
        super().__init__()
        if alpha <= 0 or beta <= 0:
            raise ValueError(f'TAM alpha and beta must be positive, got alpha={alpha}, beta={beta}')
        if adaptive_convolution_stride != 1 or 2 * adaptive_convolution_padding != adaptive_kernel_size - 1:
            raise ValueError(
                f'TAM must keep the number of frames: adaptive_convolution_stride must be 1 and '
                f'2 * adaptive_convolution_padding == adaptive_kernel_size - 1, got stride '
                f'{adaptive_convolution_stride}, padding {adaptive_convolution_padding}, '
                f'kernel {adaptive_kernel_size}')
        self.in_channels = in_channels
        self.num_segments = num_segments
        self.alpha = alpha
        self.adaptive_kernel_size = adaptive_kernel_size
        self.beta = beta
        self.conv1d_kernel_size = conv1d_kernel_size
        self.adaptive_convolution_stride = adaptive_convolution_stride
        self.adaptive_convolution_padding = adaptive_convolution_padding
        self.init_std = init_std

        self.G = nn.Sequential(
            nn.Linear(num_segments, num_segments * alpha, bias=False),
            nn.BatchNorm1d(num_segments * alpha), nn.ReLU(inplace=True),
            nn.Linear(num_segments * alpha, adaptive_kernel_size, bias=False),
            nn.Softmax(-1))
        self.L = nn.Sequential(
            nn.Conv1d(in_channels, in_channels // beta, conv1d_kernel_size, stride=1,
                      padding=conv1d_kernel_size // 2, bias=False),
            nn.BatchNorm1d(in_channels // beta), nn.ReLU(inplace=True),
            nn.Conv1d(in_channels // beta, in_channels, 1, bias=False),
            nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N * T, C, H, W) -> (N * T, C, H, W)."""
        nt, c, h, w = x.shape
        t = self.num_segments
        if c != self.in_channels or nt % t:
            raise ValueError(f'TAM expects (N * {t}, {self.in_channels}, H, W) input, '
                             f'got shape {tuple(x.shape)}')
        n = nt // t
        x = x.view(n, t, c, h, w)
        # (N, C, T): what the clip looks like over time, per channel
        pooled = x.mean(dim=(3, 4)).transpose(1, 2)
        kernel = self.G(pooled.reshape(n * c, t)).view(n, c, -1)
        importance = self.L(pooled)

        # y[t] = sum_k kernel[k] * importance[s] * x[s] with s = t + k - padding: the
        # importance is folded into per-source-frame tap weights (N, K, T, C, 1, 1), so
        # the features are read once per tap and never rescaled into a separate copy
        taps = (kernel.transpose(1, 2)[..., None] * importance[:, None]).transpose(2, 3)[..., None, None]
        pad = self.adaptive_convolution_padding
        y = x * taps[:, pad]
        for k in range(self.adaptive_kernel_size):
            d = k - pad
            if d == 0 or abs(d) >= t:
                continue
            if d < 0:
                y[:, -d:].addcmul_(x[:, :t + d], taps[:, k, :t + d])
            else:
                y[:, :t - d].addcmul_(x[:, d:], taps[:, k, d:])
        return y.reshape(nt, c, h, w)
