"""Load a recognizer and classify one video: ``init_recognizer`` + ``inference_recognizer``."""
from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from actionlab.config import Config


def init_recognizer(config: str | os.PathLike | Config, checkpoint: str | os.PathLike | None = None,
                    device: str | torch.device = 'cpu', cfg_options: dict | None = None,
                    optimize: bool = False) -> nn.Module:
    """Build the recognizer of ``config``, load ``checkpoint`` (if given) and put it in eval mode.

    The config is attached as ``model.cfg``; no ``pretrained`` weights are loaded (every
    ``pretrained`` key of the model config is set to None, see
    :func:`turn_off_pretrained`: the checkpoint has every weight, and without one the
    weights are random).
    ``optimize=True`` applies :func:`~actionlab.models.optimize_for_inference` (BatchNorm
    folding, channels-last and oneDNN layers on the CPU): same scores within float
    rounding, 2-3x faster on a CPU, but the model can no longer be trained.
    """
    from actionlab.engine.checkpoint import load_checkpoint
    from actionlab.models import build_model, optimize_for_inference
    from actionlab.models.module_hooks import register_module_hooks

    if isinstance(config, (str, os.PathLike)):
        config = Config.fromfile(config)
    elif not isinstance(config, Config):
        raise TypeError(f'config must be a file path or a Config, got {type(config).__name__}')
    cfg = copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    turn_off_pretrained(cfg.model)
    model = build_model(cfg.model)
    register_module_hooks(model, cfg.get('module_hooks') or [])
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu')
    model.cfg = cfg
    model = model.to(device).eval()
    if optimize:
        optimize_for_inference(model)
    return model


def turn_off_pretrained(cfg: MutableMapping) -> None:
    """Set every ``pretrained`` key in the (nested) model config ``cfg`` to None, in place
    (as MMAction2's test tool): the checkpoint provides every weight."""
    if 'pretrained' in cfg:
        cfg['pretrained'] = None
    for value in cfg.values():
        if isinstance(value, Mapping):
            turn_off_pretrained(value)


def load_label_map(path: str | os.PathLike) -> list[str]:
    """Class names from a label-map file: one per line, blank lines ignored."""
    lines = [line.strip() for line in Path(path).read_text(encoding='utf-8').splitlines()]
    names = [line for line in lines if line]
    if not names:
        raise ValueError(f'label map {path} has no class names (one per line expected)')
    return names


def _frame_count(frame_dir: Path, filename_tmpl: str, modality: str) -> int:
    """Number of files in ``frame_dir`` named like ``filename_tmpl`` (e.g. img_00001.jpg)."""
    if modality == 'Flow':
        filename_tmpl = filename_tmpl.replace('{}', 'x')
    pattern = re.compile('^' + re.sub(r'\\\{[^}]*\\\}', r'\\d+', re.escape(filename_tmpl)) + '$')
    return sum(1 for name in os.listdir(frame_dir) if pattern.match(name))


def build_inference_input(cfg: Config, video: str | os.PathLike | dict) -> tuple[dict, list[dict]]:
    """The first results dict and the test pipeline for ``video`` (a video file or URL,
    a folder of frames, or a ready results dict), adapting the config's decoding steps
    to the input kind."""
    test_cfg = cfg.data.test
    pipeline = [dict(step) for step in test_cfg.pipeline]
    if isinstance(video, dict):
        return dict(video), pipeline
    path = str(video)
    is_url = '://' in path
    if not is_url and not os.path.exists(path):
        raise FileNotFoundError(f'input not found: {path}')
    if not is_url and os.path.isdir(path):
        tmpl = test_cfg.get('filename_tmpl', 'img_{:05}.jpg')
        modality = test_cfg.get('modality', 'RGB')
        total = _frame_count(Path(path), tmpl, modality)
        if total == 0:
            raise ValueError(f'no frames named like {tmpl!r} in {path}')
        data = dict(frame_dir=path, total_frames=total, label=-1, filename_tmpl=tmpl,
                    start_index=test_cfg.get('start_index', 1), modality=modality)
        pipeline = [s for s in pipeline if 'Init' not in s['type']]
        pipeline = [dict(type='RawFrameDecode') if 'Decode' in s['type'] else s for s in pipeline]
        return data, pipeline
    data = dict(filename=path, label=-1, start_index=0, modality='RGB')
    if not any('Init' in s['type'] for s in pipeline):  # a rawframe pipeline: decode with PyAV
        pipeline.insert(0, dict(type='PyAVInit'))
        pipeline = [dict(type='PyAVDecode') if s['type'] == 'RawFrameDecode' else s for s in pipeline]
    return data, pipeline


def inference_recognizer(model: nn.Module, video: str | os.PathLike | dict,
                         outputs: Sequence[str] | None = None, as_tensor: bool = True
                         ) -> list[tuple[int, float]] | tuple[list[tuple[int, float]], dict[str, Any]]:
    """Classify one input with a recognizer made by :func:`init_recognizer`.

    ``video`` is a video file or URL, a folder of frames (named as the config's
    ``filename_tmpl``), or a results dict for the test pipeline. Returns the top-5
    ``(class_index, score)`` pairs, best first. With ``outputs`` (names of submodules,
    e.g. ``['backbone', 'cls_head']``) also returns a dict of those modules' outputs
    (tensors, or NumPy arrays when ``as_tensor=False``).
    """
    from actionlab.data.transforms import Compose

    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise ValueError('model has no .cfg: build it with init_recognizer(config, checkpoint)')
    data, pipeline = build_inference_input(cfg, video)
    data = Compose(pipeline)(data)
    device = next(model.parameters()).device
    imgs = torch.as_tensor(data['imgs']).unsqueeze(0).to(device)

    captured: dict[str, Any] = {}
    handles = []
    modules = dict(model.named_modules())
    for name in outputs or ():
        if name not in modules:
            raise KeyError(f'model has no submodule {name!r}')
        handles.append(modules[name].register_forward_hook(
            lambda _m, _i, out, name=name: captured.__setitem__(name, out)))
    try:
        with torch.inference_mode():
            scores = model(imgs=imgs, return_loss=False)[0].float().cpu()
    finally:
        for h in handles:
            h.remove()

    top = torch.topk(scores, k=min(5, scores.numel()))
    result = [(int(i), float(s)) for s, i in zip(top.values, top.indices)]
    if outputs is None:
        return result
    if not as_tensor:
        captured = {k: v.detach().cpu().numpy() if torch.is_tensor(v) else v for k, v in captured.items()}
    return result, captured
