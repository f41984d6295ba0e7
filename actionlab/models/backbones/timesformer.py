"""TimeSformer: a ViT over the patches of every frame, with space-time attention.

Bertasius et al., "Is Space-Time Attention All You Need for Video Understanding?",
ICML 2021 (https://arxiv.org/abs/2102.05095).

Each frame is cut into 16x16 patches and embedded; a class token, spatial
position embeddings and (unless ``space_only``) temporal embeddings are added,
and a stack of transformer layers follows. ``attention_type``:

* ``'divided_space_time'``: per layer, attention over time (each patch position
  across frames), then over space (the patches of each frame), then an FFN;
* ``'joint_space_time'``: one attention over all patches of all frames;
* ``'space_only'``: each frame on its own (a plain ViT), frames averaged at the end.

The layers are built from an mmcv-style ``transformer_layers`` config (see
:mod:`actionlab.models.ops.transformer`); names follow MMAction2, so its
checkpoints load unchanged, and ``pretrained`` may be its ImageNet ViT checkpoint.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from actionlab.engine.checkpoint import load_state_dict, read_checkpoint, state_dict_of

from ..builder import MODELS
from ..ops import build_conv_layer, build_norm_layer, kaiming_init
from ..ops.transformer import TRANSFORMER_BLOCKS, TransformerLayerSequence

logger = logging.getLogger(__name__)


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


class PatchEmbed(nn.Module):
    """Cut every frame into ``patch_size`` patches and embed each (a strided conv).

    Args:
        img_size: frame size (int or (H, W)); must be a multiple of ``patch_size``.
        patch_size: patch side.
        in_channels: input channels.
        embed_dims: embedding width.
        conv_cfg: type of the ``projection`` conv.
    """

    def __init__(self, img_size: int | Sequence[int], patch_size: int | Sequence[int],
                 in_channels: int = 3, embed_dims: int = 768,
                 conv_cfg: Mapping = dict(type='Conv2d')):
        super().__init__()
        self.img_size = _pair(img_size)
        self.patch_size = _pair(patch_size)
        if self.img_size[0] % self.patch_size[0] or self.img_size[1] % self.patch_size[1]:
            raise ValueError(f'PatchEmbed img_size {self.img_size} must be a multiple of patch_size '
                             f'{self.patch_size}')
        self.num_patches = (self.img_size[0] // self.patch_size[0]) * (self.img_size[1] // self.patch_size[1])
        self.projection = build_conv_layer(conv_cfg, in_channels, embed_dims,
                                           kernel_size=self.patch_size, stride=self.patch_size)
        self.init_weights()

    def init_weights(self) -> None:
        """LeCun-normal projection (Kaiming, fan_in, linear gain)."""
        kaiming_init(self.projection, mode='fan_in', nonlinearity='linear')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) clips -> (B * T, num_patches, embed_dims) tokens."""
        b, c, t, h, w = x.shape
        x = self.projection(x.transpose(1, 2).reshape(b * t, c, h, w))
        return x.flatten(2).transpose(1, 2)


@MODELS.register_module()
class TimeSformer(nn.Module):
    """TimeSformer backbone: (B, C, T, H, W) clips -> (B, embed_dims) class-token features.

    Args:
        num_frames: frames T per clip (the size of the temporal embedding).
        img_size: frame size (the size of the spatial position embedding).
        patch_size: patch side.
        pretrained: checkpoint loaded by :meth:`init_weights` (MMAction2's ImageNet
            ViT; with divided attention its spatial attention also seeds the temporal one).
        embed_dims, num_heads: transformer width and heads.
        num_transformer_layers: depth of the default layer stack.
        in_channels: input channels.
        dropout_ratio: dropout after adding the position / time embeddings.
        transformer_layers: ``None`` builds the default stack for ``attention_type``
            (stochastic depth rising linearly to 0.1); a ``TransformerLayerSequence``
            config is built as given; a single layer config is repeated
            ``num_transformer_layers`` times; a list gives one config per layer.
        attention_type: ``'divided_space_time'``, ``'joint_space_time'`` or ``'space_only'``.
        norm_cfg: the final norm.
    """

    supported_attention_types = ('divided_space_time', 'space_only', 'joint_space_time')

    def __init__(self, num_frames: int, img_size: int | Sequence[int], patch_size: int | Sequence[int],
                 pretrained: str | os.PathLike | None = None, embed_dims: int = 768,
                 num_heads: int = 12, num_transformer_layers: int = 12, in_channels: int = 3,
                 dropout_ratio: float = 0.0,
                 transformer_layers: Mapping | Sequence[Mapping] | None = None,
                 attention_type: str = 'divided_space_time',
                 norm_cfg: Mapping = dict(type='LN', eps=1e-6)):
        super().__init__()
        if attention_type not in self.supported_attention_types:
            raise ValueError(f'TimeSformer attention_type must be one of '
                             f'{self.supported_attention_types}, got {attention_type!r}')
        if transformer_layers is not None and not isinstance(transformer_layers, (Mapping, Sequence)):
            raise TypeError(f'TimeSformer transformer_layers must be a config dict, a list of them or '
                            f'None, got {type(transformer_layers).__name__}')
        self.num_frames = num_frames
        self.pretrained = pretrained
        self.embed_dims = embed_dims
        self.num_transformer_layers = num_transformer_layers
        self.attention_type = attention_type

        self.patch_embed = PatchEmbed(img_size, patch_size, in_channels=in_channels,
                                      embed_dims=embed_dims)
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dims))
        self.drop_after_pos = nn.Dropout(p=dropout_ratio)
        if attention_type != 'space_only':
            self.time_embed = nn.Parameter(torch.zeros(1, num_frames, embed_dims))
            self.drop_after_time = nn.Dropout(p=dropout_ratio)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]
        self.transformer_layers = self._build_layers(transformer_layers, num_heads)

    def _build_layers(self, transformer_layers, num_heads: int) -> nn.Module:
        if transformer_layers is None:
            transformer_layers = self._default_layers(num_heads)
        if isinstance(transformer_layers, Mapping):
            layer_type = transformer_layers.get('type')
            if isinstance(layer_type, str):
                layer_type = TRANSFORMER_BLOCKS.get(layer_type)
            if isinstance(layer_type, type) and issubclass(layer_type, TransformerLayerSequence):
                return TRANSFORMER_BLOCKS.build(transformer_layers)
            transformer_layers = [transformer_layers] * self.num_transformer_layers
        return TRANSFORMER_BLOCKS.build(dict(type='TransformerLayerSequence',
                                             transformerlayers=list(transformer_layers),
                                             num_layers=len(transformer_layers)))

    def _default_layers(self, num_heads: int) -> list[dict]:
        """MMAction2's default layer configs for ``attention_type``."""
        dims, frames = self.embed_dims, self.num_frames
        layers = []
        for drop_prob in np.linspace(0, 0.1, self.num_transformer_layers).tolist():
            drop = dict(type='DropPath', drop_prob=drop_prob)
            if self.attention_type == 'divided_space_time':
                attn = dict(embed_dims=dims, num_heads=num_heads, num_frames=frames, dropout_layer=drop,
                            norm_cfg=dict(type='LN', eps=1e-6))
                layers.append(dict(
                    type='BaseTransformerLayer',
                    attn_cfgs=[dict(type='DividedTemporalAttentionWithNorm', **attn),
                               dict(type='DividedSpatialAttentionWithNorm', **attn)],
                    ffn_cfgs=dict(type='FFNWithNorm', embed_dims=dims, feedforward_channels=dims * 4,
                                  num_fcs=2, act_cfg=dict(type='GELU'), dropout_layer=drop,
                                  norm_cfg=dict(type='LN', eps=1e-6)),
                    operation_order=('self_attn', 'self_attn', 'ffn')))
            else:
                layers.append(dict(
                    type='BaseTransformerLayer',
                    attn_cfgs=[dict(type='MultiheadAttention', embed_dims=dims, num_heads=num_heads,
                                    batch_first=True, dropout_layer=drop)],
                    ffn_cfgs=dict(type='FFN', embed_dims=dims, feedforward_channels=dims * 4, num_fcs=2,
                                  act_cfg=dict(type='GELU'), dropout_layer=drop),
                    operation_order=('norm', 'self_attn', 'norm', 'ffn'),
                    norm_cfg=dict(type='LN', eps=1e-6), batch_first=True))
        return layers

    def init_weights(self, pretrained: str | os.PathLike | None = None) -> None:
        """Truncated-normal (std 0.02) class token and position embedding, then load
        ``pretrained`` (the argument, else the constructor's) if set."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        if pretrained is not None:
            self.pretrained = pretrained
        if self.pretrained is not None:
            self._load_pretrained(self.pretrained)

    def _load_pretrained(self, filename: str | os.PathLike) -> None:
        state = state_dict_of(read_checkpoint(filename),
                              revise_keys=((r'^module\.', ''), (r'^backbone\.', '')))
        if self.attention_type == 'divided_space_time':
            # a ViT layer has norms.0 (before attention) and norms.1 (before the FFN)
            # and one spatial attention, which also seeds the temporal one
            state = {key.replace('norms.0', 'attentions.0.norm').replace('norms.1', 'ffns.0.norm'): value
                     for key, value in state.items()}
            state.update({key.replace('attentions.0', 'attentions.1'): value.clone()
                          for key, value in state.items() if 'attentions.0' in key})
        logger.info('TimeSformer: loading %s', filename)
        load_state_dict(self, state, strict=False, log=logger)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> (B, embed_dims)."""
        expected = (self.num_frames, *self.patch_embed.img_size)
        if x.dim() != 5 or tuple(x.shape[2:]) != expected:
            raise ValueError(f'TimeSformer expects (B, C, {expected[0]}, {expected[1]}, {expected[2]}) '
                             f'clips, got shape {tuple(x.shape)}')
        batches = x.shape[0]
        x = self.patch_embed(x)
        cls_tokens = self.cls_token.expand(x.shape[0], -1, -1)
        x = self.drop_after_pos(torch.cat((cls_tokens, x), dim=1) + self.pos_embed)

        if self.attention_type == 'space_only':
            x = self.transformer_layers(x)
            x = x.view(-1, self.num_frames, *x.shape[1:]).mean(1)
        else:
            # (B * T, 1 + P, C) -> one class token and patch-major tokens (B, 1 + P * T, C)
            cls_tokens = x[:batches, :1]
            patches = x[:, 1:].reshape(batches, self.num_frames, -1, self.embed_dims).transpose(1, 2)
            patches = self.drop_after_time(patches + self.time_embed)
            x = torch.cat((cls_tokens, patches.reshape(batches, -1, self.embed_dims)), dim=1)
            x = self.transformer_layers(x)
        # the norm is per token: only the class token is needed
        return self.norm(x[:, 0])
