"""Formatting transforms: the final array layout, the keys handed to the model, tensors."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .base import TRANSFORMS, Transform, as_frames


def to_tensor(data) -> torch.Tensor:
    """``data`` (ndarray, tensor, sequence, int or float) as a ``torch.Tensor``; a Python or
    NumPy scalar becomes a 1-element tensor, as in MMAction2."""
    if isinstance(data, torch.Tensor):
        return data
    if isinstance(data, np.ndarray):
        # flips leave negative strides, which torch.from_numpy cannot take
        return torch.from_numpy(np.ascontiguousarray(data))
    if isinstance(data, Sequence) and not isinstance(data, str):
        return torch.tensor(data)
    if isinstance(data, (bool, np.bool_)):
        raise TypeError(f'cannot convert a bool ({data!r}) to a tensor')
    if isinstance(data, (int, np.integer)):
        return torch.LongTensor([int(data)])
    if isinstance(data, (float, np.floating)):
        return torch.FloatTensor([float(data)])
    raise TypeError(f'cannot convert {type(data).__name__} to a tensor: {data!r}')


_FORMATS = ('NCTHW', 'NCHW', 'NCHW_Flow', 'NPTCHW')


@TRANSFORMS.register_module()
class FormatShape(Transform):
    """Arrange ``imgs`` (M, H, W, C), M = crops x clips x clip_len, for the model:

    * ``'NCTHW'``: (crops*clips, C, clip_len, H, W) for 3-D CNNs;
    * ``'NCHW'``: (M, C, H, W) for 2-D CNNs;
    * ``'NCHW_Flow'``: (crops*clips, clip_len*C, H, W), flow frames stacked on channels;
    * ``'NPTCHW'``: (num_proposals, clips*clip_len, C, H, W).

    ``collapse`` drops the leading axis when it is 1 (detectors). Sets ``input_shape``.
    """

    def __init__(self, input_format: str, collapse: bool = False):
        if input_format not in _FORMATS:
            raise ValueError(f'FormatShape: input_format must be one of {", ".join(_FORMATS)}, '
                             f'got {input_format!r}')
        self.input_format = input_format
        self.collapse = collapse

    def __call__(self, results: dict) -> dict:
        imgs = as_frames(results['imgs'])
        if self.collapse and results['num_clips'] != 1:
            raise ValueError(f'FormatShape(collapse=True) needs num_clips == 1, '
                             f'got {results["num_clips"]}')
        if self.input_format == 'NCTHW':
            clips = imgs.reshape((-1, results['num_clips'], results['clip_len']) + imgs.shape[1:])
            clips = clips.transpose(0, 1, 5, 2, 3, 4)  # crops, clips, C, L, H, W
            imgs = clips.reshape((-1,) + clips.shape[2:])
        elif self.input_format == 'NCHW':
            imgs = imgs.transpose(0, 3, 1, 2)
        elif self.input_format == 'NCHW_Flow':
            clips = imgs.reshape((-1, results['num_clips'], results['clip_len']) + imgs.shape[1:])
            clips = clips.transpose(0, 1, 2, 5, 3, 4)  # crops, clips, L, C, H, W
            imgs = clips.reshape((-1, clips.shape[2] * clips.shape[3]) + clips.shape[4:])
        else:  # NPTCHW
            imgs = imgs.reshape((results['num_proposals'],
                                 results['num_clips'] * results['clip_len']) + imgs.shape[1:])
            imgs = imgs.transpose(0, 1, 4, 2, 3)
        if self.collapse:
            if imgs.shape[0] != 1:
                raise ValueError(f'FormatShape(collapse=True) needs one view, got {imgs.shape[0]}')
            imgs = imgs[0]
        results['imgs'] = np.ascontiguousarray(imgs)
        results['input_shape'] = imgs.shape
        return results


@TRANSFORMS.register_module()
class Collect(Transform):
    """Keep only ``keys``, plus a ``meta_name`` dict of the ``meta_keys`` present in the
    results (skipped when ``meta_keys`` is empty); ``nested`` wraps each value in a list."""

    def __init__(self, keys, meta_keys=('filename', 'label', 'original_shape', 'img_shape',
                                        'pad_shape', 'flip_direction', 'img_norm_cfg'),
                 meta_name: str = 'img_metas', nested: bool = False):
        self.keys = [keys] if isinstance(keys, str) else list(keys)
        self.meta_keys = [meta_keys] if isinstance(meta_keys, str) else list(meta_keys)
        self.meta_name = meta_name
        self.nested = nested

    def __call__(self, results: dict) -> dict:
        missing = [k for k in self.keys if k not in results]
        if missing:
            raise KeyError(f'Collect: key(s) {missing} not in results; available: '
                           f'{sorted(results)}')
        data = {k: results[k] for k in self.keys}
        if self.meta_keys:
            data[self.meta_name] = {k: results[k] for k in self.meta_keys if k in results}
        if self.nested:
            data = {k: [v] for k, v in data.items()}
        return data


@TRANSFORMS.register_module()
class ToTensor(Transform):
    """Convert ``results[key]`` to ``torch.Tensor`` for each of ``keys``."""

    def __init__(self, keys):
        self.keys = [keys] if isinstance(keys, str) else list(keys)

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            results[key] = to_tensor(results[key])
        return results
