"""Conv + norm + activation blocks built from config dicts, named like mmcv's ``ConvModule``.

MMAction2 checkpoints store a ``ConvModule`` as ``<name>.conv.weight`` and
``<name>.bn.*`` (``gn``/``ln``/``in`` for other norms); the activation has no
weights. :class:`ConvModule` keeps exactly these child names so those
checkpoints load unchanged.

Three small registries map the ``type`` of ``conv_cfg``/``norm_cfg``/``act_cfg``
to layer classes. Other modules add their own layers to them (for instance a
factorised ``Conv2plus1d`` conv) with ``CONV_LAYERS.register_module()``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from actionlab.registry import BuildError, Registry

from .weight_init import constant_init, kaiming_init

CONV_LAYERS = Registry('conv layer')
NORM_LAYERS = Registry('norm layer')
ACTIVATION_LAYERS = Registry('activation layer')

CONV_LAYERS.register_module('Conv', module=nn.Conv2d)
CONV_LAYERS.register_module('Conv1d', module=nn.Conv1d)
CONV_LAYERS.register_module('Conv2d', module=nn.Conv2d)
CONV_LAYERS.register_module('Conv3d', module=nn.Conv3d)

NORM_LAYERS.register_module('BN', module=nn.BatchNorm2d)
NORM_LAYERS.register_module('BN1d', module=nn.BatchNorm1d)
NORM_LAYERS.register_module('BN2d', module=nn.BatchNorm2d)
NORM_LAYERS.register_module('BN3d', module=nn.BatchNorm3d)
NORM_LAYERS.register_module('SyncBN', module=nn.SyncBatchNorm)
NORM_LAYERS.register_module('GN', module=nn.GroupNorm)
NORM_LAYERS.register_module('LN', module=nn.LayerNorm)
NORM_LAYERS.register_module('IN', module=nn.InstanceNorm2d)
NORM_LAYERS.register_module('IN1d', module=nn.InstanceNorm1d)
NORM_LAYERS.register_module('IN2d', module=nn.InstanceNorm2d)
NORM_LAYERS.register_module('IN3d', module=nn.InstanceNorm3d)


class HSigmoid(nn.Module):
    """Hard sigmoid ``clamp((x + bias) / divisor, min_value, max_value)`` (mmcv's form)."""

    def __init__(self, bias: float = 3.0, divisor: float = 6.0,
                 min_value: float = 0.0, max_value: float = 1.0):
        super().__init__()
        self.bias = bias
        self.divisor = divisor
        self.min_value = min_value
        self.max_value = max_value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + self.bias) / self.divisor).clamp(self.min_value, self.max_value)


for _name, _cls in (('ReLU', nn.ReLU), ('LeakyReLU', nn.LeakyReLU), ('PReLU', nn.PReLU),
                    ('RReLU', nn.RReLU), ('ReLU6', nn.ReLU6), ('ELU', nn.ELU),
                    ('Sigmoid', nn.Sigmoid), ('Tanh', nn.Tanh), ('GELU', nn.GELU),
                    ('SiLU', nn.SiLU), ('Swish', nn.SiLU), ('HSwish', nn.Hardswish),
                    ('HSigmoid', HSigmoid)):
    ACTIVATION_LAYERS.register_module(_name, module=_cls)

# Activations that take no `inplace` argument (or should not get one by default).
_NO_INPLACE = {'Tanh', 'PReLU', 'Sigmoid', 'HSigmoid', 'Swish', 'GELU'}


def build_conv_layer(cfg: Mapping[str, Any] | None, *args, **kwargs) -> nn.Module:
    """Build a conv layer; ``cfg=None`` means ``dict(type='Conv2d')``."""
    cfg = dict(type='Conv2d') if cfg is None else dict(cfg)
    layer_cls = CONV_LAYERS.get(cfg.pop('type'))
    return layer_cls(*args, **kwargs, **cfg)


def _norm_abbr(layer_cls: type) -> str:
    """The child name mmcv gives a norm layer: bn, gn, ln, in (or the class's ``_abbr_``)."""
    if hasattr(layer_cls, '_abbr_'):
        return layer_cls._abbr_
    if issubclass(layer_cls, nn.modules.instancenorm._InstanceNorm):
        return 'in'
    if issubclass(layer_cls, nn.modules.batchnorm._BatchNorm):
        return 'bn'
    if issubclass(layer_cls, nn.GroupNorm):
        return 'gn'
    if issubclass(layer_cls, nn.LayerNorm):
        return 'ln'
    name = layer_cls.__name__.lower()
    for key, abbr in (('batch', 'bn'), ('group', 'gn'), ('layer', 'ln'), ('instance', 'in')):
        if key in name:
            return abbr
    return 'norm_layer'


def build_norm_layer(cfg: Mapping[str, Any], num_features: int,
                     postfix: int | str = '') -> tuple[str, nn.Module]:
    """Build a norm layer over ``num_features`` channels; returns ``(name, layer)``.

    ``cfg`` is e.g. ``dict(type='BN3d', requires_grad=True)``; ``requires_grad=False``
    freezes the affine parameters; ``GN`` needs ``num_groups``. The name is the
    abbreviation mmcv uses in state_dict keys (``bn``, ``gn``, ...) plus ``postfix``.
    """
    if not isinstance(cfg, Mapping) or 'type' not in cfg:
        raise BuildError(f'norm_cfg must be a dict with a "type" key, got {cfg!r}')
    cfg = dict(cfg)
    layer_cls = NORM_LAYERS.get(cfg.pop('type'))
    requires_grad = cfg.pop('requires_grad', True)
    cfg.setdefault('eps', 1e-5)
    if layer_cls is nn.GroupNorm:
        if 'num_groups' not in cfg:
            raise BuildError(f'norm_cfg of type GN needs "num_groups": {dict(cfg)!r}')
        layer = layer_cls(num_channels=num_features, **cfg)
    else:
        layer = layer_cls(num_features, **cfg)
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return f'{_norm_abbr(layer_cls)}{postfix}', layer


def build_activation_layer(cfg: Mapping[str, Any]) -> nn.Module:
    """Build an activation such as ``dict(type='ReLU', inplace=True)``."""
    cfg = dict(cfg)
    return ACTIVATION_LAYERS.get(cfg.pop('type'))(**cfg)


def _as_tuple(value: int | Sequence[int]) -> int | tuple[int, ...]:
    # JSON/YAML configs give lists where conv layers expect tuples
    return tuple(value) if isinstance(value, Sequence) else value


class ConvModule(nn.Module):
    """A conv layer followed by an optional norm layer and an optional activation.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups:
            as for ``nn.Conv2d``/``nn.Conv3d``.
        bias: ``'auto'`` adds a conv bias only when there is no norm layer.
        conv_cfg: conv type, e.g. ``dict(type='Conv3d')``; ``None`` = ``Conv2d``.
        norm_cfg: norm type, e.g. ``dict(type='BN3d', requires_grad=True)``; ``None`` = no norm.
        act_cfg: activation, e.g. ``dict(type='ReLU')``; ``None`` = no activation.
        inplace: default ``inplace`` of the activation.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        order: the order of ``'conv'``, ``'norm'`` and ``'act'``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                 dilation: int | Sequence[int] = 1, groups: int = 1, bias: bool | str = 'auto',
                 conv_cfg: Mapping | None = None, norm_cfg: Mapping | None = None,
                 act_cfg: Mapping | None = dict(type='ReLU'), inplace: bool = True,
                 padding_mode: str = 'zeros', order: Sequence[str] = ('conv', 'norm', 'act')):
        super().__init__()
        self.order = tuple(order)
        if sorted(self.order) != ['act', 'conv', 'norm']:
            raise ValueError(f"ConvModule order must be a permutation of ('conv', 'norm', 'act'), "
                             f'got {order!r}')
        self.with_norm = norm_cfg is not None
        self.with_activation = act_cfg is not None
        if bias == 'auto':
            bias = not self.with_norm
        self.with_bias = bool(bias)

        self.conv = build_conv_layer(
            conv_cfg, in_channels, out_channels, _as_tuple(kernel_size), stride=_as_tuple(stride),
            padding=_as_tuple(padding), dilation=_as_tuple(dilation), groups=groups,
            bias=self.with_bias, padding_mode=padding_mode)

        self.norm_name = None
        if self.with_norm:
            norm_channels = out_channels if self.order.index('norm') > self.order.index('conv') \
                else in_channels
            self.norm_name, norm = build_norm_layer(norm_cfg, norm_channels)
            self.add_module(self.norm_name, norm)

        self.act_cfg = dict(act_cfg) if self.with_activation else None
        if self.with_activation:
            if self.act_cfg['type'] not in _NO_INPLACE:
                self.act_cfg.setdefault('inplace', inplace)
            self.activate = build_activation_layer(self.act_cfg)
        self.init_weights()

    @property
    def norm(self) -> nn.Module | None:
        """The norm layer (whatever its child name), or None."""
        return getattr(self, self.norm_name) if self.norm_name else None

    def init_weights(self) -> None:
        """Kaiming-normal conv (unless the conv brings its own init), norm weight 1 / bias 0."""
        if not hasattr(self.conv, 'init_weights'):
            if self.with_activation and self.act_cfg['type'] == 'LeakyReLU':
                kaiming_init(self.conv, a=self.act_cfg.get('negative_slope', 0.01),
                             nonlinearity='leaky_relu')
            else:
                kaiming_init(self.conv, nonlinearity='relu')
        if self.with_norm:
            constant_init(self.norm, 1, bias=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for step in self.order:
            if step == 'conv':
                x = self.conv(x)
            elif step == 'norm' and self.with_norm:
                x = self.norm(x)
            elif step == 'act' and self.with_activation:
                x = self.activate(x)
        return x
