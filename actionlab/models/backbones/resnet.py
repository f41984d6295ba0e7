"""2D ResNet, applied frame by frame (TSN, TSM and other 2D recognizers).

He et al., "Deep Residual Learning for Image Recognition", CVPR 2016
(https://arxiv.org/abs/1512.03385).

Layer names follow MMAction2 (``conv1.conv``, ``conv1.bn``, ``layer1.0.conv1.conv``,
``layer1.0.downsample.conv`` ...), so its checkpoints load with ``strict=True``.
``pretrained`` may also be a torchvision ResNet checkpoint (``conv1.weight``,
``bn1.*``, ``layerX.Y.bnZ.*``, ``downsample.0/1.*``); the names are mapped. The
same loader serves the 3D ResNets, which inflate 2D kernels along time
(:func:`load_pretrained_weights`).
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn
from torch.utils import checkpoint as cp

from actionlab.engine.checkpoint import load_state_dict, read_checkpoint, state_dict_of

from ..builder import MODELS
from ..ops import ConvModule, constant_init, kaiming_init
from ..ops.non_local import _NonLocalNd

logger = logging.getLogger(__name__)


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, style: str = 'pytorch',
                 conv_cfg: Mapping = dict(type='Conv'),
                 norm_cfg: Mapping = dict(type='BN', requires_grad=True),
                 act_cfg: Mapping = dict(type='ReLU', inplace=True), with_cp: bool = False):
        super().__init__()
        _check_style(style)
        self.conv1 = ConvModule(inplanes, planes, 3, stride=stride, padding=dilation,
                                dilation=dilation, bias=False, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = ConvModule(planes, planes, 3, stride=1, padding=1, bias=False,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.style = style
        self.stride = stride
        self.dilation = dilation
        self.with_cp = with_cp

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.conv2(self.conv1(x)) + identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(run_residual(self._residual, x, self.with_cp))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4) with a residual connection (ResNet-50/101/152).

    ``style='pytorch'`` puts the stride on the 3x3 conv, ``'caffe'`` on the first 1x1.
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, style: str = 'pytorch',
                 conv_cfg: Mapping = dict(type='Conv'),
                 norm_cfg: Mapping = dict(type='BN', requires_grad=True),
                 act_cfg: Mapping = dict(type='ReLU', inplace=True), with_cp: bool = False):
        super().__init__()
        _check_style(style)
        self.inplanes = inplanes
        self.planes = planes
        self.conv1_stride, self.conv2_stride = (1, stride) if style == 'pytorch' else (stride, 1)
        self.conv1 = ConvModule(inplanes, planes, 1, stride=self.conv1_stride, bias=False,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = ConvModule(planes, planes, 3, stride=self.conv2_stride, padding=dilation,
                                dilation=dilation, bias=False, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv3 = ConvModule(planes, planes * self.expansion, 1, bias=False,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.style = style
        self.stride = stride
        self.dilation = dilation
        self.with_cp = with_cp

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.conv3(self.conv2(self.conv1(x))) + identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(run_residual(self._residual, x, self.with_cp))


def run_residual(residual: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                 with_cp: bool) -> torch.Tensor:
    """``residual(x)``, recomputed in the backward pass instead of stored when ``with_cp``."""
    if with_cp and x.requires_grad:
        return cp.checkpoint(residual, x, use_reentrant=False)
    return residual(x)


def _check_style(style: str) -> None:
    if style not in ('pytorch', 'caffe'):
        raise ValueError(f"ResNet style must be 'pytorch' or 'caffe', got {style!r}")


def make_res_layer(block: type[nn.Module], inplanes: int, planes: int, blocks: int,
                   stride: int = 1, dilation: int = 1, style: str = 'pytorch',
                   conv_cfg: Mapping | None = None, norm_cfg: Mapping | None = None,
                   act_cfg: Mapping | None = None, with_cp: bool = False) -> nn.Sequential:
    """A stage of ``blocks`` residual blocks; the first one strides and projects the shortcut."""
    downsample = None
    if stride != 1 or inplanes != planes * block.expansion:
        downsample = ConvModule(inplanes, planes * block.expansion, 1, stride=stride, bias=False,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None)
    common = dict(dilation=dilation, style=style, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                  act_cfg=act_cfg, with_cp=with_cp)
    layers = [block(inplanes, planes, stride, downsample=downsample, **common)]
    layers += [block(planes * block.expansion, planes, 1, **common) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


def freeze_module(module: nn.Module) -> None:
    """Put ``module`` in eval mode and stop all its parameters from learning."""
    module.eval()
    for param in module.parameters():
        param.requires_grad = False


class StageFreezingMixin(nn.Module):
    """``train()`` that keeps ``frozen_stages`` (the stem + stages 1..N) and
    ``norm_eval`` in force; shared by the 2D and 3D backbones.

    Subclasses adapt :meth:`_freeze_stem` (default: freeze ``conv1``) and
    :meth:`_stage_name` (default: ``layer{i}``).
    """

    frozen_stages: int
    norm_eval: bool

    def _freeze_stem(self) -> None:
        freeze_module(self.conv1)

    def _stage_name(self, i: int) -> str:
        """The child holding stage ``i`` (1-based)."""
        return f'layer{i}'

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            self._freeze_stem()
        for i in range(1, self.frozen_stages + 1):
            freeze_module(getattr(self, self._stage_name(i)))

    def train(self, mode: bool = True):
        """Switch mode; frozen stages stay in eval mode, and all norms with ``norm_eval``."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self


@MODELS.register_module()
class ResNet(StageFreezingMixin):
    """ResNet-18/34/50/101/152 backbone for 2D (per-frame) recognizers.

    Args:
        depth: 18, 34, 50, 101 or 152.
        pretrained: checkpoint to start from (path, ``torchvision://resnet50``, URL
            in the local cache); ``None`` = random init. Loaded by :meth:`init_weights`.
        torchvision_pretrain: the checkpoint uses torchvision's key names. Both
            naming schemes are recognised either way; kept for MMAction2 configs.
        in_channels: input channels (3 for RGB, 10 for 5 stacked x/y flow frames).
            A 3-channel checkpoint is adapted to other counts by averaging the first
            conv over its input channels and repeating the mean.
        num_stages: residual stages to build (1-4).
        out_indices: stages whose output is returned (a tuple when more than one).
        strides, dilations: per stage.
        style: ``'pytorch'`` (stride on the 3x3 conv) or ``'caffe'`` (on the first 1x1).
        frozen_stages: freeze the stem and stages 1..frozen_stages (-1 = none).
        conv_cfg, norm_cfg, act_cfg: layer configs of every ConvModule.
        norm_eval: keep all norm layers in eval mode while training (frozen statistics).
        partial_bn: freeze every BatchNorm except the first (TSN's partial BN).
        with_cp: recompute each block in the backward pass to save memory.
        base_channels: width of the stem and the first stage, doubled at each stage.
            An ActionLab extension for small models; the default 64 is MMAction2's
            architecture (e.g. depth 18 with 16 gives a ResNet-18 at a quarter width).
    """

    arch_settings = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(self, depth: int, pretrained: str | os.PathLike | None = None,
                 torchvision_pretrain: bool = True, in_channels: int = 3, num_stages: int = 4,
                 out_indices: Sequence[int] = (3,), strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1), style: str = 'pytorch',
                 frozen_stages: int = -1, conv_cfg: Mapping = dict(type='Conv'),
                 norm_cfg: Mapping = dict(type='BN2d', requires_grad=True),
                 act_cfg: Mapping = dict(type='ReLU', inplace=True), norm_eval: bool = False,
                 partial_bn: bool = False, with_cp: bool = False, base_channels: int = 64):
        super().__init__()
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for ResNet, choose from {sorted(self.arch_settings)}')
        _check_pretrained(pretrained, type(self).__name__)
        _check_style(style)
        self.out_indices = tuple(out_indices)
        self.strides = tuple(strides)
        self.dilations = tuple(dilations)
        if not 1 <= num_stages <= 4:
            raise ValueError(f'ResNet num_stages must be 1..4, got {num_stages}')
        if len(self.strides) != num_stages or len(self.dilations) != num_stages:
            raise ValueError(f'ResNet strides {self.strides} and dilations {self.dilations} need '
                             f'one entry per stage (num_stages={num_stages})')
        if not self.out_indices or max(self.out_indices) >= num_stages:
            raise ValueError(f'ResNet out_indices {self.out_indices} must lie in 0..{num_stages - 1}')
        self.depth = depth
        self.pretrained = pretrained
        self.torchvision_pretrain = torchvision_pretrain
        self.in_channels = in_channels
        self.num_stages = num_stages
        self.style = style
        self.frozen_stages = frozen_stages
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.norm_eval = norm_eval
        self.partial_bn = partial_bn
        self.with_cp = with_cp
        self.base_channels = base_channels

        self.block, stage_blocks = self.arch_settings[depth]
        self.stage_blocks = stage_blocks[:num_stages]
        self.conv1 = ConvModule(in_channels, base_channels, 7, stride=2, padding=3, bias=False,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        self.res_layers = []
        inplanes = base_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2**i
            layer = make_res_layer(self.block, inplanes, planes, num_blocks, stride=self.strides[i],
                                   dilation=self.dilations[i], style=style, conv_cfg=conv_cfg,
                                   norm_cfg=norm_cfg, act_cfg=act_cfg, with_cp=with_cp)
            inplanes = planes * self.block.expansion
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
        self.feat_dim = self.block.expansion * base_channels * 2**(len(self.stage_blocks) - 1)

    def init_weights(self) -> None:
        """Random init (Kaiming convs, unit norms), then load ``pretrained`` if set."""
        init_resnet_weights(self)
        if self.pretrained is not None:
            load_pretrained_weights(self, self.pretrained)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """(N, C, H, W) frames -> feature map(s) of the stages in ``out_indices``."""
        x = self.maxpool(self.conv1(x))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _partial_bn(self) -> None:
        batch_norms = [m for m in self.modules() if isinstance(m, nn.BatchNorm2d)]
        for m in batch_norms[1:]:
            m.eval()
            m.weight.requires_grad = False
            m.bias.requires_grad = False

    def train(self, mode: bool = True) -> ResNet:
        """Switch mode, keeping frozen stages, ``norm_eval`` and ``partial_bn`` in force."""
        super().train(mode)
        if mode and self.partial_bn:
            self._partial_bn()
        return self


def _check_pretrained(pretrained, owner: str) -> None:
    if pretrained is not None and not isinstance(pretrained, (str, os.PathLike)):
        raise TypeError(f'{owner} pretrained must be a checkpoint name/path or None, '
                        f'got {type(pretrained).__name__}')


def init_resnet_weights(module: nn.Module) -> None:
    """MMAction2's ResNet init: Kaiming-normal (fan_out) convs, norms weight 1 / bias 0.

    Non-local blocks are then reset to their own init, whose zeroed output makes
    each one start as the identity.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            kaiming_init(m)
        elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
            constant_init(m, 1)
    for m in module.modules():
        if isinstance(m, _NonLocalNd):
            m.init_weights()


# ---------------------------------------------------------------------------------------
# Pretrained weights: key-name mapping, RGB -> N-channel stems and 2D -> 3D inflation.

def _canonical_names(module: nn.Module) -> dict[str, str]:
    """Map each state_dict key of ``module`` to its name without wrapper levels.

    Wrappers such as ``TemporalShift`` (child ``net``) or the TSM non-local wrapper
    (child ``block``) name their wrapped child in ``wrapped_child``; dropping that
    level gives the key the plain network has (``layer1.0.conv1.conv.net.weight``
    -> ``layer1.0.conv1.conv.weight``).
    """
    keys = set(module.state_dict())
    names: dict[str, str] = {}

    def visit(m: nn.Module, actual: str, canonical: str) -> None:
        for name, _ in list(m.named_parameters(recurse=False)) + list(m.named_buffers(recurse=False)):
            if actual + name in keys:
                names[actual + name] = canonical + name
        skip = getattr(m, 'wrapped_child', None)
        for name, child in m.named_children():
            visit(child, f'{actual}{name}.', canonical if name == skip else f'{canonical}{name}.')

    visit(module, '', '')
    return names


def _torchvision_name(key: str) -> str | None:
    """The torchvision name of a ConvModule parameter key, e.g. ``layer1.0.conv1.bn.weight``
    -> ``layer1.0.bn1.weight``, ``layer1.0.downsample.conv.weight`` -> ``layer1.0.downsample.0.weight``."""
    match = re.fullmatch(r'(?:(.*)\.)?([^.]+)\.(conv|bn)\.([^.]+)', key)
    if match is None:
        return None
    parent, name, kind, param = match.groups()
    prefix = f'{parent}.' if parent else ''
    if name == 'downsample':
        return f'{prefix}downsample.{0 if kind == "conv" else 1}.{param}'
    if kind == 'bn':
        name = name.replace('conv', 'bn')
    return f'{prefix}{name}.{param}'


def _fit_weight(weight: torch.Tensor, target: torch.Tensor, inflate: bool) -> torch.Tensor | None:
    """Adapt a checkpoint conv weight to the model's shape, or None if it cannot be.

    * input channels 3 -> C (RGB checkpoint, flow/audio model): mean over the 3 input
      channels, repeated C times;
    * (O, I, kh, kw) -> (O, I, T, kh, kw) when ``inflate``: the 2D kernel repeated T
      times along time and divided by T, so a static clip gives the 2D response;
    * more input channels than the checkpoint's (a SlowFast pathway whose convs also take
      the lateral connections): zero weights for the extra channels, so the lateral
      input starts with no effect, as MMAction2 inflates them.
    """
    if weight.dim() == 4 and target.dim() == 5 and inflate:
        weight = weight.unsqueeze(2).expand(-1, -1, target.shape[2], -1, -1) / target.shape[2]
    if weight.dim() != target.dim() or weight.dim() < 3:
        return None
    if weight.shape[1] != target.shape[1] and weight.shape[1] == 3:
        weight = weight.mean(dim=1, keepdim=True).expand(-1, target.shape[1], *weight.shape[2:])
    elif weight.shape[1] < target.shape[1] and weight.shape[0] == target.shape[0]:
        extra = weight.new_zeros((weight.shape[0], target.shape[1] - weight.shape[1], *weight.shape[2:]))
        weight = torch.cat([weight, extra], dim=1)
    return weight if weight.shape == target.shape else None


def load_pretrained_weights(module: nn.Module, filename: str | os.PathLike,
                            inflate: bool = False) -> dict[str, list]:
    """Load a backbone checkpoint into ``module``, matching names loosely.

    Checkpoint keys are matched against the module's own names, the same names
    without wrapper levels (a TSN/ImageNet checkpoint into TSM), and torchvision
    ResNet names; a leading ``backbone.`` or ``module.`` is dropped, so whole
    recognizer checkpoints work too. Conv weights are adapted by :func:`_fit_weight`
    (RGB -> N input channels; 2D -> 3D kernels when ``inflate``). What does not
    fit is logged, not fatal. Returns the load report of
    :func:`actionlab.engine.checkpoint.load_state_dict`.
    """
    ckpt = state_dict_of(read_checkpoint(filename), revise_keys=((r'^module\.', ''),
                                                                   (r'^backbone\.', '')))
    own = module.state_dict()
    lookup: dict[str, str] = {}
    for actual, canonical in _canonical_names(module).items():
        lookup[canonical] = actual
        tv_name = _torchvision_name(canonical)
        if tv_name is not None:
            lookup.setdefault(tv_name, actual)
    lookup.update({key: key for key in own})

    state: dict[str, torch.Tensor] = {}
    unused = []
    for key, value in ckpt.items():
        target = lookup.get(key)
        if target is None:
            unused.append(key)
            continue
        if value.shape != own[target].shape and value.dim() >= 3:
            fitted = _fit_weight(value, own[target], inflate)
            if fitted is not None:
                logger.info('adapted %s %s -> %s', key, tuple(value.shape), tuple(fitted.shape))
                value = fitted
        state[target] = value
    # Old checkpoints have no BN step counters; keep ours rather than report them missing.
    for key, value in own.items():
        if key.endswith('num_batches_tracked') and key not in state:
            state[key] = value
    if unused:
        logger.info('checkpoint %s: keys not used by %s: %s', filename, type(module).__name__,
                    ', '.join(unused))
    return load_state_dict(module, state, strict=False, log=logger)
