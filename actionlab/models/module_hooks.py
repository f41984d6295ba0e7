"""Module hooks from the config's ``module_hooks`` list (MMAction2's ``register_module_hooks``).

The one hook MMAction2 0.24.1 ships is :class:`GPUNormalize`: the data pipeline stops
before ``Normalize``, so that batches travel to the device as ``uint8`` (a quarter of
the float32 bytes through the DataLoader and the host-to-device copy), and a
``forward_pre`` hook on the backbone normalises them there::

    module_hooks = [dict(type='GPUNormalize', hooked_module='backbone', hook_pos='forward_pre',
                         input_format='NCHW', mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375])]
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from actionlab.registry import Registry

MODULE_HOOKS = Registry('module hook')

#: where the channel axis is in the backbone input of each FormatShape layout
_CHANNEL_SHAPES = {
    'NCHW': (1, -1, 1, 1),
    'NCHW_Flow': (1, -1, 1, 1),
    'NCTHW': (1, -1, 1, 1, 1),
    'NPTCHW': (1, 1, 1, -1, 1, 1),
}
_HOOK_POSITIONS = ('forward_pre', 'forward', 'backward')


@MODULE_HOOKS.register_module()
class GPUNormalize:
    """Normalise a ``uint8`` input on its device: ``(x - mean) / std`` per channel.

    ``input_format`` is the layout the input has where the hook sits ('NCHW',
    'NCHW_Flow', 'NCTHW' or 'NPTCHW'). The result is float32, with the values the
    ``Normalize`` transform would give (the same arithmetic: subtract, then multiply by
    the reciprocal of ``std``). A float input means the pipeline normalised already,
    which is an error rather than normalising twice.
    """

    def __init__(self, input_format: str, mean: Sequence[float], std: Sequence[float]):
        if input_format not in _CHANNEL_SHAPES:
            raise ValueError(f'GPUNormalize: input_format must be one of {", ".join(_CHANNEL_SHAPES)}, '
                             f'got {input_format!r}')
        if len(mean) != len(std):
            raise ValueError(f'GPUNormalize: mean {list(mean)} and std {list(std)} must have one '
                             'value per channel each')
        if any(s == 0 for s in std):
            raise ValueError(f'GPUNormalize: std must not contain 0, got {list(std)}')
        shape = _CHANNEL_SHAPES[input_format]
        self.input_format = input_format
        self.mean = torch.tensor(mean, dtype=torch.float32).view(shape)
        self.std_inv = (1 / torch.tensor(std, dtype=torch.float64)).float().view(shape)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.uint8:
            raise TypeError(f'GPUNormalize expects uint8 input (drop Normalize from the pipeline), '
                            f'got {x.dtype}')
        if x.dim() != self.mean.dim():
            raise ValueError(f'GPUNormalize: {self.input_format} input must have {self.mean.dim()} '
                             f'dimensions, got shape {tuple(x.shape)}')
        if self.mean.device != x.device:
            self.mean, self.std_inv = self.mean.to(x.device), self.std_inv.to(x.device)
        return (x.float() - self.mean) * self.std_inv

    def hook_func(self) -> Callable:
        """The ``forward_pre`` hook: normalises the module's first positional input."""
        def normalize_hook(module: nn.Module, inputs: tuple) -> tuple:
            return (self(inputs[0]), *inputs[1:])
        return normalize_hook


def register_module_hooks(model: nn.Module, module_hooks: Sequence[Mapping]) -> list:
    """Register each hook of ``module_hooks`` on ``model``'s submodule ``hooked_module``
    (a dotted name, default ``'backbone'``; ``''`` for the model itself) at ``hook_pos``
    ('forward_pre', 'forward' or 'backward'). Returns the torch hook handles."""
    handles = []
    for index, cfg in enumerate(module_hooks):
        cfg = dict(cfg)
        where = f'module_hooks[{index}] ({cfg.get("type")})'
        position = cfg.pop('hook_pos', 'forward_pre')
        if position not in _HOOK_POSITIONS:
            raise ValueError(f'{where}: hook_pos must be one of {", ".join(_HOOK_POSITIONS)}, '
                             f'got {position!r}')
        name = cfg.pop('hooked_module', 'backbone')
        try:
            module = model.get_submodule(name)
        except AttributeError:
            raise ValueError(f'{where}: the model has no submodule {name!r} to hook') from None
        hook = MODULE_HOOKS.build(cfg).hook_func()
        if position == 'forward_pre':
            handles.append(module.register_forward_pre_hook(hook))
        elif position == 'forward':
            handles.append(module.register_forward_hook(hook))
        else:
            handles.append(module.register_full_backward_hook(hook))
    return handles
