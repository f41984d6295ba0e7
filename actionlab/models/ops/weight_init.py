"""Weight initialisers for single layers, with mmcv's names and defaults.

Each sets ``module.weight`` (and ``module.bias`` when there is one) in place and
leaves modules without those attributes alone, so they can be applied blindly
while walking ``model.modules()``.
"""
from __future__ import annotations

from torch import nn


def _init_bias(module: nn.Module, bias: float) -> None:
    if getattr(module, 'bias', None) is not None:
        nn.init.constant_(module.bias, bias)


def constant_init(module: nn.Module, val: float, bias: float = 0.0) -> None:
    """Fill the weight with ``val`` and the bias with ``bias``."""
    if getattr(module, 'weight', None) is not None:
        nn.init.constant_(module.weight, val)
    _init_bias(module, bias)


def normal_init(module: nn.Module, mean: float = 0.0, std: float = 1.0, bias: float = 0.0) -> None:
    """Draw the weight from N(mean, std^2); set the bias to ``bias``."""
    if getattr(module, 'weight', None) is not None:
        nn.init.normal_(module.weight, mean, std)
    _init_bias(module, bias)


def kaiming_init(module: nn.Module, a: float = 0.0, mode: str = 'fan_out',
                 nonlinearity: str = 'relu', bias: float = 0.0,
                 distribution: str = 'normal') -> None:
    """He initialisation (``fan_out``, normal distribution by default, as mmcv)."""
    if distribution not in ('uniform', 'normal'):
        raise ValueError(f"kaiming_init distribution must be 'uniform' or 'normal', got {distribution!r}")
    if getattr(module, 'weight', None) is not None:
        init = nn.init.kaiming_uniform_ if distribution == 'uniform' else nn.init.kaiming_normal_
        init(module.weight, a=a, mode=mode, nonlinearity=nonlinearity)
    _init_bias(module, bias)
