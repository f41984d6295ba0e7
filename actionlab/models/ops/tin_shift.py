"""Temporal interlace shifts (TIN) in plain PyTorch, numerically mmcv's ``tin_shift``.

Shao et al., "Temporal Interlacing Network", AAAI 2020 (https://arxiv.org/abs/2001.06499).

mmcv ships ``tin_shift`` as a CUDA kernel: for an input (N, T, C, R) split into G
channel groups and an integer shift per (sample, group), frame ``t`` of the output
is frame ``t - shift`` of the input, and frames shifted in from outside the clip
are zero. TIN moves groups by fractional, learned offsets: it linearly
interpolates the two integer shifts around each offset (:func:`linear_sampler`).

Both are written here as one small (T x T) mixing matrix per (sample, group),
applied to the features with a single batched matmul. That is exact (the
matrices hold the interpolation weights and zeros), runs on any device and
dtype, needs no loop over frames, and passes gradients both to the features and,
through the interpolation weights, to the offsets.
"""
from __future__ import annotations

import torch


def _check_groups(x: torch.Tensor, groups: int, what: str) -> None:
    if x.dim() < 3:
        raise ValueError(f'{what}: input must be (N, T, C, ...), got shape {tuple(x.shape)}')
    if groups <= 0 or x.shape[2] % groups:
        raise ValueError(f'{what}: channels ({x.shape[2]}) must be a multiple of the number of '
                         f'shift groups ({groups})')


def _shift_matrix(shift: torch.Tensor, num_frames: int, dtype: torch.dtype) -> torch.Tensor:
    """One-hot (N, G, T, T) matrices M with ``M[n, g, t, s] = 1`` iff ``s == t - shift[n, g]``.

    Rows whose source frame lies outside the clip are all zero, which is mmcv's
    boundary handling (zero fill).
    """
    frames = torch.arange(num_frames, device=shift.device)
    source = frames.view(1, 1, -1, 1) - shift[..., None, None]
    return (source == frames.view(1, 1, 1, -1)).to(dtype)


def _temporal_mix(x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    """``out[n, t, c] = sum_s mix[n, g(c), t, s] * x[n, s, c]`` for x (N, T, C, ...)."""
    n, t, c = x.shape[:3]
    groups = mix.shape[1]
    grouped = x.reshape(n, t, groups, c // groups, -1)
    out = torch.einsum('ngts,nsgcr->ntgcr', mix, grouped)
    return out.reshape(x.shape)


def tin_shift(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Shift channel groups of ``x`` (N, T, C, ...) along T by whole frames (mmcv's op).

    Args:
        x: features, T frames per sample; any trailing dims (mmcv uses H*W).
        shift: integer shifts (N, G); group ``g`` holds channels
            ``g * C/G ... (g + 1) * C/G - 1``. A positive shift moves content to
            later frames: ``out[:, t] = x[:, t - shift]``, zero where ``t - shift``
            falls outside ``0 .. T-1``.
    """
    if shift.dim() != 2 or shift.shape[0] != x.shape[0]:
        raise ValueError(f'tin_shift: shift must be (N, groups) with N = {x.shape[0]} (the batch of '
                         f'the input), got shape {tuple(shift.shape)}')
    if shift.is_floating_point():
        raise TypeError(f'tin_shift: shift must hold integers, got {shift.dtype}')
    _check_groups(x, shift.shape[1], 'tin_shift')
    return _temporal_mix(x, _shift_matrix(shift, x.shape[1], x.dtype))


def linear_sampler(x: torch.Tensor, offset: torch.Tensor,
                   weight: torch.Tensor | None = None) -> torch.Tensor:
    """Shift channel groups of ``x`` (N, T, C, ...) by fractional offsets (N, G).

    ``out = (1 - a) * tin_shift(x, floor(offset)) + a * tin_shift(x, floor(offset) + 1)``
    with ``a = offset - floor(offset)``, as MMAction2's TIN ``linear_sampler``; the
    result is differentiable in ``offset``. ``weight`` (N, T, G), if given, scales
    output frame ``t`` of group ``g`` (TIN's WeightNet), folded into the same
    mixing matrices so the features are read only once.
    """
    if offset.dim() != 2 or offset.shape[0] != x.shape[0]:
        raise ValueError(f'linear_sampler: offset must be (N, groups) with N = {x.shape[0]}, '
                         f'got shape {tuple(offset.shape)}')
    _check_groups(x, offset.shape[1], 'linear_sampler')
    num_frames = x.shape[1]
    floor = offset.detach().floor()
    frac = (offset - floor).to(x.dtype)[..., None, None]
    floor = floor.long()
    mix = (1 - frac) * _shift_matrix(floor, num_frames, x.dtype) \
        + frac * _shift_matrix(floor + 1, num_frames, x.dtype)
    if weight is not None:
        if weight.shape != (x.shape[0], num_frames, offset.shape[1]):
            raise ValueError(f'linear_sampler: weight must be (N, T, groups) = '
                             f'{(x.shape[0], num_frames, offset.shape[1])}, got {tuple(weight.shape)}')
        mix = mix * weight.transpose(1, 2).to(x.dtype)[..., None]
    return _temporal_mix(x, mix)
