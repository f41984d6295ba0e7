"""Checkpoint files: saving (atomically), loading (MMAction2 0.x files too) and
resolving pretrained-weight names without ever downloading anything.

A checkpoint is a dict ``{'meta': {...}, 'state_dict': {...}, 'optimizer': {...}, ...}``
as written by MMAction2 0.x (mmcv) and by ActionLab. Files are read with
``torch.load(weights_only=True)``; the handful of NumPy types that mmcv-era
checkpoints keep in their ``meta`` are allowed explicitly.

Pretrained names:

* a local path is used as it is;
* ``torchvision://resnet50`` looks for ``<cache>/torchvision/resnet50*.pth``;
* ``http(s)://.../name.pth`` (and ``open-mmlab://``/``mmcls://`` names) look for the
  file's basename under ``<cache>/``;

where ``<cache>`` is ``$ACTIONLAB_HOME/checkpoints`` (default
``~/.cache/actionlab/checkpoints``). A missing file is an error that says where to put it.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

# NumPy objects found in the `meta` of mmcv-era checkpoints (best scores, seeds).
_SAFE_NUMPY = [np.dtype, np.ndarray, np.float64, np.float32, np.int64, np.int32, np.bool_]
try:  # NumPy 2 keeps the pickle reconstructors under numpy._core, NumPy 1 under numpy.core
    from numpy._core.multiarray import _reconstruct, scalar  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
_SAFE_NUMPY += [_reconstruct, scalar]
_SAFE_NUMPY += [type(np.dtype(t)) for t in ('float64', 'float32', 'int64', 'int32', 'bool')]


class CheckpointError(RuntimeError):
    """A checkpoint could not be found, read or applied."""


def cache_dir() -> Path:
    """Directory where pretrained weights are looked up (never downloaded into)."""
    root = os.environ.get('ACTIONLAB_HOME')
    base = Path(root) if root else Path.home() / '.cache' / 'actionlab'
    return base / 'checkpoints'


def resolve_checkpoint_path(name: str | os.PathLike) -> Path:
    """Map a checkpoint name (path, ``torchvision://``, URL) to an existing local file."""
    name = str(name)
    if '://' not in name:
        path = Path(name).expanduser()
        if not path.is_file():
            raise CheckpointError(f'checkpoint file not found: {path}')
        return path
    scheme, rest = name.split('://', 1)
    if scheme == 'torchvision':
        folder = cache_dir() / 'torchvision'
        candidates = sorted(folder.glob(f'{rest}.pth')) + sorted(folder.glob(f'{rest}-*.pth'))
        where = folder / f'{rest}.pth'
    else:
        basename = rest.rstrip('/').rsplit('/', 1)[-1]
        folder = cache_dir()
        candidates = [folder / basename] if (folder / basename).is_file() else []
        where = folder / basename
    if not candidates:
        raise CheckpointError(
            f"'{name}' is not available locally and ActionLab never downloads weights. "
            f'Download it yourself and save it as {where} (set ACTIONLAB_HOME to move the '
            f'cache), or pass a local file path instead.')
    return candidates[0]


def read_checkpoint(name: str | os.PathLike, map_location: str | torch.device = 'cpu') -> dict:
    """Read a checkpoint file into a dict (``torch.load`` with ``weights_only=True``)."""
    path = resolve_checkpoint_path(name)
    try:
        with torch.serialization.safe_globals(_SAFE_NUMPY):
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # corrupt file, truncated write, foreign pickle content
        raise CheckpointError(f'cannot read checkpoint {path}: {e}') from e
    if not isinstance(ckpt, Mapping):
        raise CheckpointError(f'checkpoint {path} holds a {type(ckpt).__name__}, not a dict')
    return dict(ckpt)


def state_dict_of(ckpt: Mapping, revise_keys: Iterable[tuple[str, str]] = ((r'^module\.', ''),)
                  ) -> OrderedDict:
    """The weights of a checkpoint dict (``state_dict``, ``model`` or the dict itself),
    with each ``(pattern, replacement)`` of ``revise_keys`` applied to the key names."""
    sd = ckpt.get('state_dict', ckpt.get('model', ckpt)) if isinstance(ckpt, Mapping) else ckpt
    out = OrderedDict()
    for key, value in sd.items():
        for pattern, repl in revise_keys:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside DataParallel / DistributedDataParallel wrappers."""
    while hasattr(model, 'module') and isinstance(model.module, nn.Module):
        model = model.module
    return model


def load_state_dict(module: nn.Module, state_dict: Mapping[str, torch.Tensor],
                    strict: bool = False, log: logging.Logger | None = None) -> dict[str, list]:
    """Copy ``state_dict`` into ``module``, reporting every key that does not fit.

    Keys whose shapes differ are never copied. With ``strict=True`` any missing,
    unexpected or mismatched key raises :class:`CheckpointError` naming them;
    otherwise they are logged as a warning. Returns the three lists.
    """
    log = log or logger
    module = unwrap_model(module)
    own = module.state_dict()
    mismatched = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
                  for k, v in state_dict.items() if k in own and hasattr(v, 'shape')
                  and tuple(v.shape) != tuple(own[k].shape)]
    bad = {m.split(':', 1)[0] for m in mismatched}
    result = module.load_state_dict(
        OrderedDict((k, v) for k, v in state_dict.items() if k not in bad), strict=False)
    missing = [k for k in result.missing_keys if k not in bad]
    report = {'missing_keys': missing, 'unexpected_keys': list(result.unexpected_keys),
              'shape_mismatch': mismatched}
    lines = []
    if report['unexpected_keys']:
        lines.append('unexpected keys in checkpoint: ' + ', '.join(report['unexpected_keys']))
    if missing:
        lines.append('missing keys in checkpoint: ' + ', '.join(missing))
    if mismatched:
        lines.append('keys with different shapes (not loaded): ' + '; '.join(mismatched))
    if lines:
        msg = '\n'.join(lines)
        if strict:
            raise CheckpointError(msg)
        log.warning(msg)
    return report


def load_checkpoint(model: nn.Module, filename: str | os.PathLike,
                    map_location: str | torch.device = 'cpu', strict: bool = False,
                    revise_keys: Iterable[tuple[str, str]] = ((r'^module\.', ''),),
                    logger: logging.Logger | None = None) -> dict:
    """Load the weights of a checkpoint file into ``model`` and return the whole checkpoint.

    Reads MMAction2 0.x files (``state_dict`` + ``meta``) as well as ActionLab's.
    ``revise_keys`` rewrites key names first (by default strips DDP's ``module.``).
    """
    ckpt = read_checkpoint(filename, map_location)
    load_state_dict(model, state_dict_of(ckpt, revise_keys), strict=strict, log=logger)
    return ckpt


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, Mapping):
        return type(obj)((k, _to_cpu(v)) for k, v in obj.items()) if isinstance(obj, OrderedDict) \
            else {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_checkpoint(model: nn.Module, filename: str | os.PathLike, optimizer=None,
                    meta: dict | None = None, **extra: Any) -> Path:
    """Write ``{'meta', 'state_dict', 'optimizer', **extra}`` to ``filename`` atomically.

    The file is written to a temporary name in the same folder, flushed to disk and
    renamed over ``filename``, so a crash at any moment leaves either the old or
    the new checkpoint, never a truncated one.
    """
    path = Path(filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt: dict[str, Any] = {'meta': dict(meta or {}),
                            'state_dict': _to_cpu(unwrap_model(model).state_dict())}
    if optimizer is not None:
        ckpt['optimizer'] = _to_cpu(optimizer.state_dict())
    ckpt.update(_to_cpu(extra))
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(ckpt, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
