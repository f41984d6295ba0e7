"""Transformer blocks with mmcv's config vocabulary and parameter names (TimeSformer).

Bertasius et al., "Is Space-Time Attention All You Need for Video Understanding?",
ICML 2021 (https://arxiv.org/abs/2102.05095) for the divided space-time attention.

MMAction2 0.x builds its video transformers from mmcv's generic pieces: a
``TransformerLayerSequence`` of ``BaseTransformerLayer``s, each running attention
modules, norms and FFNs in the order given by ``operation_order``. This module
provides those pieces under the same ``type`` names, arguments and child names
(``layers.0.attentions.1.attn.in_proj_weight``, ``ffns.0.layers.0.0.weight``,
``norms.0.weight``...), so MMAction2 configs build the same modules and official
checkpoints load unchanged. All of them live in :data:`TRANSFORMER_BLOCKS`.

Every block takes and returns batch-first tokens (batch, tokens, channels);
attention runs through ``nn.MultiheadAttention`` without returning the attention
weights, which lets PyTorch use its fused scaled-dot-product kernels.
"""
from __future__ import annotations

import copy
from abc import ABCMeta, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from actionlab.registry import Registry

from .conv_module import build_activation_layer, build_norm_layer
from .weight_init import constant_init

#: attention, FFN, layer, layer-sequence and dropout types of transformer configs
TRANSFORMER_BLOCKS = Registry('transformer block')


# ---------------------------------------------------------------------------------------
# Dropout layers used on the residual branch ("dropout_layer" in configs)

def drop_path(x: torch.Tensor, drop_prob: float = 0.0, training: bool = False) -> torch.Tensor:
    """Stochastic depth: zero whole samples (dim 0) with probability ``drop_prob``,
    scaling the kept ones by ``1 / (1 - drop_prob)``; the identity outside training."""
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    mask = (keep_prob + torch.rand(shape, dtype=x.dtype, device=x.device)).floor_()
    return x.div(keep_prob) * mask


@TRANSFORMER_BLOCKS.register_module()
class DropPath(nn.Module):
    """Module form of :func:`drop_path`."""

    def __init__(self, drop_prob: float = 0.1):
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'


@TRANSFORMER_BLOCKS.register_module()
class Dropout(nn.Dropout):
    """``nn.Dropout`` taking mmcv's argument name ``drop_prob``."""

    def __init__(self, drop_prob: float = 0.5, inplace: bool = False):
        super().__init__(p=drop_prob, inplace=inplace)


def build_dropout(cfg: Mapping[str, Any] | None) -> nn.Module:
    """Build ``dict(type='DropPath' | 'Dropout', drop_prob=p)``; ``None`` = identity."""
    return TRANSFORMER_BLOCKS.build(cfg) if cfg else nn.Identity()


def _build(cfg: Mapping[str, Any], default_type: str, **default_args) -> nn.Module:
    return TRANSFORMER_BLOCKS.build({'type': default_type, **cfg}, **default_args)


# ---------------------------------------------------------------------------------------
# Attention

@TRANSFORMER_BLOCKS.register_module()
class MultiheadAttention(nn.Module):
    """Self-attention with a residual connection (mmcv's wrapper of ``nn.MultiheadAttention``).

    ``forward(query, key=None, value=None, residual=None)`` returns
    ``residual + dropout_layer(proj_drop(attn(query, key, value)))``; missing key and
    value are the query, a missing residual is the query.

    Args:
        embed_dims, num_heads: as ``nn.MultiheadAttention``.
        attn_drop: dropout on the attention weights.
        proj_drop: dropout on the attention output.
        dropout_layer: dropout config for the residual branch (e.g. ``DropPath``).
        batch_first: tokens are (batch, n, channels) rather than (n, batch, channels).
        **kwargs: further ``nn.MultiheadAttention`` arguments.
    """

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float = 0.0,
                 proj_drop: float = 0.0,
                 dropout_layer: Mapping | None = dict(type='Dropout', drop_prob=0.0),
                 batch_first: bool = False, **kwargs):
        super().__init__()
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.batch_first = batch_first
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, attn_drop, batch_first=batch_first,
                                          **kwargs)
        self.proj_drop = nn.Dropout(proj_drop)
        self.dropout_layer = build_dropout(dropout_layer)

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None,
                value: torch.Tensor | None = None, residual: torch.Tensor | None = None) -> torch.Tensor:
        key = query if key is None else key
        value = key if value is None else value
        residual = query if residual is None else residual
        out = self.attn(query, key, value, need_weights=False)[0]
        return residual + self.dropout_layer(self.proj_drop(out))


class _DividedAttention(nn.Module, metaclass=ABCMeta):
    """Pre-norm self-attention over groups of TimeSformer tokens (the divided attentions).

    Input (B, 1 + P * T, C): a class token, then the patch tokens ordered
    patch-major (token ``1 + p * T + t``). Subclasses group the (B, P, T, C) patches
    for attention in :meth:`_update`.

    Args:
        embed_dims, num_heads: attention width and heads.
        num_frames: frames T per clip.
        attn_drop, proj_drop: dropout on attention weights / attention output.
        dropout_layer: dropout config on the residual branch (stochastic depth).
        norm_cfg: the pre-attention norm.
        **kwargs: further ``nn.MultiheadAttention`` arguments.
    """

    def __init__(self, embed_dims: int, num_heads: int, num_frames: int, attn_drop: float = 0.0,
                 proj_drop: float = 0.0,
                 dropout_layer: Mapping | None = dict(type='DropPath', drop_prob=0.1),
                 norm_cfg: Mapping = dict(type='LN'), **kwargs):
        super().__init__()
        # the layer passes its own batch_first; these blocks always work batch-first
        kwargs.pop('batch_first', None)
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.num_frames = num_frames
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, attn_drop, batch_first=True, **kwargs)
        self.proj_drop = nn.Dropout(proj_drop)
        self.dropout_layer = build_dropout(dropout_layer)

    def _attend(self, tokens: torch.Tensor) -> torch.Tensor:
        """norm -> attention -> proj_drop -> dropout_layer on (groups, n, channels)."""
        tokens = self.norm(tokens)
        out = self.attn(tokens, tokens, tokens, need_weights=False)[0]
        return self.dropout_layer(self.proj_drop(out))

    @abstractmethod
    def _update(self, cls_token: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Residual updates of the (B, 1, C) class token and the (B, P, T, C) patches."""

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None,
                value: torch.Tensor | None = None, residual: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1 + P * T, C) -> same; ``key``/``value`` are ignored (self-attention)."""
        if residual is not None:
            raise ValueError(f'{type(self).__name__} adds its own shortcut; it cannot be used after '
                             f'a "norm" in operation_order')
        b, n, c = query.shape
        cls_token = query[:, :1]
        patches = query[:, 1:].reshape(b, (n - 1) // self.num_frames, self.num_frames, c)
        cls_update, patch_update = self._update(cls_token, patches)
        return torch.cat((cls_token + cls_update, (patches + patch_update).reshape(b, n - 1, c)), 1)


@TRANSFORMER_BLOCKS.register_module()
class DividedTemporalAttentionWithNorm(_DividedAttention):
    """TimeSformer's temporal attention: each patch position attends over the frames.

    The class token passes unchanged; the patch tokens get ``x + temporal_fc(attention
    over t)``, with ``temporal_fc`` zero-initialised so the block starts as the identity.

    Args: see :class:`_DividedAttention`.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.temporal_fc = nn.Linear(self.embed_dims, self.embed_dims)
        self.init_weights()

    def init_weights(self) -> None:
        """Zero ``temporal_fc``: the block starts as the identity."""
        constant_init(self.temporal_fc, val=0, bias=0)

    def _update(self, cls_token: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, p, t, c = patches.shape
        # patch-major order makes each patch's T tokens contiguous: (B * P, T, C)
        out = self.temporal_fc(self._attend(patches.reshape(b * p, t, c)))
        return torch.zeros_like(cls_token), out.view(b, p, t, c)


@TRANSFORMER_BLOCKS.register_module()
class DividedSpatialAttentionWithNorm(_DividedAttention):
    """TimeSformer's spatial attention: the patches of each frame attend to each other.

    Each frame attends over its P patches plus a copy of the class token; the class
    token's update is the mean of its per-frame updates.

    Args: see :class:`_DividedAttention`.
    """

    def _update(self, cls_token: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, p, t, c = patches.shape
        # (B * T, 1 + P, C): each frame's patches led by a copy of the class token
        frames = patches.transpose(1, 2).reshape(b * t, p, c)
        frames = torch.cat((cls_token.expand(b, t, c).reshape(b * t, 1, c), frames), 1)
        out = self._attend(frames)
        cls_update = out[:, 0].reshape(b, t, c).mean(1, keepdim=True)
        return cls_update, out[:, 1:].reshape(b, t, p, c).transpose(1, 2)

# ---------------------------------------------------------------------------------------
# Feed-forward networks

@TRANSFORMER_BLOCKS.register_module()
class FFN(nn.Module):
    """``num_fcs`` linear layers with activation and dropout, plus a residual connection.

    Child ``layers`` is ``Sequential(Sequential(Linear, act, Dropout), ..., Linear,
    Dropout)`` as in mmcv. ``forward(x, identity=None)`` returns
    ``identity + dropout_layer(layers(x))`` (identity defaults to ``x``), or only
    the branch when ``add_identity`` is False.

    Args:
        embed_dims: input and output channels.
        feedforward_channels: hidden channels.
        num_fcs: number of linear layers (>= 2).
        act_cfg: activation after each hidden layer.
        ffn_drop: dropout after each layer.
        dropout_layer: dropout config on the residual branch.
        add_identity: add the residual connection.
        add_residual: older mmcv name of ``add_identity`` (wins when given).
    """

    def __init__(self, embed_dims: int = 256, feedforward_channels: int = 1024, num_fcs: int = 2,
                 act_cfg: Mapping = dict(type='ReLU', inplace=True), ffn_drop: float = 0.0,
                 dropout_layer: Mapping | None = None, add_identity: bool = True,
                 add_residual: bool | None = None):
        super().__init__()
        if num_fcs < 2:
            raise ValueError(f'FFN num_fcs must be at least 2, got {num_fcs}')
        self.embed_dims = embed_dims
        self.feedforward_channels = feedforward_channels
        self.num_fcs = num_fcs
        self.act_cfg = act_cfg
        activate = build_activation_layer(act_cfg)
        layers: list[nn.Module] = []
        in_channels = embed_dims
        for _ in range(num_fcs - 1):
            layers.append(nn.Sequential(nn.Linear(in_channels, feedforward_channels), activate,
                                        nn.Dropout(ffn_drop)))
            in_channels = feedforward_channels
        layers += [nn.Linear(feedforward_channels, embed_dims), nn.Dropout(ffn_drop)]
        self.layers = nn.Sequential(*layers)
        self.dropout_layer = build_dropout(dropout_layer)
        self.add_identity = add_identity if add_residual is None else add_residual

    def forward(self, x: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        out = self.dropout_layer(self.layers(x))
        if not self.add_identity:
            return out
        return (x if identity is None else identity) + out


@TRANSFORMER_BLOCKS.register_module()
class FFNWithNorm(FFN):
    """:class:`FFN` with its own pre-norm: ``x + ffn(norm(x))`` (TimeSformer).

    Args: as :class:`FFN`, plus ``norm_cfg`` for the pre-norm (child ``norm``).
    """

    def __init__(self, *args, norm_cfg: Mapping = dict(type='LN'), **kwargs):
        super().__init__(*args, **kwargs)
        self.norm = build_norm_layer(norm_cfg, self.embed_dims)[1]

    def forward(self, x: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        if identity is not None:
            raise ValueError('FFNWithNorm adds its own shortcut; it cannot be used after a '
                             '"norm" in operation_order')
        return super().forward(self.norm(x), x)


# ---------------------------------------------------------------------------------------
# Layers

_OPERATIONS = ('self_attn', 'norm', 'ffn')


@TRANSFORMER_BLOCKS.register_module()
class BaseTransformerLayer(nn.Module):
    """Attention, norm and FFN modules run in ``operation_order`` (mmcv's layer).

    With ``operation_order`` starting with ``'norm'`` the layer is pre-norm: each
    attention/FFN adds the input of the preceding norm as its residual.

    Args:
        attn_cfgs: one attention config per ``'self_attn'`` (a single dict is
            repeated); each gets ``batch_first`` from the layer unless it sets it.
        ffn_cfgs: one FFN config per ``'ffn'`` (a dict is repeated); type defaults
            to ``'FFN'``, ``embed_dims`` to the attention's.
        operation_order: sequence of ``'self_attn'``, ``'norm'`` and ``'ffn'``.
        norm_cfg: config of the ``norms`` (one per ``'norm'``).
        batch_first: tokens are (batch, n, channels).
    """

    def __init__(self, attn_cfgs: Mapping | Sequence[Mapping] | None = None,
                 ffn_cfgs: Mapping | Sequence[Mapping] = dict(
                     type='FFN', embed_dims=256, feedforward_channels=1024, num_fcs=2, ffn_drop=0.0,
                     act_cfg=dict(type='ReLU', inplace=True)),
                 operation_order: Sequence[str] | None = None, norm_cfg: Mapping = dict(type='LN'),
                 batch_first: bool = False):
        super().__init__()
        if not operation_order or not set(operation_order) <= set(_OPERATIONS):
            raise ValueError(f'BaseTransformerLayer operation_order must be a sequence of '
                             f'{_OPERATIONS}, got {operation_order!r}')
        self.operation_order = tuple(operation_order)
        self.batch_first = batch_first
        self.norm_cfg = norm_cfg
        self.pre_norm = self.operation_order[0] == 'norm'
        num_attn = self.operation_order.count('self_attn')
        num_ffns = self.operation_order.count('ffn')
        attn_cfgs = _per_operation(attn_cfgs, num_attn, 'attn_cfgs')
        ffn_cfgs = _per_operation(ffn_cfgs, num_ffns, 'ffn_cfgs')
        self.num_attn = num_attn

        self.attentions = nn.ModuleList(
            _build({'batch_first': batch_first, **cfg}, 'MultiheadAttention') for cfg in attn_cfgs)
        if not self.attentions:
            raise ValueError('BaseTransformerLayer needs at least one "self_attn" in operation_order')
        self.embed_dims = self.attentions[0].embed_dims
        for cfg in ffn_cfgs:
            if cfg.get('embed_dims', self.embed_dims) != self.embed_dims:
                raise ValueError(f'BaseTransformerLayer ffn embed_dims {cfg["embed_dims"]} differs '
                                 f'from the attention embed_dims {self.embed_dims}')
        self.ffns = nn.ModuleList(_build({'embed_dims': self.embed_dims, **cfg}, 'FFN')
                                  for cfg in ffn_cfgs)
        self.norms = nn.ModuleList(build_norm_layer(norm_cfg, self.embed_dims)[1]
                                   for _ in range(self.operation_order.count('norm')))

    def forward(self, query: torch.Tensor) -> torch.Tensor:
        """Tokens -> tokens, running ``operation_order``."""
        attentions, ffns, norms = iter(self.attentions), iter(self.ffns), iter(self.norms)
        identity = query
        for operation in self.operation_order:
            if operation == 'norm':
                query = next(norms)(query)
            elif operation == 'self_attn':
                query = next(attentions)(query, residual=identity if self.pre_norm else None)
                identity = query
            else:
                query = next(ffns)(query, identity if self.pre_norm else None)
        return query


def _per_operation(cfgs: Mapping | Sequence[Mapping] | None, count: int,
                   what: str) -> list[dict]:
    if isinstance(cfgs, Mapping):
        return [copy.deepcopy(dict(cfgs)) for _ in range(count)]
    cfgs = [dict(cfg) for cfg in (cfgs or [])]
    if len(cfgs) != count:
        raise ValueError(f'BaseTransformerLayer {what} has {len(cfgs)} configs for {count} '
                         f'such operations in operation_order')
    return cfgs


@TRANSFORMER_BLOCKS.register_module()
class TransformerLayerSequence(nn.Module):
    """``num_layers`` transformer layers run one after the other (child ``layers``).

    Args:
        transformerlayers: one layer config (repeated) or a list of ``num_layers``.
        num_layers: number of layers.
    """

    def __init__(self, transformerlayers: Mapping | Sequence[Mapping] | None = None,
                 num_layers: int | None = None):
        super().__init__()
        if isinstance(transformerlayers, Mapping):
            if num_layers is None:
                raise ValueError('TransformerLayerSequence needs num_layers with a single layer config')
            transformerlayers = [copy.deepcopy(dict(transformerlayers)) for _ in range(num_layers)]
        elif not transformerlayers or (num_layers is not None and len(transformerlayers) != num_layers):
            raise ValueError(f'TransformerLayerSequence needs a layer config or a list of '
                             f'num_layers ({num_layers}) configs, got {transformerlayers!r}')
        self.num_layers = len(transformerlayers)
        self.layers = nn.ModuleList(_build(cfg, 'BaseTransformerLayer') for cfg in transformerlayers)
        self.embed_dims = self.layers[0].embed_dims
        self.pre_norm = self.layers[0].pre_norm

    def forward(self, query: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            query = layer(query)
        return query
