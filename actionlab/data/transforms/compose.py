"""Compose: a pipeline of transforms applied in order."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from .base import TRANSFORMS

# config type prefixes that wrap another library's transform: (prefix, ActionLab type)
_WRAPPED_LIBRARIES = (('torchvision.', 'TorchvisionTrans'), ('pytorchvideo.', 'PytorchVideoTrans'))


def _build(cfg: Mapping) -> Callable:
    kind = cfg.get('type')
    for prefix, wrapper in _WRAPPED_LIBRARIES:
        if isinstance(kind, str) and kind.startswith(prefix):
            args = {k: v for k, v in cfg.items() if k != 'type'}
            return TRANSFORMS.get(wrapper)(kind[len(prefix):], **args)
    return TRANSFORMS.build(cfg)


class Compose:
    """Apply ``transforms`` (config dicts built through ``TRANSFORMS``, or callables) in order.

    A transform returning ``None`` stops the pipeline, which then returns ``None``. An
    error raised inside a step gets a note naming the step and, with ``name_sample``
    (default), the ``filename`` of the results if they have one. Datasets build their
    pipeline with ``name_sample=False``: their own note names the sample and its index.
    As in MMAction2, ``dict(type='torchvision.X', ...)`` and ``dict(type='pytorchvideo.X',
    ...)`` build ``TorchvisionTrans('X', ...)`` and ``PytorchVideoTrans('X', ...)``.
    """

    def __init__(self, transforms: Sequence[Mapping | Callable], *, name_sample: bool = True):
        self.name_sample = name_sample
        if isinstance(transforms, (Mapping, str)) or not isinstance(transforms, Sequence):
            raise TypeError(f'pipeline must be a list of transforms, '
                            f'got {type(transforms).__name__}')
        self.transforms: list[Callable] = []
        for i, step in enumerate(transforms):
            if isinstance(step, Mapping):
                step = _build(step)
            elif not callable(step):
                raise TypeError(f'pipeline step {i} must be a dict or a callable, '
                                f'got {type(step).__name__}: {step!r}')
            self.transforms.append(step)

    def __call__(self, results: dict) -> dict | None:
        for step in self.transforms:
            try:
                results = step(results)
            except Exception as e:
                if hasattr(e, 'add_note'):  # Python >= 3.11
                    note = f'(in pipeline step {step!r}'
                    if self.name_sample and isinstance(results, dict) and 'filename' in results:
                        note += f' while processing {results["filename"]}'
                    e.add_note(note + ')')
                raise
            if results is None:
                return None
        return results

    def __repr__(self) -> str:
        lines = ''.join(f'\n    {step!r}' for step in self.transforms)
        return f'{type(self).__name__}({lines}\n)'
