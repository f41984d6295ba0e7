"""The model registry and its builders.

One registry, ``MODELS``, holds every buildable model part: backbones, necks,
heads, losses, consensus modules and whole models (recognizers, later
localizers and detectors). The ``build_*`` functions are thin, named aliases of
``MODELS.build`` kept for MMAction2's API.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from actionlab.registry import Registry

MODELS = Registry('model')


def build_backbone(cfg: Mapping[str, Any]) -> nn.Module:
    """Build a backbone such as ``dict(type='ResNet', depth=50)``."""
    return MODELS.build(cfg)


def build_neck(cfg: Mapping[str, Any]) -> nn.Module:
    """Build a neck (feature fusion between backbone and head)."""
    return MODELS.build(cfg)


def build_head(cfg: Mapping[str, Any]) -> nn.Module:
    """Build a head such as ``dict(type='TSNHead', num_classes=400, in_channels=2048)``."""
    return MODELS.build(cfg)


def build_loss(cfg: Mapping[str, Any]) -> nn.Module:
    """Build a loss such as ``dict(type='CrossEntropyLoss')``."""
    return MODELS.build(cfg)


def build_model(cfg: Mapping[str, Any], train_cfg: Mapping | None = None,
                test_cfg: Mapping | None = None) -> nn.Module:
    """Build a whole model (recognizer, localizer, detector) from its config dict.

    ``train_cfg``/``test_cfg`` belong inside ``cfg``; passing them here still works
    (they are merged into ``cfg``) but is deprecated, as in MMAction2.
    """
    if train_cfg is not None or test_cfg is not None:
        warnings.warn('train_cfg and test_cfg should be given inside the model config, '
                      'not as arguments of build_model', DeprecationWarning, stacklevel=2)
        cfg = dict(cfg)
        for key, value in (('train_cfg', train_cfg), ('test_cfg', test_cfg)):
            if value is None:
                continue
            if cfg.get(key) is not None:
                raise ValueError(f'{key} is given both as an argument and in the model config')
            cfg[key] = value
    return MODELS.build(cfg)


build_recognizer = build_model


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (the CPU for a model without any)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device('cpu')
