"""Convolution, linear and self-attention layers that run on oneDNN for CPU inference.

Stock PyTorch leaves speed on the table in two places when a video model runs on a CPU:

* For small inputs PyTorch's convolution heuristics pick its own kernels
  (``slow_conv3d``, ``thnn_conv2d``) over oneDNN: with batch 1, 23 of I3D-R50's 53
  convs, which then run 2-3x slower than on oneDNN and need contiguous inputs (a copy
  before and after each of them once the model is channels-last).
* float32 ``nn.Linear`` and the projections inside ``nn.MultiheadAttention`` call
  MKL's sgemm, which on AMD CPUs runs AVX2 code: half of what oneDNN's AVX-512
  kernels reach on the same cores (about 118 vs 255 GFLOP/s per core here).

The layers below are drop-in subclasses of the stock ones: same parameters, same
``state_dict`` keys, same results up to float rounding. They call oneDNN directly
for a float32 CPU input while gradients and autocast are off (an inference
forward), and behave exactly like the stock layer otherwise (training, bf16
autocast, which already runs on oneDNN, other devices). :func:`use_onednn_layers`
switches the stock layers of a model to them in place.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _cpu_autocast_enabled() -> bool:
    try:
        return torch.is_autocast_enabled('cpu')
    except TypeError:  # torch < 2.4 has no device argument
        return torch.is_autocast_cpu_enabled()


def onednn_applies(x: torch.Tensor) -> bool:
    """Whether ``x`` is an input the oneDNN layers run on oneDNN themselves: a float32
    CPU tensor, with gradients and CPU autocast off."""
    return (x.device.type == 'cpu' and x.dtype == torch.float32 and not torch.is_grad_enabled()
            and not _cpu_autocast_enabled())


def onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, through oneDNN's matmul where :func:`onednn_applies`."""
    if onednn_applies(x):
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, 'none', [], '')
    return F.linear(x, weight, bias)


class _OneDNNConvMixin:
    """``_conv_forward`` through ``aten::mkldnn_convolution`` (zero padding given as numbers,
    batched input: unbatched (C, H, W) / (C, T, H, W) inputs take the stock path)."""

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor,
                      bias: torch.Tensor | None) -> torch.Tensor:
        if (self.padding_mode == 'zeros' and not isinstance(self.padding, str)
                and input.dim() == weight.dim() and onednn_applies(input)):
            return torch.ops.aten.mkldnn_convolution(input, weight, bias, self.padding, self.stride,
                                                     self.dilation, self.groups)
        return super()._conv_forward(input, weight, bias)


class OneDNNConv2d(_OneDNNConvMixin, nn.Conv2d):
    """``nn.Conv2d`` that always runs on oneDNN in inference on the CPU."""


class OneDNNConv3d(_OneDNNConvMixin, nn.Conv3d):
    """``nn.Conv3d`` that always runs on oneDNN in inference on the CPU."""


class OneDNNLinear(nn.Linear):
    """``nn.Linear`` whose float32 CPU inference runs on oneDNN instead of MKL."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return onednn_linear(input, self.weight, self.bias)


class OneDNNMultiheadAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` whose self-attention in inference projects with oneDNN
    and attends with ``F.scaled_dot_product_attention``.

    Taken when the call is plain self-attention (``query`` is ``key`` is ``value``, no
    masks, no attention weights returned, q/k/v of one width without extra biases) on
    an input :func:`onednn_applies` to; anything else goes to ``nn.MultiheadAttention``.
    """

    def _plain_self_attention(self, query, key, value, key_padding_mask, need_weights,
                              attn_mask, is_causal) -> bool:
        return (query is key and key is value and key_padding_mask is None and attn_mask is None
                and not need_weights and not is_causal and self._qkv_same_embed_dim
                and self.bias_k is None and not self.add_zero_attn and not self.training
                and onednn_applies(query))

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = True,
                attn_mask: torch.Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self._plain_self_attention(query, key, value, key_padding_mask, need_weights,
                                          attn_mask, is_causal):
            return super().forward(query, key, value, key_padding_mask=key_padding_mask,
                                   need_weights=need_weights, attn_mask=attn_mask,
                                   average_attn_weights=average_attn_weights, is_causal=is_causal)
        x = query if self.batch_first else query.transpose(0, 1)
        batches, tokens, channels = x.shape
        qkv = onednn_linear(x, self.in_proj_weight, self.in_proj_bias)
        # (B, N, 3 C) -> 3 x (B, heads, N, C / heads)
        q, k, v = qkv.view(batches, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        out = onednn_linear(out.transpose(1, 2).reshape(batches, tokens, channels),
                            self.out_proj.weight, self.out_proj.bias)
        return (out if self.batch_first else out.transpose(0, 1)), None


#: stock layer type -> its oneDNN counterpart
ONEDNN_LAYERS: dict[type[nn.Module], type[nn.Module]] = {
    nn.Conv2d: OneDNNConv2d,
    nn.Conv3d: OneDNNConv3d,
    nn.Linear: OneDNNLinear,
    nn.MultiheadAttention: OneDNNMultiheadAttention,
}


def onednn_available() -> bool:
    """Whether this PyTorch build has the oneDNN operators the layers call."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, '_linear_pointwise')


def use_onednn_layers(module: nn.Module) -> int:
    """Switch every stock ``Conv2d``, ``Conv3d``, ``Linear`` and ``MultiheadAttention`` in
    ``module`` (exactly those types, not subclasses) to its oneDNN counterpart, in place.

    Only the class changes: parameters, buffers, hooks and ``state_dict`` keys stay.
    Returns how many layers were switched (0 when :func:`onednn_available` is False).
    """
    if not onednn_available():
        return 0
    switched = 0
    for layer in module.modules():
        onednn_type = ONEDNN_LAYERS.get(type(layer))
        if onednn_type is not None:
            layer.__class__ = onednn_type
            switched += 1
    return switched
