"""ActionLab: video understanding in pure PyTorch, compatible with MMAction2 0.x configs
and checkpoints.

The top-level API is imported lazily so that ``import actionlab`` (and the command
line's ``--help``) stays fast::

    from actionlab import init_recognizer, inference_recognizer
"""
from actionlab.version import __version__

_LAZY = {'init_recognizer': 'actionlab.apis.inference',
         'inference_recognizer': 'actionlab.apis.inference',
         'train_model': 'actionlab.apis.train',
         'single_gpu_test': 'actionlab.apis.test',
         'Config': 'actionlab.config'}

__all__ = ['__version__', *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f'module actionlab has no attribute {name!r}')
