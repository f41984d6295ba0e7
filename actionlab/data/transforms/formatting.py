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


@TRANSFORMS.register_module()
class ImageToTensor(Transform):
    """An H x W x C image -> C x H x W ``torch.Tensor``, for each of ``keys``."""

    def __init__(self, keys):
        self.keys = [keys] if isinstance(keys, str) else list(keys)

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            results[key] = to_tensor(np.asarray(results[key]).transpose(2, 0, 1))
        return results


@TRANSFORMS.register_module()
class Transpose(Transform):
    """``results[key].transpose(order)`` for each of ``keys``."""

    def __init__(self, keys, order):
        self.keys = [keys] if isinstance(keys, str) else list(keys)
        self.order = tuple(order)

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            results[key] = results[key].transpose(self.order)
        return results


@TRANSFORMS.register_module()
class Rename(Transform):
    """Rename result keys by ``mapping`` {old: new}; missing old keys are skipped."""

    def __init__(self, mapping: dict):
        self.mapping = dict(mapping)

    def __call__(self, results: dict) -> dict:
        for old, new in self.mapping.items():
            if old in results:
                if new in results:
                    raise KeyError(f'Rename: cannot rename {old!r} to {new!r}, which already '
                                   'exists in the results')
                results[new] = results.pop(old)
        return results


class DataContainer:
    """A field value with instructions for the batch collate (MMCV's DataContainer, which
    ActionLab does not depend on). ``stack=False``: the batch holds a list with one value
    per sample (e.g. a different number of boxes per image) instead of one stacked tensor.
    ``padding_value`` and ``cpu_only`` are kept for MMCV compatibility and not used: every
    field travels to the model's device."""

    def __init__(self, data, stack: bool = False, padding_value: int = 0, cpu_only: bool = False):
        self.data = data
        self.stack = stack
        self.padding_value = padding_value
        self.cpu_only = cpu_only

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.data!r}, stack={self.stack})'


@TRANSFORMS.register_module()
class ToDataContainer(Transform):
    """Wrap fields in :class:`DataContainer` so the collate keeps them as per-sample lists.

    ``fields``: dicts with ``key`` (a key or list of keys) and DataContainer arguments, e.g.
    ``[dict(key=['proposals', 'gt_bboxes', 'gt_labels'], stack=False)]`` as MMAction2's
    AVA pipelines use; a batch then holds ``batch['gt_bboxes'] = [tensor(n_0, 4),
    tensor(n_1, 4), ...]``.
    """

    def __init__(self, fields):
        self.fields = [dict(f) for f in fields]
        for field in self.fields:
            if 'key' not in field:
                raise KeyError(f'ToDataContainer: each field needs a "key", got {field!r}')

    def __call__(self, results: dict) -> dict:
        for field in self.fields:
            options = dict(field)
            keys = options.pop('key')
            for key in [keys] if isinstance(keys, str) else keys:
                results[key] = DataContainer(results[key], **options)
        return results
