"""ResNet over log-mel spectrograms with factorised time/frequency convs (audio pathway).

Xiao et al., "Audiovisual SlowFast Networks for Video Recognition", 2020
(https://arxiv.org/abs/2001.08740).

Input is a batch of single-channel spectrograms (N, 1, T, F). The stem is a 9x9
:class:`~actionlab.models.ops.conv_audio.ConvAudio` (a 9x1 and a 1x9 branch,
summed); in the stages marked by ``factorize`` the 3x3 conv of each bottleneck
is a ConvAudio too (branches concatenated, so the next 1x1 conv sees twice the
channels). Names follow MMAction2, so its checkpoints load unchanged.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..builder import MODELS
from ..ops import ConvModule, constant_init
from .resnet import (
    StageFreezingMixin,
    _check_pretrained,
    init_resnet_weights,
    load_pretrained_weights,
    run_residual,
)


class Bottleneck2dAudio(nn.Module):
    """1x1, 3x3 (a factorised ConvAudio when ``factorize``), 1x1 (x4) with a residual.

    As in MMAction2, the ConvAudio conv has BN + ReLU inside each branch and none
    after it; the other convs use ``norm_cfg`` and ReLU.
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 2, dilation: int = 1,
                 downsample: nn.Module | None = None, factorize: bool = True,
                 norm_cfg: Mapping | None = None, with_cp: bool = False):
        super().__init__()
        self.inplanes = inplanes
        self.planes = planes
        self.stride = stride
        self.dilation = dilation
        self.factorize = factorize
        self.norm_cfg = norm_cfg
        self.with_cp = with_cp
        self.conv1 = ConvModule(inplanes, planes, 1, dilation=dilation, bias=False, norm_cfg=norm_cfg)
        self.conv2 = ConvModule(planes, planes, 3, stride=stride, padding=dilation, dilation=dilation,
                                bias=False, conv_cfg=dict(type='ConvAudio' if factorize else 'Conv'),
                                norm_cfg=None, act_cfg=None)
        self.conv3 = ConvModule(2 * planes if factorize else planes, planes * self.expansion, 1,
                                bias=False, norm_cfg=norm_cfg, act_cfg=None)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.conv3(self.conv2(self.conv1(x))) + identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(run_residual(self._residual, x, self.with_cp))


@MODELS.register_module()
class ResNetAudio(StageFreezingMixin):
    """Audio ResNet-50/101/152 backbone: (N, in_channels, T, F) -> (N, C, T', F').

    Args:
        depth: 50, 101 or 152.
        pretrained: checkpoint loaded by :meth:`init_weights`; ``None`` = random init.
        in_channels: input channels (1 for a spectrogram).
        num_stages: residual stages to build (1-4).
        base_channels: width of the stem and the first stage, doubled at each stage.
        strides, dilations: per stage.
        conv1_kernel: kernel of the factorised stem.
        conv1_stride: stride of the stem.
        frozen_stages: freeze the stem and stages 1..frozen_stages (-1 = none).
        factorize: per stage, 1 = use ConvAudio in its blocks (an int or per-block flags).
        norm_eval: keep all norm layers in eval mode while training.
        with_cp: recompute each block in the backward pass to save memory.
        conv_cfg: accepted for MMAction2 configs; the conv types are fixed (as there).
        norm_cfg: norm of the stem and of the blocks' plain convs.
        act_cfg: activation of the stem (the blocks use ReLU, as in MMAction2).
        zero_init_residual: start every block's last BN at zero (blocks begin as identities).
    """

    arch_settings = {
        50: (Bottleneck2dAudio, (3, 4, 6, 3)),
        101: (Bottleneck2dAudio, (3, 4, 23, 3)),
        152: (Bottleneck2dAudio, (3, 8, 36, 3)),
    }

    def __init__(self, depth: int, pretrained: str | os.PathLike | None = None, in_channels: int = 1,
                 num_stages: int = 4, base_channels: int = 32, strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1), conv1_kernel: int = 9, conv1_stride: int = 1,
                 frozen_stages: int = -1, factorize: int | Sequence = (1, 1, 0, 0),
                 norm_eval: bool = False, with_cp: bool = False, conv_cfg: Mapping = dict(type='Conv'),
                 norm_cfg: Mapping = dict(type='BN2d', requires_grad=True),
                 act_cfg: Mapping = dict(type='ReLU', inplace=True), zero_init_residual: bool = True):
        super().__init__()
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for ResNetAudio, choose from {sorted(self.arch_settings)}')
        if not 1 <= num_stages <= 4:
            raise ValueError(f'ResNetAudio num_stages must be 1..4, got {num_stages}')
        _check_pretrained(pretrained, type(self).__name__)
        self.depth = depth
        self.pretrained = pretrained
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.num_stages = num_stages
        self.strides = tuple(strides)
        self.dilations = tuple(dilations)
        self.conv1_kernel = conv1_kernel
        self.conv1_stride = conv1_stride
        self.frozen_stages = frozen_stages
        self.stage_factorization = ((factorize,) * num_stages if isinstance(factorize, int)
                                    else tuple(factorize))
        if len(self.strides) < num_stages or len(self.dilations) < num_stages \
                or len(self.stage_factorization) < num_stages:
            raise ValueError(f'ResNetAudio strides {self.strides}, dilations {self.dilations} and '
                             f'factorize {self.stage_factorization} need one entry per stage '
                             f'(num_stages={num_stages})')
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.zero_init_residual = zero_init_residual

        self.block, stage_blocks = self.arch_settings[depth]
        self.stage_blocks = stage_blocks[:num_stages]
        self.conv1 = ConvModule(in_channels, base_channels, conv1_kernel, stride=conv1_stride, bias=False,
                                conv_cfg=dict(type='ConvAudio', op='sum'), norm_cfg=norm_cfg,
                                act_cfg=act_cfg)
        self.res_layers = []
        inplanes = base_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2**i
            layer = self.make_res_layer(self.block, inplanes, planes, num_blocks, stride=self.strides[i],
                                        dilation=self.dilations[i], factorize=self.stage_factorization[i],
                                        norm_cfg=norm_cfg, with_cp=with_cp)
            inplanes = planes * self.block.expansion
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
        self.feat_dim = self.block.expansion * base_channels * 2**(len(self.stage_blocks) - 1)

    @staticmethod
    def make_res_layer(block: type[nn.Module], inplanes: int, planes: int, blocks: int, stride: int = 1,
                       dilation: int = 1, factorize: int | Sequence[int] = 1,
                       norm_cfg: Mapping | None = None, with_cp: bool = False) -> nn.Sequential:
        """A stage of ``blocks`` blocks; ``factorize`` is one flag or one per block."""
        flags = (factorize,) * blocks if isinstance(factorize, int) else tuple(factorize)
        if len(flags) != blocks:
            raise ValueError(f'ResNetAudio factorize flags {flags} need one entry per block ({blocks})')
        downsample = None
        if stride != 1 or inplanes != planes * block.expansion:
            downsample = ConvModule(inplanes, planes * block.expansion, 1, stride=stride, bias=False,
                                    norm_cfg=norm_cfg, act_cfg=None)
        layers = [block(inplanes, planes, stride, dilation, downsample, factorize=flags[0] == 1,
                        norm_cfg=norm_cfg, with_cp=with_cp)]
        layers += [block(planes * block.expansion, planes, 1, dilation, factorize=flag == 1,
                         norm_cfg=norm_cfg, with_cp=with_cp) for flag in flags[1:]]
        return nn.Sequential(*layers)

    def init_weights(self) -> None:
        """Kaiming convs, unit norms (each block's last BN zero with ``zero_init_residual``),
        then load ``pretrained`` if set."""
        init_resnet_weights(self)
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck2dAudio):
                    constant_init(m.conv3.norm, 0)
        if self.pretrained is not None:
            load_pretrained_weights(self, self.pretrained)

    def _freeze_stem(self) -> None:
        # As MMAction2: every stem parameter stops learning, but only the stem's own
        # norm goes to eval mode; the BNs inside the ConvAudio branches keep training.
        for param in self.conv1.parameters():
            param.requires_grad = False
        self.conv1.norm.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, T, F) -> features of the last stage."""
        x = self.conv1(x)
        for name in self.res_layers:
            x = getattr(self, name)(x)
        return x
