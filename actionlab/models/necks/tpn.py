"""Temporal Pyramid Network neck.

Yang et al., "Temporal Pyramid Network for Action Recognition", CVPR 2020
(https://arxiv.org/abs/2004.03548).

Backbone features of several depths form a pyramid. Spatial modulation brings
every level to the top level's resolution and width, temporal modulation gives
each level its own frame rate (a temporal max-pool), and information then flows
top-down (upsampling) and bottom-up (downsampling) between levels; each flow is
fused over levels and the two results are fused once more. During training an
auxiliary head on the second-to-last level adds ``loss_aux``. Names follow
MMAction2, so its checkpoints load.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..builder import MODELS
from ..ops import ConvModule, constant_init, normal_init

_BN3D = dict(type='BN3d', requires_grad=True)
_RELU = dict(type='ReLU', inplace=True)
_CONV3D = dict(type='Conv3d')


def _tuple(value):
    """Lists from JSON/YAML configs -> tuples, recursively (ints stay ints)."""
    return tuple(_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def _xavier_conv3d_init(module: nn.Module) -> None:
    """Xavier-uniform Conv3d weights, zero biases, BatchNorm3d at weight 1 / bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm3d):
            constant_init(m, 1)


class DownSample(nn.Module):
    """A conv and a max-pool (pool first with ``downsample_position='before'``).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, groups, bias,
            conv_cfg, norm_cfg, act_cfg: of the :class:`ConvModule`.
        downsample_position: ``'after'`` (conv, pool) or ``'before'`` (pool, conv).
        downsample_scale: kernel and stride of the max-pool (ceil mode).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int] = (3, 1, 1),
                 stride: int | Sequence[int] = (1, 1, 1), padding: int | Sequence[int] = (1, 0, 0),
                 groups: int = 1, bias: bool | str = False, conv_cfg: Mapping = _CONV3D,
                 norm_cfg: Mapping | None = None, act_cfg: Mapping | None = None,
                 downsample_position: str = 'after',
                 downsample_scale: int | Sequence[int] = (1, 2, 2)):
        super().__init__()
        if downsample_position not in ('before', 'after'):
            raise ValueError(f"TPN DownSample downsample_position must be 'before' or 'after', "
                             f'got {downsample_position!r}')
        self.conv = ConvModule(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                               groups=groups, bias=bias, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                               act_cfg=act_cfg)
        self.downsample_position = downsample_position
        scale = _tuple(downsample_scale)
        self.pool = nn.MaxPool3d(scale, scale, (0, 0, 0), ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample_position == 'before':
            return self.conv(self.pool(x))
        return self.pool(self.conv(x))


class LevelFusion(nn.Module):
    """Fuse the levels: per level a grouped 1x1x1 conv (after a max-pool), concatenate,
    then a 1x1x1 conv.

    Args:
        in_channels, mid_channels: per level.
        out_channels: channels of the fused output.
        downsample_scales: per level, the max-pool scale before the conv.
    """

    def __init__(self, in_channels: Sequence[int], mid_channels: Sequence[int], out_channels: int,
                 downsample_scales: Sequence = ((1, 1, 1), (1, 1, 1))):
        super().__init__()
        self.downsamples = nn.ModuleList(
            DownSample(cin, cmid, kernel_size=(1, 1, 1), stride=(1, 1, 1), padding=(0, 0, 0), groups=32,
                       bias=False, norm_cfg=_BN3D, act_cfg=_RELU, downsample_position='before',
                       downsample_scale=scale)
            for cin, cmid, scale in zip(in_channels, mid_channels, downsample_scales))
        self.fusion_conv = ConvModule(sum(mid_channels), out_channels, 1, bias=False, conv_cfg=_CONV3D,
                                      norm_cfg=_BN3D, act_cfg=_RELU)

    def forward(self, x: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.fusion_conv(torch.cat([down(level) for down, level in zip(self.downsamples, x)], 1))


class SpatialModulation(nn.Module):
    """Bring every level to the top level's resolution: log2(out / in) stride-2 1x3x3
    convs, each doubling the channels (the identity where the widths already match).

    Args:
        in_channels: per level.
        out_channels: channels of the top level.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int):
        super().__init__()
        self.spatial_modulation = nn.ModuleList()
        for channels in in_channels:
            steps = int(math.log2(out_channels // channels)) if out_channels >= channels else 0
            if steps < 1:
                self.spatial_modulation.append(nn.Identity())
                continue
            self.spatial_modulation.append(nn.ModuleList(
                ConvModule(channels * 2**k, channels * 2**(k + 1), (1, 3, 3), stride=(1, 2, 2),
                           padding=(0, 1, 1), bias=False, conv_cfg=_CONV3D, norm_cfg=_BN3D, act_cfg=_RELU)
                for k in range(steps)))

    def forward(self, x: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        out = []
        for ops, level in zip(self.spatial_modulation, x):
            for op in ops if isinstance(ops, nn.ModuleList) else (ops,):
                level = op(level)
            out.append(level)
        return out


class AuxHead(nn.Module):
    """Auxiliary classifier on one pyramid level, for deeper supervision in training.

    Args:
        in_channels: channels of the level.
        out_channels: number of classes.
        loss_weight: factor of ``loss_aux``.
        loss_cls: loss config.
    """

    def __init__(self, in_channels: int, out_channels: int, loss_weight: float = 0.5,
                 loss_cls: Mapping = dict(type='CrossEntropyLoss')):
        super().__init__()
        self.conv = ConvModule(in_channels, in_channels * 2, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1),
                               bias=False, conv_cfg=_CONV3D, norm_cfg=_BN3D)
        self.avg_pool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.loss_weight = loss_weight
        self.dropout = nn.Dropout(p=0.5)
        self.fc = nn.Linear(in_channels * 2, out_channels)
        self.loss_cls = MODELS.build(loss_cls)

    def init_weights(self) -> None:
        """Xavier convs, unit norms, normal(0, 0.01) fc."""
        _xavier_conv3d_init(self)
        normal_init(self.fc, std=0.01)

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``{'loss_aux': ...}`` for the labels ``target`` (class indices or soft targets);
        ``{}`` without a target."""
        if target is None:
            return {}
        x = self.dropout(self.avg_pool(self.conv(x)).flatten(1))
        if target.dim() == 0:  # one sample's label
            target = target.unsqueeze(0)
        return {'loss_aux': self.loss_weight * self.loss_cls(self.fc(x), target)}


class TemporalModulation(nn.Module):
    """A grouped 3x1x1 conv and a temporal max-pool that sets the level's frame rate.

    Args:
        in_channels, out_channels: of the conv.
        downsample_scale: temporal kernel and stride of the max-pool.
    """

    def __init__(self, in_channels: int, out_channels: int, downsample_scale: int = 8):
        super().__init__()
        self.conv = ConvModule(in_channels, out_channels, (3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0),
                               bias=False, groups=32, conv_cfg=_CONV3D, act_cfg=None)
        self.pool = nn.MaxPool3d((downsample_scale, 1, 1), (downsample_scale, 1, 1), (0, 0, 0),
                                 ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


@MODELS.register_module()
class TPN(nn.Module):
    """TPN neck: backbone features of several levels -> one fused (N, 2048, T, H, W) map.

    Args:
        in_channels: channels of each level (bottom to top).
        out_channels: channels of each level inside the pyramid.
        spatial_modulation_cfg: ``in_channels``/``out_channels`` of :class:`SpatialModulation`.
        temporal_modulation_cfg: ``downsample_scales``, one per level, or None.
        upsample_cfg: ``nn.Upsample`` arguments of the top-down flow, or None (no flow).
        downsample_cfg: :class:`DownSample` arguments of the bottom-up flow, or None.
        level_fusion_cfg: :class:`LevelFusion` arguments (used for both flows).
        aux_head_cfg: :class:`AuxHead` arguments (``out_channels``, ``loss_weight``...),
            or None for no auxiliary loss.
        flow_type: ``'cascade'`` (bottom-up on the top-down result) or ``'parallel'``
            (both from the modulated levels).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int,
                 spatial_modulation_cfg: Mapping | None = None,
                 temporal_modulation_cfg: Mapping | None = None, upsample_cfg: Mapping | None = None,
                 downsample_cfg: Mapping | None = None, level_fusion_cfg: Mapping | None = None,
                 aux_head_cfg: Mapping | None = None, flow_type: str = 'cascade'):
        super().__init__()
        if flow_type not in ('cascade', 'parallel'):
            raise ValueError(f"TPN flow_type must be 'cascade' or 'parallel', got {flow_type!r}")
        for key, cfg in (('spatial_modulation_cfg', spatial_modulation_cfg),
                         ('level_fusion_cfg', level_fusion_cfg)):
            if not isinstance(cfg, Mapping):
                raise TypeError(f'TPN {key} must be a dict, got {cfg!r}')
        self.in_channels = tuple(in_channels)
        self.out_channels = out_channels
        self.num_tpn_stages = len(self.in_channels)
        self.flow_type = flow_type

        self.temporal_modulation_ops = nn.ModuleList()
        self.upsample_ops = nn.ModuleList()
        self.downsample_ops = nn.ModuleList()
        level_fusion_cfg = {k: _tuple(v) for k, v in level_fusion_cfg.items()}
        self.level_fusion_1 = LevelFusion(**level_fusion_cfg)
        self.spatial_modulation = SpatialModulation(**spatial_modulation_cfg)
        for i in range(self.num_tpn_stages):
            if temporal_modulation_cfg is not None:
                # every level has the top level's width after spatial modulation
                self.temporal_modulation_ops.append(TemporalModulation(
                    self.in_channels[-1], out_channels, temporal_modulation_cfg['downsample_scales'][i]))
            if i < self.num_tpn_stages - 1:
                if upsample_cfg is not None:
                    self.upsample_ops.append(nn.Upsample(**{k: _tuple(v) for k, v in upsample_cfg.items()}))
                if downsample_cfg is not None:
                    self.downsample_ops.append(DownSample(out_channels, out_channels, **downsample_cfg))
        self.level_fusion_2 = LevelFusion(**level_fusion_cfg)
        self.pyramid_fusion = ConvModule(level_fusion_cfg['out_channels'] * 2, 2048, 1, bias=False,
                                         conv_cfg=_CONV3D, norm_cfg=_BN3D)
        self.aux_head = AuxHead(self.in_channels[-2], **aux_head_cfg) if aux_head_cfg is not None else None

    def init_weights(self) -> None:
        """Xavier convs, unit norms; the auxiliary head's own init."""
        _xavier_conv3d_init(self)
        if self.aux_head is not None:
            self.aux_head.init_weights()

    def forward(self, x: Sequence[torch.Tensor], target: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Levels (N, C_i, T_i, H_i, W_i) -> (fused map, ``{'loss_aux'}`` when ``target`` is
        given and there is an auxiliary head, else ``{}``)."""
        loss_aux = self.aux_head(x[-2], target) if self.aux_head is not None else {}

        levels = self.spatial_modulation(x)
        if len(self.temporal_modulation_ops):
            levels = [modulate(level) for modulate, level in zip(self.temporal_modulation_ops, levels)]

        top_down = list(levels)
        for i in range(len(self.upsample_ops), 0, -1):
            top_down[i - 1] = top_down[i - 1] + self.upsample_ops[i - 1](top_down[i])
        top_down_out = self.level_fusion_1(top_down)

        bottom_up = list(levels) if self.flow_type == 'parallel' else top_down
        for i, downsample in enumerate(self.downsample_ops):
            bottom_up[i + 1] = bottom_up[i + 1] + downsample(bottom_up[i])
        bottom_up_out = self.level_fusion_2(bottom_up)

        return self.pyramid_fusion(torch.cat([top_down_out, bottom_up_out], 1)), loss_aux
