"""SlowFast: a slow, wide pathway and a fast, thin one, fused by lateral connections.

Feichtenhofer et al., "SlowFast Networks for Video Recognition", ICCV 2019
(https://arxiv.org/abs/1812.03982).

The slow pathway sees every ``resample_rate``-th frame (tau), the fast one
``speed_ratio`` (alpha) times as many frames with ``channel_ratio`` (beta) times
fewer channels. After the stem and every stage but the last, a time-strided
``fusion_kernel x 1 x 1`` conv maps the fast features to the slow frame rate
(2 beta C channels) and they are concatenated to the slow features, so the
next slow stage takes the extra channels. Each pathway is a
:class:`ResNet3dPathway`; key names follow MMAction2 (``slow_path.layer1_lateral``...).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import torch
from torch import nn

from actionlab.engine.checkpoint import load_checkpoint
from actionlab.registry import BuildError

from ..builder import MODELS
from ..ops import ConvModule
from .resnet import _check_pretrained, freeze_module
from .resnet3d import ResNet3d

logger = logging.getLogger(__name__)


class ResNet3dPathway(ResNet3d):
    """A :class:`ResNet3d` that can take lateral connections from another pathway.

    With ``lateral=True`` it owns the lateral convs (``conv1_lateral`` after the stem,
    ``layer{i}_lateral`` after stage i < num_stages); they read features of a pathway
    with ``channel_ratio`` times fewer channels and ``speed_ratio`` times more frames,
    and the first block of every stage takes the concatenated channels.

    Args:
        lateral: build lateral connections into this pathway.
        lateral_norm: follow each lateral conv with the pathway's norm and activation.
        speed_ratio: frame-rate ratio of the other pathway (alpha); the lateral stride.
        channel_ratio: channel ratio of the other pathway (beta).
        fusion_kernel: temporal kernel of the lateral convs.
        *args, **kwargs: as for :class:`ResNet3d`.
    """

    def __init__(self, *args, lateral: bool = False, lateral_norm: bool = False, speed_ratio: int = 8,
                 channel_ratio: int = 8, fusion_kernel: int = 5, **kwargs):
        # make_res_layer (called by ResNet3d.__init__) needs these already
        self.lateral = lateral
        self.lateral_norm = lateral_norm
        self.speed_ratio = speed_ratio
        self.channel_ratio = channel_ratio
        self.fusion_kernel = fusion_kernel
        super().__init__(*args, **kwargs)
        self.lateral_connections: list[str] = []
        if not lateral:
            return
        self.conv1_lateral = self._lateral_conv(self.base_channels)
        for i in range(self.num_stages - 1):  # the last stage feeds the head, not a fusion
            name = f'layer{i + 1}_lateral'
            self.add_module(name, self._lateral_conv(self.base_channels * 2**i * self.block.expansion))
            self.lateral_connections.append(name)

    def _lateral_conv(self, channels: int) -> ConvModule:
        """Fast features of a stage whose slow width is ``channels`` -> 2 beta C channels
        at the slow frame rate."""
        return ConvModule(channels // self.channel_ratio, channels * 2 // self.channel_ratio,
                          (self.fusion_kernel, 1, 1), stride=(self.speed_ratio, 1, 1),
                          padding=((self.fusion_kernel - 1) // 2, 0, 0), bias=False,
                          conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg if self.lateral_norm else None,
                          act_cfg=self.act_cfg if self.lateral_norm else None)

    def make_res_layer(self, block: type[nn.Module], inplanes: int, planes: int, blocks: int,
                       **kwargs) -> nn.Sequential:
        """:meth:`ResNet3d.make_res_layer` whose first block also takes the lateral channels."""
        lateral_inplanes = inplanes * 2 // self.channel_ratio if self.lateral else 0
        return ResNet3d.make_res_layer(block, inplanes + lateral_inplanes, planes, blocks, **kwargs)

    def _freeze_stages(self) -> None:
        super()._freeze_stages()
        for name in self.lateral_connections[:max(self.frozen_stages, 0)]:
            freeze_module(getattr(self, name))


_PATHWAYS = {'resnet3d': ResNet3dPathway}


def build_pathway(cfg: Mapping, **kwargs) -> ResNet3dPathway:
    """Build a pathway from ``dict(type='resnet3d', ...)`` (plus ``kwargs``)."""
    if not isinstance(cfg, Mapping) or 'type' not in cfg:
        raise BuildError(f'a SlowFast pathway config must be a dict with a "type" key, got {cfg!r}')
    cfg = dict(cfg)
    kind = cfg.pop('type')
    if kind not in _PATHWAYS:
        raise BuildError(f'unknown SlowFast pathway type {kind!r}; choose from {sorted(_PATHWAYS)}')
    try:
        return _PATHWAYS[kind](**cfg, **kwargs)
    except TypeError as e:
        raise BuildError(f'SlowFast pathway {kind!r}: {e}') from e


def _every_nth_frame(x: torch.Tensor, rate: int) -> torch.Tensor:
    """Frames 0, rate, 2 rate, ... of (N, C, T, H, W): T // rate of them, as MMAction2's
    nearest-neighbour resampling with scale 1 / rate picks them (a view, no copy)."""
    if rate == 1:
        return x
    return x[:, :, ::rate][:, :, :x.shape[2] // rate]


@MODELS.register_module()
class ResNet3dSlowFast(nn.Module):
    """SlowFast backbone: (N, C, T, H, W) clips -> ``(slow, fast)`` feature maps.

    Args:
        pretrained: a whole SlowFast checkpoint (both pathways) or None; each pathway
            may also have its own ``pretrained`` (e.g. an inflated 2D ResNet).
        resample_rate: the slow pathway takes every ``resample_rate``-th frame (tau).
        speed_ratio: the fast pathway takes ``speed_ratio`` times as many (alpha).
        channel_ratio: the fast pathway is ``channel_ratio`` times thinner (beta).
        slow_pathway, fast_pathway: pathway configs, ``type='resnet3d'`` plus
            :class:`ResNet3dPathway` arguments; a lateral slow pathway gets this
            model's ``speed_ratio`` and ``channel_ratio``.
    """

    def __init__(self, pretrained: str | os.PathLike | None, resample_rate: int = 8,
                 speed_ratio: int = 8, channel_ratio: int = 8,
                 slow_pathway: Mapping = dict(type='resnet3d', depth=50, pretrained=None, lateral=True,
                                              conv1_kernel=(1, 7, 7), dilations=(1, 1, 1, 1),
                                              conv1_stride_t=1, pool1_stride_t=1, inflate=(0, 0, 1, 1)),
                 fast_pathway: Mapping = dict(type='resnet3d', depth=50, pretrained=None, lateral=False,
                                              base_channels=8, conv1_kernel=(5, 7, 7), conv1_stride_t=1,
                                              pool1_stride_t=1)):
        super().__init__()
        _check_pretrained(pretrained, type(self).__name__)
        if resample_rate < speed_ratio:
            raise ValueError(f'ResNet3dSlowFast resample_rate ({resample_rate}) must be at least '
                             f'speed_ratio ({speed_ratio}): the fast pathway samples every '
                             f'(resample_rate // speed_ratio)-th frame')
        self.pretrained = pretrained
        self.resample_rate = resample_rate
        self.speed_ratio = speed_ratio
        self.channel_ratio = channel_ratio
        slow_pathway = dict(slow_pathway)
        if slow_pathway.get('lateral', False):
            slow_pathway.update(speed_ratio=speed_ratio, channel_ratio=channel_ratio)
        self.slow_path = build_pathway(slow_pathway)
        self.fast_path = build_pathway(fast_pathway)

    def init_weights(self, pretrained: str | os.PathLike | None = None) -> None:
        """Load the whole-model checkpoint, or initialise each pathway on its own."""
        if pretrained:
            self.pretrained = pretrained
        if self.pretrained is not None:
            logger.info('load SlowFast backbone from %s', self.pretrained)
            load_checkpoint(self, self.pretrained, strict=True, logger=logger,
                            revise_keys=((r'^module\.', ''), (r'^backbone\.', '')))
        else:
            self.fast_path.init_weights()
            self.slow_path.init_weights()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, T, H, W) -> (slow features, fast features)."""
        slow, fast = self.slow_path, self.fast_path
        x_slow = slow.maxpool(slow.conv1(_every_nth_frame(x, self.resample_rate)))
        x_fast = fast.maxpool(fast.conv1(_every_nth_frame(x, self.resample_rate // self.speed_ratio)))
        if slow.lateral:
            x_slow = torch.cat((x_slow, slow.conv1_lateral(x_fast)), dim=1)
        for i, name in enumerate(slow.res_layers):
            x_slow = getattr(slow, name)(x_slow)
            x_fast = getattr(fast, name)(x_fast)
            if slow.lateral and i < len(slow.lateral_connections):
                x_slow = torch.cat((x_slow, getattr(slow, slow.lateral_connections[i])(x_fast)), dim=1)
        return x_slow, x_fast

