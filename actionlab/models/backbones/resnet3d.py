"""Inflated 3D ResNet (I3D family), the base of SlowOnly, SlowFast, CSN and R(2+1)D.

Carreira & Zisserman, "Quo Vadis, Action Recognition? A New Model and the
Kinetics Dataset", CVPR 2017 (https://arxiv.org/abs/1705.07750); non-local
variants from Wang et al., "Non-local Neural Networks", CVPR 2018.

A ResNet whose convs are 3D. Per block, ``inflate`` says whether a conv gets a
temporal extent of 3: with ``inflate_style='3x1x1'`` the first 1x1 conv of a
bottleneck becomes 3x1x1, with ``'3x3x3'`` the middle 3x3 conv becomes 3x3x3.
``pretrained2d=True`` starts from a 2D ImageNet ResNet checkpoint whose kernels
are repeated along time and divided by their temporal size. Names follow
MMAction2, so its checkpoints load unchanged.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..builder import MODELS
from ..ops import ConvModule, NonLocal3d, build_activation_layer, constant_init
from .resnet import (
    StageFreezingMixin,
    _check_pretrained,
    _check_style,
    freeze_module,
    init_resnet_weights,
    load_pretrained_weights,
    run_residual,
)


def _per_block(value: int | Sequence[int], blocks: int, what: str) -> tuple[int, ...]:
    values = (value,) * blocks if isinstance(value, int) else tuple(value)
    if len(values) != blocks:
        raise ValueError(f'ResNet3d {what} flags {values} need one entry per block ({blocks})')
    return values


def _per_stage(value: int | Sequence, stages: int) -> tuple:
    """An int applies to every stage; a sequence gives one entry per stage. Entries beyond
    ``stages`` are dropped (MMAction2 does, so its 4-stage defaults serve fewer stages)."""
    return (value,) * stages if isinstance(value, int) else tuple(value)[:stages]


class BasicBlock3d(nn.Module):
    """Two 3x3x3 convs (1x3x3 when not inflated) with a residual connection."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, spatial_stride: int = 1,
                 temporal_stride: int = 1, dilation: int = 1, downsample: nn.Module | None = None,
                 style: str = 'pytorch', inflate: bool = True, inflate_style: str = '3x1x1',
                 non_local: bool = False, non_local_cfg: Mapping = dict(),
                 conv_cfg: Mapping = dict(type='Conv3d'), norm_cfg: Mapping = dict(type='BN3d'),
                 act_cfg: Mapping = dict(type='ReLU'), with_cp: bool = False):
        super().__init__()
        _check_style(style)
        self.inplanes = inplanes
        self.planes = planes
        self.spatial_stride = spatial_stride
        self.temporal_stride = temporal_stride
        self.dilation = dilation
        self.style = style
        self.inflate = inflate
        self.with_cp = with_cp
        self.non_local = non_local
        kt = 3 if inflate else 1
        self.conv1 = ConvModule(inplanes, planes, (kt, 3, 3),
                                stride=(temporal_stride, spatial_stride, spatial_stride),
                                padding=(kt // 2, dilation, dilation), dilation=(1, dilation, dilation),
                                bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = ConvModule(planes, planes * self.expansion, (kt, 3, 3), padding=(kt // 2, 1, 1),
                                bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None)
        self.downsample = downsample
        self.relu = build_activation_layer(act_cfg)
        if non_local:
            self.non_local_block = NonLocal3d(planes * self.expansion, **non_local_cfg)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.conv2(self.conv1(x)) + identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(run_residual(self._residual, x, self.with_cp))
        if self.non_local:
            out = self.non_local_block(out)
        return out


class Bottleneck3d(nn.Module):
    """1x1x1 reduce, 1x3x3, 1x1x1 expand (x4); one of the first two gets temporal size 3
    when inflated (``inflate_style`` '3x1x1': the first, '3x3x3': the second)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, spatial_stride: int = 1,
                 temporal_stride: int = 1, dilation: int = 1, downsample: nn.Module | None = None,
                 style: str = 'pytorch', inflate: bool = True, inflate_style: str = '3x1x1',
                 non_local: bool = False, non_local_cfg: Mapping = dict(),
                 conv_cfg: Mapping = dict(type='Conv3d'), norm_cfg: Mapping = dict(type='BN3d'),
                 act_cfg: Mapping = dict(type='ReLU'), with_cp: bool = False):
        super().__init__()
        _check_style(style)
        if inflate_style not in ('3x1x1', '3x3x3'):
            raise ValueError(f"ResNet3d inflate_style must be '3x1x1' or '3x3x3', got {inflate_style!r}")
        self.inplanes = inplanes
        self.planes = planes
        self.spatial_stride = spatial_stride
        self.temporal_stride = temporal_stride
        self.dilation = dilation
        self.style = style
        self.inflate = inflate
        self.inflate_style = inflate_style
        self.with_cp = with_cp
        self.non_local = non_local
        if style == 'pytorch':
            stride1, stride2 = (1, 1, 1), (temporal_stride, spatial_stride, spatial_stride)
        else:
            stride1, stride2 = (temporal_stride, spatial_stride, spatial_stride), (1, 1, 1)
        kt1 = 3 if inflate and inflate_style == '3x1x1' else 1
        kt2 = 3 if inflate and inflate_style == '3x3x3' else 1
        self.conv1 = ConvModule(inplanes, planes, (kt1, 1, 1), stride=stride1, padding=(kt1 // 2, 0, 0),
                                bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = self._make_conv2(planes, (kt2, 3, 3), stride2, (kt2 // 2, dilation, dilation),
                                      (1, dilation, dilation), conv_cfg, norm_cfg, act_cfg)
        self.conv3 = ConvModule(planes, planes * self.expansion, 1, bias=False, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, act_cfg=None)
        self.downsample = downsample
        self.relu = build_activation_layer(act_cfg)
        if non_local:
            self.non_local_block = NonLocal3d(planes * self.expansion, **non_local_cfg)

    @staticmethod
    def _make_conv2(planes: int, kernel_size: tuple[int, int, int], stride: tuple[int, int, int],
                    padding: tuple[int, int, int], dilation: tuple[int, int, int],
                    conv_cfg: Mapping, norm_cfg: Mapping, act_cfg: Mapping) -> nn.Module:
        """The middle conv of the bottleneck (subclasses factorise it differently)."""
        return ConvModule(planes, planes, kernel_size, stride=stride, padding=padding,
                          dilation=dilation, bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                          act_cfg=act_cfg)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.conv3(self.conv2(self.conv1(x))) + identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(run_residual(self._residual, x, self.with_cp))
        if self.non_local:
            out = self.non_local_block(out)
        return out


def init_resnet3d_weights(module: nn.Module, zero_init_residual: bool) -> None:
    """:func:`init_resnet_weights`, then (with ``zero_init_residual``) the last norm of
    every residual branch at zero, so each block starts as the identity."""
    init_resnet_weights(module)
    if zero_init_residual:
        for m in module.modules():
            if isinstance(m, Bottleneck3d):
                constant_init(m.conv3.norm, 0)
            elif isinstance(m, BasicBlock3d):
                constant_init(m.conv2.norm, 0)


@MODELS.register_module()
class ResNet3d(StageFreezingMixin):
    """3D ResNet backbone: (N, C, T, H, W) clips -> (N, C', T', H', W') features.

    Args:
        depth: 18, 34 (BasicBlock3d) or 50, 101, 152 (Bottleneck3d).
        pretrained: checkpoint name/path or None; loaded by :meth:`init_weights`.
        stage_blocks: blocks per stage, overriding the depth's default.
        pretrained2d: ``pretrained`` is a 2D ResNet (torchvision or ActionLab/MMAction2
            names) to inflate; otherwise a 3D checkpoint loaded as it is.
        in_channels: input channels; a 3-channel checkpoint is averaged into others.
        num_stages: residual stages (1-4).
        base_channels: stem width, doubled at each stage.
        out_indices: stages whose output is returned (a tuple when more than one).
        spatial_strides, temporal_strides, dilations: per stage.
        conv1_kernel: (t, h, w) kernel of the stem conv; ``conv1_stride_s``/``_t`` its strides.
        pool1_stride_s, pool1_stride_t: strides of the stem max-pool (kernel 1x3x3).
        with_pool1: use the stem max-pool.
        with_pool2: halve time with a 2x1x1 max-pool after stage 1.
        style: ``'pytorch'`` or ``'caffe'`` (which conv of a bottleneck strides).
        frozen_stages: freeze the stem and stages 1..frozen_stages (-1 = none).
        inflate: per stage, an int or per-block 0/1 flags for temporal kernels.
        inflate_style: ``'3x1x1'`` or ``'3x3x3'`` (see :class:`Bottleneck3d`).
        conv_cfg, norm_cfg, act_cfg: layer configs.
        norm_eval: keep norm layers in eval mode while training.
        with_cp: recompute blocks in the backward pass to save memory.
        non_local: per stage, an int or per-block 0/1 flags for a non-local block after the block.
        non_local_cfg: arguments of :class:`NonLocal3d`.
        zero_init_residual: start the last norm of each residual branch at zero.
    """

    arch_settings = {
        18: (BasicBlock3d, (2, 2, 2, 2)),
        34: (BasicBlock3d, (3, 4, 6, 3)),
        50: (Bottleneck3d, (3, 4, 6, 3)),
        101: (Bottleneck3d, (3, 4, 23, 3)),
        152: (Bottleneck3d, (3, 8, 36, 3)),
    }

    def __init__(self, depth: int, pretrained: str | os.PathLike | None,
                 stage_blocks: Sequence[int] | None = None, pretrained2d: bool = True,
                 in_channels: int = 3, num_stages: int = 4, base_channels: int = 64,
                 out_indices: Sequence[int] = (3,), spatial_strides: Sequence[int] = (1, 2, 2, 2),
                 temporal_strides: Sequence[int] = (1, 1, 1, 1),
                 dilations: Sequence[int] = (1, 1, 1, 1), conv1_kernel: Sequence[int] = (3, 7, 7),
                 conv1_stride_s: int = 2, conv1_stride_t: int = 1, pool1_stride_s: int = 2,
                 pool1_stride_t: int = 1, with_pool1: bool = True, with_pool2: bool = True,
                 style: str = 'pytorch', frozen_stages: int = -1,
                 inflate: Sequence = (1, 1, 1, 1), inflate_style: str = '3x1x1',
                 conv_cfg: Mapping = dict(type='Conv3d'),
                 norm_cfg: Mapping = dict(type='BN3d', requires_grad=True),
                 act_cfg: Mapping = dict(type='ReLU', inplace=True), norm_eval: bool = False,
                 with_cp: bool = False, non_local: Sequence = (0, 0, 0, 0),
                 non_local_cfg: Mapping = dict(), zero_init_residual: bool = True):
        super().__init__()
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for ResNet3d, choose from {sorted(self.arch_settings)}')
        _check_pretrained(pretrained, type(self).__name__)
        _check_style(style)
        if not 1 <= num_stages <= 4:
            raise ValueError(f'ResNet3d num_stages must be 1..4, got {num_stages}')
        self.out_indices = tuple(out_indices)
        self.spatial_strides = tuple(spatial_strides)
        self.temporal_strides = tuple(temporal_strides)
        self.dilations = tuple(dilations)
        if not len(self.spatial_strides) == len(self.temporal_strides) == len(self.dilations) == num_stages:
            raise ValueError('ResNet3d spatial_strides, temporal_strides and dilations need one entry '
                             f'per stage (num_stages={num_stages})')
        if not self.out_indices or max(self.out_indices) >= num_stages:
            raise ValueError(f'ResNet3d out_indices {self.out_indices} must lie in 0..{num_stages - 1}')
        self.block, default_blocks = self.arch_settings[depth]
        self.stage_blocks = tuple(stage_blocks) if stage_blocks is not None \
            else default_blocks[:num_stages]
        if len(self.stage_blocks) != num_stages:
            raise ValueError(f'ResNet3d stage_blocks {self.stage_blocks} need {num_stages} entries')
        self.stage_inflations = _per_stage(inflate, num_stages)
        self.non_local_stages = _per_stage(non_local, num_stages)
        if len(self.stage_inflations) != num_stages or len(self.non_local_stages) != num_stages:
            raise ValueError(f'ResNet3d inflate and non_local need an entry per stage '
                             f'(num_stages={num_stages})')

        self.depth = depth
        self.pretrained = pretrained
        self.pretrained2d = pretrained2d
        self.in_channels = in_channels
        self.num_stages = num_stages
        self.base_channels = base_channels
        self.conv1_kernel = tuple(conv1_kernel)
        self.conv1_stride_s = conv1_stride_s
        self.conv1_stride_t = conv1_stride_t
        self.pool1_stride_s = pool1_stride_s
        self.pool1_stride_t = pool1_stride_t
        self.with_pool1 = with_pool1
        self.with_pool2 = with_pool2
        self.style = style
        self.frozen_stages = frozen_stages
        self.inflate_style = inflate_style
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.non_local_cfg = dict(non_local_cfg)
        self.zero_init_residual = zero_init_residual

        self._make_stem_layer()
        self.res_layers = []
        inplanes = base_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2**i
            layer = self.make_res_layer(
                self.block, inplanes, planes, num_blocks, spatial_stride=self.spatial_strides[i],
                temporal_stride=self.temporal_strides[i], dilation=self.dilations[i], style=style,
                inflate=self.stage_inflations[i], inflate_style=inflate_style,
                non_local=self.non_local_stages[i], non_local_cfg=self.non_local_cfg,
                norm_cfg=norm_cfg, act_cfg=act_cfg, conv_cfg=conv_cfg, with_cp=with_cp)
            inplanes = planes * self.block.expansion
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
        self.feat_dim = self.block.expansion * base_channels * 2**(len(self.stage_blocks) - 1)

    def _make_stem_layer(self) -> None:
        self.conv1 = ConvModule(
            self.in_channels, self.base_channels, self.conv1_kernel,
            stride=(self.conv1_stride_t, self.conv1_stride_s, self.conv1_stride_s),
            padding=tuple((k - 1) // 2 for k in self.conv1_kernel), bias=False,
            conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.maxpool = nn.MaxPool3d(kernel_size=(1, 3, 3),
                                    stride=(self.pool1_stride_t, self.pool1_stride_s, self.pool1_stride_s),
                                    padding=(0, 1, 1))
        self.pool2 = nn.MaxPool3d(kernel_size=(2, 1, 1), stride=(2, 1, 1))

    @staticmethod
    def make_res_layer(block: type[nn.Module], inplanes: int, planes: int, blocks: int,
                       spatial_stride: int = 1, temporal_stride: int = 1, dilation: int = 1,
                       style: str = 'pytorch', inflate: int | Sequence[int] = 1,
                       inflate_style: str = '3x1x1', non_local: int | Sequence[int] = 0,
                       non_local_cfg: Mapping = dict(), norm_cfg: Mapping | None = None,
                       act_cfg: Mapping | None = None, conv_cfg: Mapping | None = None,
                       with_cp: bool = False, **block_kwargs) -> nn.Sequential:
        """A stage of ``blocks`` blocks; the first strides and projects the shortcut.

        ``inflate`` and ``non_local`` are 0/1 per block (an int applies to all);
        ``block_kwargs`` go to every block (for blocks of subclasses).
        """
        inflate = _per_block(inflate, blocks, 'inflate')
        non_local = _per_block(non_local, blocks, 'non_local')
        downsample = None
        # MMAction2 ignores a temporal-only stride here, which leaves the shortcut mis-shaped
        if spatial_stride != 1 or temporal_stride != 1 or inplanes != planes * block.expansion:
            downsample = ConvModule(inplanes, planes * block.expansion, 1,
                                    stride=(temporal_stride, spatial_stride, spatial_stride),
                                    bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None)
        layers = []
        for i in range(blocks):
            first = i == 0
            layers.append(block(
                inplanes if first else planes * block.expansion, planes,
                spatial_stride=spatial_stride if first else 1,
                temporal_stride=temporal_stride if first else 1, dilation=dilation,
                downsample=downsample if first else None, style=style, inflate=inflate[i] == 1,
                inflate_style=inflate_style, non_local=non_local[i] == 1,
                non_local_cfg=non_local_cfg, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                act_cfg=act_cfg, with_cp=with_cp, **block_kwargs))
        return nn.Sequential(*layers)

    def init_weights(self, pretrained: str | os.PathLike | None = None) -> None:
        """Random init (Kaiming convs, unit norms, zeroed residual ends), then load
        ``pretrained`` (the argument overrides the constructor's), inflating 2D
        kernels when ``pretrained2d``."""
        if pretrained:
            self.pretrained = pretrained
        init_resnet3d_weights(self, self.zero_init_residual)
        if self.pretrained is not None:
            load_pretrained_weights(self, self.pretrained, inflate=self.pretrained2d)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """(N, C, T, H, W) clips -> feature map(s) of the stages in ``out_indices``."""
        x = self.conv1(x)
        if self.with_pool1:
            x = self.maxpool(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i == 0 and self.with_pool2:
                x = self.pool2(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)


@MODELS.register_module()
class ResNet3dLayer(StageFreezingMixin):
    """One stage of :class:`ResNet3d` on its own, e.g. ``layer4`` as the shared RoI head of
    a spatio-temporal detector. Its child is named ``layer{stage + 1}`` like in the
    full network, so the weights of a full 2D/3D ResNet checkpoint load into it.

    Args:
        depth, pretrained, pretrained2d, base_channels, style, inflate_style, conv_cfg,
        norm_cfg, act_cfg, norm_eval, with_cp, zero_init_residual, non_local,
        non_local_cfg: as for :class:`ResNet3d` (``inflate``/``non_local`` of this stage).
        stage: which stage, 0-3.
        spatial_stride, temporal_stride, dilation: of this stage.
        all_frozen: keep the whole stage frozen (eval mode, no gradients).
        inflate: an int or per-block 0/1 flags for temporal kernels.
    """

    def __init__(self, depth: int, pretrained: str | os.PathLike | None, pretrained2d: bool = True,
                 stage: int = 3, base_channels: int = 64, spatial_stride: int = 2,
                 temporal_stride: int = 1, dilation: int = 1, style: str = 'pytorch',
                 all_frozen: bool = False, inflate: int | Sequence[int] = 1,
                 inflate_style: str = '3x1x1', conv_cfg: Mapping = dict(type='Conv3d'),
                 norm_cfg: Mapping = dict(type='BN3d', requires_grad=True),
                 act_cfg: Mapping = dict(type='ReLU', inplace=True), norm_eval: bool = False,
                 with_cp: bool = False, zero_init_residual: bool = True,
                 non_local: int | Sequence[int] = 0, non_local_cfg: Mapping = dict()):
        super().__init__()
        if depth not in ResNet3d.arch_settings:
            raise KeyError(f'invalid depth {depth} for ResNet3dLayer, '
                           f'choose from {sorted(ResNet3d.arch_settings)}')
        if not 0 <= stage <= 3:
            raise ValueError(f'ResNet3dLayer stage must be 0..3, got {stage}')
        _check_pretrained(pretrained, type(self).__name__)
        self.depth = depth
        self.pretrained = pretrained
        self.pretrained2d = pretrained2d
        self.stage = stage
        self.base_channels = base_channels
        self.spatial_stride = spatial_stride
        self.temporal_stride = temporal_stride
        self.dilation = dilation
        self.style = style
        self.all_frozen = all_frozen
        self.stage_inflation = inflate
        self.inflate_style = inflate_style
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.zero_init_residual = zero_init_residual

        block, stage_blocks = ResNet3d.arch_settings[depth]
        planes = base_channels * 2**stage
        # the input is what the previous stage (or, for stage 0, the stem) puts out
        inplanes = base_channels if stage == 0 else base_channels * 2**(stage - 1) * block.expansion
        self.layer_name = f'layer{stage + 1}'
        self.add_module(self.layer_name, ResNet3d.make_res_layer(
            block, inplanes, planes, stage_blocks[stage], spatial_stride=spatial_stride,
            temporal_stride=temporal_stride, dilation=dilation, style=style, inflate=inflate,
            inflate_style=inflate_style, non_local=non_local, non_local_cfg=non_local_cfg,
            norm_cfg=norm_cfg, act_cfg=act_cfg, conv_cfg=conv_cfg, with_cp=with_cp))
        self.feat_dim = planes * block.expansion

    init_weights = ResNet3d.init_weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) -> the stage's output."""
        return getattr(self, self.layer_name)(x)

    def _freeze_stages(self) -> None:
        if self.all_frozen:
            freeze_module(getattr(self, self.layer_name))
