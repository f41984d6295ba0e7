"""The transform registry, a base class giving every transform a readable ``repr``, and
helpers shared by the transform families."""
from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np

from actionlab.registry import Registry

TRANSFORMS = Registry('transform')


class Transform:
    """Base of the built-in transforms: ``__call__(results) -> results`` plus a ``repr``
    listing the constructor arguments (read back from attributes of the same name)."""

    def __call__(self, results: dict) -> dict:
        raise NotImplementedError

    def __repr__(self) -> str:
        params = inspect.signature(type(self).__init__).parameters
        args = [f'{name}={_plain(getattr(self, name))!r}' for name, p in params.items()
                if name != 'self' and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                and hasattr(self, name)]
        return f'{type(self).__name__}({", ".join(args)})'


def _plain(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def as_frames(imgs: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """``imgs`` as one array (N, H, W[, C]); a list of equally sized frames is stacked."""
    if isinstance(imgs, np.ndarray):
        return imgs
    if len(imgs) == 0:
        raise ValueError('results["imgs"] is empty')
    shapes = {np.shape(img) for img in imgs}
    if len(shapes) > 1:
        raise ValueError(f'results["imgs"] holds frames of different shapes {sorted(shapes)}; '
                         'resize or crop them to one size first')
    return np.stack(imgs)


def pair(value, name: str) -> tuple:
    """``value`` as a 2-tuple: an int is repeated, a list or tuple must have two items."""
    if isinstance(value, (int, float)):
        return (value, value)
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f'{name} must be a number or two numbers, got {value!r}')
    return value

