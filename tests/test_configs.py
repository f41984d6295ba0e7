"""The config zoo: every recognition config loads, builds its pipelines and its model,
and the model scores one small input.

Models are built with their pretrained weights switched off and with JSON types (lists
for tuples, as a .json/.yaml config gives them). Configs whose model dicts and inputs are
identical share one build. Inputs are small (32 x 32 px) but keep what the network
needs: the number of segments of 2D models, the clip length of 3D ones; C3D and
TimeSformer have fixed sizes (C3D runs at 112 px, TimeSformer gets ``img_size=32``).
"""
from __future__ import annotations

import importlib
import json
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import torch

from actionlab.config import Config
from actionlab.data.transforms import Compose
from actionlab.models import build_model
from actionlab.registry import BuildError

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / 'configs'
GOLDEN_DIR = ROOT.parent / 'shared' / 'conformance' / 'golden'
CONFIGS = sorted(path for folder in ('recognition', 'recognition_audio')
                 for path in (CONFIG_DIR / folder).rglob('*.py'))

# Configs per folder in MMAction2 0.24.1, plus ActionLab's synthetic-data configs (tsn, tsm).
EXPECTED_COUNTS = {
    'recognition/c3d': 1, 'recognition/csn': 9, 'recognition/i3d': 11, 'recognition/omnisource': 12,
    'recognition/r2plus1d': 4, 'recognition/slowfast': 12, 'recognition/slowonly': 26,
    'recognition/tanet': 3, 'recognition/timesformer': 3, 'recognition/tin': 3, 'recognition/tpn': 3,
    'recognition/trn': 2, 'recognition/tsm': 36 + 1, 'recognition/tsn': 55 + 1, 'recognition/x3d': 2,
    'recognition_audio/audioonly': 1, 'recognition_audio/resnet': 2,
}
# Backbones that MMAction2 takes from other libraries; ActionLab refuses them by name.
THIRD_PARTY = ('mmcls.', 'torchvision.', 'timm.')
SIZE = 32
FIXED_SIZE = {'C3D': 112}  # C3D's fc6 expects the 8192 features of a 16 x 112 x 112 clip


def _name(path: Path) -> str:
    return str(path.relative_to(CONFIG_DIR))


def _plain(node):
    """The config tree as JSON gives it: dicts, lists, no tuples."""
    return json.loads(json.dumps(node))


def _pretrained_off(node):
    if isinstance(node, dict):
        return {k: None if k == 'pretrained' else _pretrained_off(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_pretrained_off(v) for v in node]
    return node


def _pipelines(dataset) -> Iterator[list]:
    """Pipelines of a dataset config, of a list of them (OmniSource) or of a wrapper."""
    if isinstance(dataset, list):
        for item in dataset:
            yield from _pipelines(item)
    elif isinstance(dataset, dict):
        if 'pipeline' in dataset:
            yield dataset['pipeline']
        if 'dataset' in dataset:
            yield from _pipelines(dataset['dataset'])


def _optional_package(step: dict) -> str | None:
    """The optional library a pipeline step needs, if any."""
    if step['type'] == 'Imgaug':
        return 'imgaug'
    if step['type'] == 'PytorchVideoTrans' or step['type'].startswith('pytorchvideo.'):
        return 'pytorchvideo'
    if step.get('decoding_backend') == 'turbojpeg':
        return 'turbojpeg'
    return None


@cache
def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except Exception:  # imgaug 0.4 breaks on NumPy 2 with an AttributeError, not an ImportError
        return False
    return True


def _sampler(cfg: dict, split: str) -> dict | None:
    """The first frame-sampling step (one with a ``clip_len``) of a split's pipelines."""
    for pipeline in _pipelines(cfg.get('data', {}).get(split)):
        for step in pipeline:
            if 'clip_len' in step:
                return step
    return None


def _model_case(cfg: dict) -> tuple[dict, tuple[int, ...]]:
    """(model dict ready to build, shape of one test input) for a loaded config."""
    model = _pretrained_off(_plain(cfg['model']))
    backbone = model['backbone']
    channels = backbone.get('in_channels', 3)
    test = _sampler(cfg, 'test') or _sampler(cfg, 'val')
    size = FIXED_SIZE.get(backbone['type'], SIZE)
    if backbone['type'] == 'TimeSformer':
        backbone['img_size'] = size  # its position embedding is sized for img_size
    if model['type'] == 'Recognizer2D':
        segments = (_sampler(cfg, 'train') or test)['num_clips']
        return model, (1, segments, channels, size, size)
    if model['type'] == 'AudioRecognizer':
        return model, (1, 1, channels, test['clip_len'], size)
    return model, (1, 1, channels, test['clip_len'], size, size)


def _collect_model_cases() -> dict[str, tuple[list[str], dict | None, tuple[int, ...] | None, str]]:
    """Unique (model, input shape) pairs, each named after the first config that has it.

    A config whose case cannot be made gets one of its own, holding the error.
    """
    cases: dict[str, tuple[list[str], dict | None, tuple[int, ...] | None, str]] = {}
    for path in CONFIGS:
        try:
            model, shape = _model_case(Config.fromfile(path))
        except Exception as e:
            cases[_name(path)] = ([_name(path)], None, None, f'{type(e).__name__}: {e}')
            continue
        key = json.dumps([model, shape], sort_keys=True)
        cases.setdefault(key, ([], model, shape, ''))[0].append(_name(path))
    return {case[0][0]: case for case in cases.values()}


MODEL_CASES = _collect_model_cases()


def test_every_zoo_folder_has_mmaction2s_configs():
    counts = Counter('/'.join(_name(path).split('/')[:2]) for path in CONFIGS)
    assert dict(counts) == EXPECTED_COUNTS


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_config_loads_and_builds_its_pipelines(path):
    cfg = Config.fromfile(path)
    assert cfg.model.type in ('Recognizer2D', 'Recognizer3D', 'AudioRecognizer')
    assert 'test' in cfg.data, 'every config can be tested'
    pipelines = [pipeline for split in ('train', 'val', 'test')
                 for pipeline in _pipelines(_plain(cfg.data.get(split)))]
    assert pipelines
    for pipeline in pipelines:
        missing = {pkg for pkg in map(_optional_package, pipeline) if pkg and not _importable(pkg)}
        if missing:  # without the library the error must name it
            with pytest.raises(ImportError, match='(?i)' + '|'.join(sorted(missing))):
                Compose(pipeline)
        else:
            assert len(Compose(pipeline).transforms) == len(pipeline)


@pytest.mark.parametrize('case', sorted(MODEL_CASES))
def test_model_builds_and_scores_a_small_input(case):
    names, model_cfg, shape, error = MODEL_CASES[case]
    if error:
        pytest.fail(f'{case}: {error}')
    backbone_type = model_cfg['backbone']['type']
    if backbone_type.startswith(THIRD_PARTY):
        with pytest.raises(BuildError, match=backbone_type):
            build_model(model_cfg)
        return
    torch.manual_seed(0)
    model = build_model(model_cfg).eval()
    with torch.inference_mode():
        out = model.forward_test(torch.rand(shape))
    assert out.shape[0] == 1 and torch.isfinite(out).all(), names
    test_cfg = model_cfg.get('test_cfg') or {}
    if test_cfg.get('feature_extraction'):
        return
    assert out.shape == (1, model_cfg['cls_head']['num_classes']), names
    if test_cfg.get('average_clips') == 'prob':
        torch.testing.assert_close(out.sum(1), torch.ones(1))


def _golden_records() -> list[dict]:
    if not GOLDEN_DIR.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(GOLDEN_DIR.glob('recognition*.json'))]


@pytest.mark.skipif(not GOLDEN_DIR.is_dir(), reason=f'no conformance folder at {GOLDEN_DIR}')
@pytest.mark.parametrize('record', _golden_records(), ids=lambda r: Path(r['config']).stem)
def test_model_dict_is_mmaction2s(record):
    """The resolved model dict equals the one MMAction2 0.24.1 resolved (pretrained aside)."""
    ours = _plain(Config.fromfile(ROOT / record['config']).model)
    assert _pretrained_off(ours) == _pretrained_off(record['model'])
