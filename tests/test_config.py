"""Tests for actionlab.config: loading, inheritance, overrides, dumping and errors."""
from __future__ import annotations

import argparse
import copy
import json
import logging
import pickle
import sys
import textwrap
import traceback
from pathlib import Path

import pytest
import yaml

from actionlab.config import Config, ConfigDict, ConfigError, DictAction, parse_cfg_options

# --------------------------------------------------------------------------- fixtures

# An MMAction2 0.x TSN config and its three bases, in the layout and style of the 0.x tree.
TSN_MODEL = """\
# model settings
model = dict(
    type='Recognizer2D',
    backbone=dict(
        type='ResNet',
        pretrained='torchvision://resnet50',
        depth=50,
        norm_eval=False),
    cls_head=dict(
        type='TSNHead',
        num_classes=400,
        in_channels=2048,
        spatial_type='avg',
        consensus=dict(type='AvgConsensus', dim=1),
        dropout_ratio=0.4,
        init_std=0.01),
    # model training and testing settings
    train_cfg=None,
    test_cfg=dict(average_clips=None))
"""

SGD_100E = """\
# optimizer
optimizer = dict(
    type='SGD',
    lr=0.01,  # this lr is used for 8 gpus
    momentum=0.9,
    weight_decay=0.0001)
optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
# learning policy
lr_config = dict(policy='step', step=[40, 80])
total_epochs = 100
"""

DEFAULT_RUNTIME = """\
checkpoint_config = dict(interval=1)
log_config = dict(
    interval=20,
    hooks=[
        dict(type='TextLoggerHook'),
        # dict(type='TensorboardLoggerHook'),
    ])
# runtime settings
dist_params = dict(backend='nccl')
log_level = 'INFO'
load_from = None
resume_from = None
workflow = [('train', 1)]

# disable opencv multithreading to avoid system being overloaded
opencv_num_threads = 0
# set multi-process start method as `fork` to speed up the training
mp_start_method = 'fork'
"""

TSN_CONFIG = """\
_base_ = [
    '../../_base_/models/tsn_r50.py', '../../_base_/schedules/sgd_100e.py',
    '../../_base_/default_runtime.py'
]

# dataset settings
dataset_type = 'RawframeDataset'
data_root = 'data/kinetics400/rawframes_train'
data_root_val = 'data/kinetics400/rawframes_val'
ann_file_train = 'data/kinetics400/kinetics400_train_list_rawframes.txt'
ann_file_val = 'data/kinetics400/kinetics400_val_list_rawframes.txt'
ann_file_test = 'data/kinetics400/kinetics400_val_list_rawframes.txt'
img_norm_cfg = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)
train_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=3),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['imgs', 'label'])
]
val_pipeline = [
    dict(
        type='SampleFrames',
        clip_len=1,
        frame_interval=1,
        num_clips=3,
        test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['imgs'])
]
test_pipeline = [
    dict(
        type='SampleFrames',
        clip_len=1,
        frame_interval=1,
        num_clips=25,
        test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='TenCrop', crop_size=224),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['imgs'])
]
data = dict(
    videos_per_gpu=32,
    workers_per_gpu=2,
    test_dataloader=dict(videos_per_gpu=1),
    train=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=data_root,
        pipeline=train_pipeline),
    val=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=data_root_val,
        pipeline=val_pipeline),
    test=dict(
        type=dataset_type,
        ann_file=ann_file_test,
        data_prefix=data_root_val,
        pipeline=test_pipeline))
evaluation = dict(
    interval=5, metrics=['top_k_accuracy', 'mean_class_accuracy'])

# runtime settings
work_dir = './work_dirs/tsn_r50_1x1x3_100e_kinetics400_rgb/'
"""


def write(root: Path, relpath: str, text: str) -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def tsn_path(tmp_path: Path) -> Path:
    write(tmp_path, 'configs/_base_/models/tsn_r50.py', TSN_MODEL)
    write(tmp_path, 'configs/_base_/schedules/sgd_100e.py', SGD_100E)
    write(tmp_path, 'configs/_base_/default_runtime.py', DEFAULT_RUNTIME)
    return write(tmp_path, 'configs/recognition/tsn/tsn_r50_1x1x3_100e_kinetics400_rgb.py', TSN_CONFIG)


def as_json(value):
    """``value`` with tuples turned into lists, as JSON and YAML store it."""
    return json.loads(json.dumps(value))


# --------------------------------------------------------------------------- MMAction2 configs

def test_mmaction2_tsn_config_loads_with_its_bases(tsn_path: Path):
    cfg = Config.fromfile(tsn_path)
    assert cfg.filename == str(tsn_path)
    assert cfg.model.type == 'Recognizer2D'
    assert cfg.model.backbone.depth == 50
    assert cfg['model']['cls_head']['consensus'] == {'type': 'AvgConsensus', 'dim': 1}
    assert cfg.model.train_cfg is None and cfg.model.test_cfg.average_clips is None
    assert cfg.optimizer == dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001)
    assert cfg.optimizer_config.grad_clip.max_norm == 40
    assert cfg.lr_config.step == [40, 80] and cfg.total_epochs == 100
    assert cfg.workflow == [('train', 1)] and isinstance(cfg.workflow[0], tuple)
    assert cfg.log_config.hooks[0].type == 'TextLoggerHook'
    assert cfg.mp_start_method == 'fork' and cfg.opencv_num_threads == 0
    train = cfg.data.train
    assert train.type == 'RawframeDataset' and train.data_prefix == 'data/kinetics400/rawframes_train'
    assert [step.type for step in train.pipeline][:3] == ['SampleFrames', 'RawFrameDecode', 'Resize']
    assert train.pipeline[2].scale == (-1, 256)
    assert train.pipeline[6] == dict(type='Normalize', mean=[123.675, 116.28, 103.53],
                                     std=[58.395, 57.12, 57.375], to_bgr=False)
    assert cfg.data.test.pipeline[0].num_clips == 25
    assert cfg.data.test_dataloader.videos_per_gpu == 1
    assert cfg.evaluation.metrics == ['top_k_accuracy', 'mean_class_accuracy']
    assert '_base_' not in cfg
    # the text holds every file, bases first, each after its path
    names = ['tsn_r50.py', 'sgd_100e.py', 'default_runtime.py', 'tsn_r50_1x1x3_100e_kinetics400_rgb.py']
    positions = [cfg.text.index(f'{name}\n') for name in names]
    assert positions == sorted(positions)
    assert "optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))" in cfg.text


def test_child_of_a_config_with_bases_merges_recursively(tsn_path: Path):
    child = write(tsn_path.parent, 'tsn_r50_1x1x3_75e_ucf101_rgb.py', """\
        _base_ = './tsn_r50_1x1x3_100e_kinetics400_rgb.py'
        model = dict(cls_head=dict(num_classes=101, dropout_ratio=0.5))
        optimizer = dict(lr=0.001)
        lr_config = dict(step=[60])
        data = dict(videos_per_gpu=8, train=dict(ann_file='ucf101_train.txt'))
        total_epochs = 75
        """)
    cfg = Config.fromfile(child)
    assert cfg.model.cls_head.num_classes == 101 and cfg.model.cls_head.dropout_ratio == 0.5
    assert cfg.model.cls_head.in_channels == 2048 and cfg.model.backbone.depth == 50
    assert cfg.optimizer == dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.0001)
    assert cfg.lr_config == dict(policy='step', step=[60])  # lists are replaced, not merged
    assert cfg.data.videos_per_gpu == 8 and cfg.data.workers_per_gpu == 2
    assert cfg.data.train.ann_file == 'ucf101_train.txt'
    assert cfg.data.train.pipeline[0].num_clips == 3
    assert cfg.total_epochs == 75 and cfg.log_level == 'INFO'
    assert cfg.text.count('\n_base_ =') == 2


def test_python_configs_run_as_code(tmp_path: Path):
    path = write(tmp_path, 'code.py', """\
        import os
        import os.path as osp
        from math import sqrt

        data_root = os.path.join('data', 'k400')
        clip_len = 8
        frame_interval = 64 // clip_len
        scales = [round(224 * s) for s in (1, 0.875, 0.75)]
        layers = tuple(i * 2 for i in range(3))
        data = dict(val=dict(ann_file=osp.join(data_root, 'val.txt'), n=clip_len * 2))
        data['test'] = data['val']
        norm = sqrt(4)

        def helper():
            return 1

        class Local:
            pass
        """)
    cfg = Config.fromfile(path)
    assert set(cfg) == {'data_root', 'clip_len', 'frame_interval', 'scales', 'layers', 'data', 'norm'}
    assert cfg.data_root == 'data/k400' and cfg.frame_interval == 8
    assert cfg.scales == [224, 196, 168] and cfg.layers == (0, 2, 4) and cfg.norm == 2.0
    assert cfg.data.test == {'ann_file': 'data/k400/val.txt', 'n': 16}
    cfg.data.test.n = 1  # the two names become independent dicts
    assert cfg.data.val.n == 16


def test_runtime_error_in_python_config_names_the_file(tmp_path: Path):
    path = write(tmp_path, 'bad.py', "a = 1\nb = undefined_name\n")
    with pytest.raises(NameError) as info:
        Config.fromfile(path)
    if sys.version_info >= (3, 11):  # exception notes are new in 3.11
        assert info.value.__notes__ == [f'(while executing config file {path})']
    frames = [(frame.filename, frame.lineno) for frame in traceback.extract_tb(info.tb)]
    assert frames[-1] == (str(path), 2)


# --------------------------------------------------------------------------- inheritance

def test_base_as_string_and_nested_bases(tmp_path: Path):
    write(tmp_path, 'base/root.py', "model = dict(a=1, b=dict(c=2, d=3))\nruntime = 'r'\n")
    write(tmp_path, 'base/mid.py', "_base_ = './root.py'\nmodel = dict(b=dict(c=20))\n")
    child = write(tmp_path, 'exp/child.py', "_base_ = '../base/mid.py'\nmodel = dict(b=dict(d=30), e=5)\n")
    cfg = Config.fromfile(child)
    assert cfg.to_dict() == {'model': {'a': 1, 'b': {'c': 20, 'd': 30}, 'e': 5}, 'runtime': 'r'}


def test_later_base_and_child_override_earlier(tmp_path: Path):
    write(tmp_path, 'a.py', "model = dict(x=1, y=dict(z=1))\nlst = [1, 2, 3]\n")
    write(tmp_path, 'b.py', "optimizer = dict(lr=0.1)\n")
    child = write(tmp_path, 'c.py', """\
        _base_ = ['./a.py', './b.py']
        model = dict(y=dict(w=2))
        lst = [9]
        optimizer = dict(lr=0.5, momentum=0.9)
        """)
    cfg = Config.fromfile(child)
    assert cfg.model == {'x': 1, 'y': {'z': 1, 'w': 2}}
    assert cfg.lst == [9]
    assert cfg.optimizer == {'lr': 0.5, 'momentum': 0.9}
    assert list(cfg) == ['model', 'lst', 'optimizer']


def test_two_bases_with_one_key_is_an_error(tmp_path: Path):
    a = write(tmp_path, 'a.py', "model = dict(x=1)\n")
    b = write(tmp_path, 'b.py', "model = dict(y=1)\n")
    child = write(tmp_path, 'c.py', "_base_ = ['a.py', 'b.py']\n")
    with pytest.raises(ConfigError) as info:
        Config.fromfile(child)
    message = str(info.value)
    assert str(a) in message and str(b) in message and "'model'" in message and str(child) in message


def test_delete_replaces_the_base_dict(tmp_path: Path):
    write(tmp_path, 'base.py', """\
        optimizer = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)
        model = dict(head=dict(type='A', x=1, loss=dict(type='CE', w=1)))
        """)
    child = write(tmp_path, 'child.py', """\
        _base_ = 'base.py'
        optimizer = dict(_delete_=True, type='Adam', lr=0.001)
        model = dict(head=dict(loss=dict(_delete_=True, type='BCE')), neck=dict(_delete_=True, k=2))
        """)
    cfg = Config.fromfile(child)
    assert cfg.optimizer == {'type': 'Adam', 'lr': 0.001}
    assert cfg.model.head == {'type': 'A', 'x': 1, 'loss': {'type': 'BCE'}}
    assert cfg.model.neck == {'k': 2}  # no base dict to replace: the marker is still dropped


def test_dict_over_a_base_value_needs_delete(tmp_path: Path):
    write(tmp_path, 'base.py', "model = dict(train_cfg=None, depth=50)\n")
    ok = write(tmp_path, 'ok.py',
               "_base_ = 'base.py'\nmodel = dict(train_cfg=dict(blending=dict(alpha=0.2)))\n")
    assert Config.fromfile(ok).model.train_cfg.blending.alpha == 0.2  # None is simply replaced
    bad = write(tmp_path, 'bad.py', "_base_ = 'base.py'\nmodel = dict(depth=dict(x=1))\n")
    with pytest.raises(ConfigError, match=r"bad\.py: 'model\.depth': cannot merge a dict into "
                                          r"the base value of type int.*_delete_"):
        Config.fromfile(bad)


def test_json_and_yaml_configs_with_bases(tmp_path: Path):
    write(tmp_path, 'base/model.py', "model = dict(type='R', depth=50, pool=(1, 2))\n")
    write(tmp_path, 'base/runtime.json', json.dumps({'log_level': 'INFO', 'hooks': [{'type': 'Text'}]}))
    yaml_child = write(tmp_path, 'child.yaml', """\
        _base_:
          - base/model.py
          - base/runtime.json
        model:
          depth: 18
        log_level: DEBUG
        """)
    cfg = Config.fromfile(yaml_child)
    assert cfg.to_dict() == {'model': {'type': 'R', 'depth': 18, 'pool': (1, 2)},
                             'log_level': 'DEBUG', 'hooks': [{'type': 'Text'}]}
    json_child = write(tmp_path, 'grandchild.json', json.dumps(
        {'_base_': 'child.yaml', 'model': {'_delete_': True, 'type': 'X'}}))
    cfg = Config.fromfile(json_child)
    assert cfg.model == {'type': 'X'} and cfg.log_level == 'DEBUG'
    assert cfg.hooks[0].type == 'Text'


def test_circular_bases_are_an_error(tmp_path: Path):
    write(tmp_path, 'a.py', "_base_ = 'b.py'\nx = 1\n")
    b = write(tmp_path, 'b.py', "_base_ = 'a.py'\ny = 1\n")
    with pytest.raises(ConfigError, match='circular'):
        Config.fromfile(b)


# --------------------------------------------------------------------------- substitutions

def test_predefined_variables(tmp_path: Path):
    path = write(tmp_path, 'sub/exp_1.py', """\
        work_dir = './work_dirs/{{fileBasenameNoExtension}}'
        here = '{{ fileDirname }}'
        names = ['{{fileBasename}}', '{{  fileExtname }}']
        """)
    cfg = Config.fromfile(path)
    assert cfg.work_dir == './work_dirs/exp_1'
    assert cfg.here == str(tmp_path / 'sub')
    assert cfg.names == ['exp_1.py', '.py']
    yml = write(tmp_path, 'sub/y.yml', "name: '{{ fileBasenameNoExtension }}'\next: '{{fileExtname}}'\n")
    assert Config.fromfile(yml).to_dict() == {'name': 'y', 'ext': '.yml'}


def test_base_references_in_python(tmp_path: Path):
    write(tmp_path, 'base.py', """\
        model = dict(type='R', backbone=dict(depth=50))
        pipeline = [dict(type='A'), dict(type='B', size=(224, 224))]
        lr = 0.01
        """)
    child = write(tmp_path, 'child.py', """\
        _base_ = ['base.py']
        teacher = {{_base_.model}}
        depth = {{ _base_.model.backbone.depth }}
        size = {{_base_.pipeline.1.size}}
        quoted = '{{_base_.pipeline}}'
        name = 'exp_{{_base_.model.type}}_lr{{ _base_.lr }}'
        nested = dict(steps=[{{_base_.lr}}, 1])
        model = dict(backbone=dict(depth=101))
        """)
    cfg = Config.fromfile(child)
    assert cfg.teacher == {'type': 'R', 'backbone': {'depth': 50}}
    assert cfg.model.backbone.depth == 101  # the reference took the base's value, not the merged one
    assert cfg.depth == 50 and cfg.size == (224, 224)
    assert cfg.quoted == [{'type': 'A'}, {'type': 'B', 'size': (224, 224)}]
    assert cfg.name == 'exp_R_lr0.01'
    assert cfg.nested.steps == [0.01, 1]
    cfg.teacher.backbone.depth = 1  # a copy, not the base's object
    assert cfg.model.backbone.depth == 101


def test_base_references_in_json_and_yaml(tmp_path: Path):
    write(tmp_path, 'base.py', "item = dict(a=[1, 2])\nname = 'tsn'\n")
    write(tmp_path, 'c.json', """\
        {"_base_": "base.py",
         "bare": {{ _base_.item }},
         "quoted": "{{_base_.item.a}}",
         "label": "x_{{_base_.name}}"}
        """)
    assert Config.fromfile(tmp_path / 'c.json').to_dict() == {
        'item': {'a': [1, 2]}, 'name': 'tsn', 'bare': {'a': [1, 2]}, 'quoted': [1, 2], 'label': 'x_tsn'}
    write(tmp_path, 'c.yaml', "_base_: base.py\nbare: {{ _base_.item.a }}\nlabel: 'y_{{_base_.name}}'\n")
    cfg = Config.fromfile(tmp_path / 'c.yaml')
    assert cfg.bare == [1, 2] and cfg.label == 'y_tsn'


def test_missing_base_reference_is_an_error(tmp_path: Path):
    write(tmp_path, 'base.py', "model = dict(depth=50)\n")
    child = write(tmp_path, 'child.py', "_base_ = 'base.py'\nx = {{_base_.model.width}}\n")
    with pytest.raises(ConfigError,
                       match=r"child\.py: '\{\{ _base_\.model\.width \}\}' does not exist.*'width'"):
        Config.fromfile(child)


# --------------------------------------------------------------------------- custom imports

def test_custom_imports(tmp_path: Path, monkeypatch, caplog):
    write(tmp_path, 'mods/al_cfg_test_plugin.py', "import sys\nsys.al_cfg_test_plugin_loaded = True\n")
    monkeypatch.syspath_prepend(str(tmp_path / 'mods'))
    monkeypatch.delitem(sys.modules, 'al_cfg_test_plugin', raising=False)
    monkeypatch.setattr(sys, 'al_cfg_test_plugin_loaded', False, raising=False)
    path = write(tmp_path, 'c.py', "custom_imports = dict(imports=['al_cfg_test_plugin'], "
                                   "allow_failed_imports=False)\n")
    Config.fromfile(path, import_custom_modules=False)
    assert sys.al_cfg_test_plugin_loaded is False
    cfg = Config.fromfile(path)
    assert sys.al_cfg_test_plugin_loaded is True
    assert cfg.custom_imports.imports == ['al_cfg_test_plugin']

    missing = write(tmp_path, 'm.py', "custom_imports = dict(imports='al_no_such_module_xyz')\n")
    with pytest.raises(ImportError, match=r"m\.py: custom_imports could not import 'al_no_such_module_xyz'"):
        Config.fromfile(missing)
    allowed = write(tmp_path, 'a.py', "custom_imports = dict(imports=['al_no_such_module_xyz'], "
                                      "allow_failed_imports=True)\n")
    with caplog.at_level(logging.WARNING, logger='actionlab.config'):
        Config.fromfile(allowed)
    assert 'al_no_such_module_xyz' in caplog.text
    typo = write(tmp_path, 't.py', "custom_imports = dict(imports=[], allow_failed_import=True)\n")
    with pytest.raises(ConfigError, match='allow_failed_import'):
        Config.fromfile(typo)


# --------------------------------------------------------------------------- Config object

def test_config_behaves_like_a_nested_dict():
    cfg = Config(dict(model=dict(backbone=dict(depth=50)), pipeline=[dict(type='A')], lr=0.1))
    assert cfg.filename is None and cfg.text == ''
    assert cfg['model'].backbone['depth'] == 50 and cfg.pipeline[0].type == 'A'
    assert 'lr' in cfg and 'momentum' not in cfg and len(cfg) == 3
    assert cfg.get('momentum', 0.9) == 0.9 and cfg.get('lr') == 0.1
    assert list(cfg) == ['model', 'pipeline', 'lr'] and dict(cfg.items())['lr'] == 0.1
    cfg.optimizer = dict(type='SGD', extra=dict(a=1))
    cfg['work_dir'] = 'w'
    cfg.model.backbone.frozen = [dict(k=1)]
    assert isinstance(cfg.optimizer, ConfigDict) and cfg.optimizer.extra.a == 1
    assert cfg.model.backbone.frozen[0].k == 1 and cfg.work_dir == 'w'
    assert isinstance(cfg.model.backbone.copy(), ConfigDict)
    assert cfg.model.setdefault('test_cfg', {}) == {} and isinstance(cfg.model.test_cfg, ConfigDict)
    del cfg.work_dir
    assert 'work_dir' not in cfg
    with pytest.raises(AttributeError, match='read-only'):
        cfg.filename = 'x'
    with pytest.raises(ConfigError, match="'text' is reserved"):
        Config(dict(text=1))
    with pytest.raises(TypeError, match='must be a dict'):
        Config([1, 2])


def test_missing_attribute_suggests_the_closest_key():
    cfg = Config(dict(model=dict(backbone=dict(depth=50), cls_head=dict())))
    with pytest.raises(AttributeError, match=r"no key 'bakbone'\. Did you mean 'backbone'\?"):
        cfg.model.bakbone
    with pytest.raises(AttributeError, match=r"no key 'modle'\. Did you mean 'model'\?"):
        cfg.modle
    with pytest.raises(AttributeError, match=r"no key 'zzz'\. Keys: backbone, cls_head"):
        cfg.model.zzz
    assert not hasattr(cfg.model, 'neck') and getattr(cfg, 'neck', None) is None
    with pytest.raises(KeyError):
        cfg['neck']


def test_copy_deepcopy_and_pickle():
    cfg = Config(dict(model=dict(depth=50), steps=[1, 2]), filename='x.py', cfg_text='text')
    shallow = copy.copy(cfg)
    deep = copy.deepcopy(cfg)
    restored = pickle.loads(pickle.dumps(cfg))
    shallow.new = 1
    shallow.model.depth = 18  # shared with the original
    deep.model.depth = 101
    deep.steps.append(3)
    assert 'new' not in cfg and cfg.model.depth == 18 and cfg.steps == [1, 2]
    assert deep.model.depth == 101 and isinstance(deep.model, ConfigDict)
    assert restored.to_dict() == {'model': {'depth': 50}, 'steps': [1, 2]}
    assert restored.filename == 'x.py' and restored.text == 'text' and restored.model.depth == 50


def test_to_dict_returns_plain_types(tsn_path: Path):
    cfg = Config.fromfile(tsn_path)
    plain = cfg.to_dict()

    def check(value):
        if isinstance(value, dict):
            assert type(value) is dict
            for v in value.values():
                check(v)
        elif isinstance(value, (list, tuple)):
            assert type(value) in (list, tuple)
            for v in value:
                check(v)

    check(plain)
    assert type(plain['data']['train']['pipeline'][0]) is dict
    assert type(cfg.model.backbone.to_dict()) is dict
    assert plain['model']['backbone'] == {'type': 'ResNet', 'pretrained': 'torchvision://resnet50',
                                          'depth': 50, 'norm_eval': False}


def test_fromstring_in_each_format(tmp_path: Path, monkeypatch):
    cfg = Config.fromstring("a = dict(b=(1, 2))\nc = [i for i in range(3)]\n", '.py')
    assert cfg.to_dict() == {'a': {'b': (1, 2)}, 'c': [0, 1, 2]}
    assert Config.fromstring('{"a": {"b": 1}}', 'json').a.b == 1
    cfg = Config.fromstring('a:\n  b: [1, 2]\n', '.yaml')
    assert cfg.a.b == [1, 2] and cfg.dump().startswith('a:\n')
    write(tmp_path, 'base.py', "x = dict(y=1, z=2)\n")
    monkeypatch.chdir(tmp_path)  # bases of a string are relative to the working directory
    assert Config.fromstring("_base_ = 'base.py'\nx = dict(z=3)\n", '.py').x == {'y': 1, 'z': 3}
    with pytest.raises(ConfigError, match=r"unsupported config file type '\.txt'"):
        Config.fromstring('a = 1', '.txt')


# --------------------------------------------------------------------------- overrides

def test_merge_from_dict_with_dotted_keys_and_list_indices(tsn_path: Path):
    cfg = Config.fromfile(tsn_path)
    cfg.merge_from_dict({
        'model.backbone.norm_eval': True,
        'data.train.pipeline.0.type': 'DenseSampleFrames',
        'data.train.pipeline.2.scale': (-1, 128),
        'optimizer.lr': 0.04,
        'new_key.sub': 'v',
        'workflow': [('train', 1), ('val', 1)],
        'evaluation': dict(interval=1),
    })
    assert cfg.model.backbone.norm_eval is True and cfg.model.backbone.depth == 50
    assert cfg.data.train.pipeline[0] == dict(type='DenseSampleFrames', clip_len=1,
                                              frame_interval=1, num_clips=3)
    assert cfg.data.train.pipeline[2].scale == (-1, 128) and len(cfg.data.train.pipeline) == 10
    assert cfg.data.val.pipeline[0].type == 'SampleFrames'
    assert cfg.optimizer.lr == 0.04 and cfg.optimizer.momentum == 0.9
    assert cfg.new_key.sub == 'v' and isinstance(cfg.new_key, ConfigDict)
    assert cfg.workflow == [('train', 1), ('val', 1)]
    assert cfg.evaluation == dict(interval=1, metrics=['top_k_accuracy', 'mean_class_accuracy'])

    options = {'model': {'neck': {'k': 1}}, 'model.neck.j': 2}
    cfg.merge_from_dict(options)
    assert cfg.model.neck == {'k': 1, 'j': 2} and options['model'] == {'neck': {'k': 1}}
    with pytest.raises(ConfigError, match=r"option 'lr\.x' conflicts with the option that sets 'lr'"):
        cfg.merge_from_dict({'lr': 1, 'lr.x': 2})
    with pytest.raises(ConfigError, match=r"'data\.train\.pipeline\.10': index 10 is out of range"):
        cfg.merge_from_dict({'data.train.pipeline.10.type': 'X'})
    with pytest.raises(ConfigError, match=r"'data\.train\.pipeline\.x'.*not an index"):
        cfg.merge_from_dict({'data.train.pipeline.x': 1})
    with pytest.raises(ConfigError, match=r"'data\.train\.pipeline': cannot merge a dict "
                                          r"into the base value of type list"):
        cfg.merge_from_dict({'data.train.pipeline.0.type': 'X'}, allow_list_keys=False)


@pytest.mark.parametrize('option, key, expected', [
    ('a.b=1', 'a.b', 1),
    ('n=-3', 'n', -3),
    ('g=1.5', 'g', 1.5),
    ('s=1e-4', 's', 1e-4),
    ('f=true', 'f', True),
    ('F=False', 'F', False),
    ('e=None', 'e', None),
    ('h=abc', 'h', 'abc'),
    ('q="quoted"', 'q', 'quoted'),
    ('url=http://x/y?a=b', 'url', 'http://x/y?a=b'),
    ('empty=', 'empty', ''),
    ('c=[1,2]', 'c', [1, 2]),
    ('sp=[1, 2.5, x]', 'sp', [1, 2.5, 'x']),
    ('d=(1,2)', 'd', (1, 2)),
    ('one=(1,)', 'one', (1,)),
    ('el=[]', 'el', []),
    ('i=[(a,1),(b,2)]', 'i', [('a', 1), ('b', 2)]),
    ('w="[(train,1),(val,1)]"', 'w', [('train', 1), ('val', 1)]),
    ('deep=[[1,[2,(3,None)]],true]', 'deep', [[1, [2, (3, None)]], True]),
    ('j=1,2,3', 'j', [1, 2, 3]),
    ('t=(1,2),(3,4)', 't', [(1, 2), (3, 4)]),
])
def test_parse_cfg_options(option, key, expected):
    parsed = parse_cfg_options([option])
    assert parsed == {key: expected}
    assert type(parsed[key]) is type(expected)


def test_parse_cfg_options_errors():
    with pytest.raises(ConfigError, match="'novalue' is not of the form KEY=VALUE"):
        parse_cfg_options(['novalue'])
    with pytest.raises(ConfigError, match='unbalanced brackets'):
        parse_cfg_options(['a=[1,(2]'])


def test_dict_action_with_argparse(tsn_path: Path):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = parser.parse_args(['--cfg-options', 'model.backbone.depth=101', 'workflow=[(train,1),(val,1)]',
                              '--cfg-options', 'data.train.pipeline.0.num_clips=8'])
    assert args.cfg_options == {'model.backbone.depth': 101, 'workflow': [('train', 1), ('val', 1)],
                                'data.train.pipeline.0.num_clips': 8}
    assert parser.parse_args([]).cfg_options == {}
    cfg = Config.fromfile(tsn_path)
    cfg.merge_from_dict(args.cfg_options)
    assert cfg.model.backbone.depth == 101 and cfg.data.train.pipeline[0].num_clips == 8
    with pytest.raises(SystemExit):
        parser.parse_args(['--cfg-options', 'bad'])


# --------------------------------------------------------------------------- dumping

@pytest.mark.parametrize('suffix', ['.py', '.json', '.yaml', '.yml'])
def test_dump_round_trip(tsn_path: Path, tmp_path: Path, suffix: str):
    cfg = Config.fromfile(tsn_path)
    cfg.merge_from_dict({'extra': {'a-b': 1, 'class': (1,), 'lambda': [float('inf')], 'ok': {}}})
    out = tmp_path / f'dumped{suffix}'
    cfg.dump(out)
    loaded = Config.fromfile(out)
    if suffix == '.py':
        assert loaded.to_dict() == cfg.to_dict()  # tuples preserved
        assert loaded.workflow == [('train', 1)] and loaded.extra['class'] == (1,)
    else:
        assert loaded.to_dict() == as_json(cfg.to_dict())
    assert loaded.data.train.pipeline[6].mean == [123.675, 116.28, 103.53]


def test_dump_without_path_uses_the_original_format(tsn_path: Path, tmp_path: Path):
    cfg = Config.fromfile(tsn_path)
    assert cfg.dump() == cfg.pretty_text == str(cfg)
    assert repr(cfg).startswith(f'Config (path: {tsn_path}):\nmodel = dict(')
    json_cfg = Config.fromfile(write(tmp_path, 'c.json', '{"a": {"b": [1, 2]}}'))
    assert json.loads(json_cfg.dump()) == {'a': {'b': [1, 2]}}
    yaml_cfg = Config.fromfile(write(tmp_path, 'c.yml', 'a:\n  b: (1, 2)\n'))
    assert yaml.safe_load(yaml_cfg.dump()) == {'a': {'b': '(1, 2)'}}
    with pytest.raises(ConfigError, match=r"out\.txt: unsupported config file type '\.txt'"):
        cfg.dump(tmp_path / 'out.txt')


def test_pretty_text_is_readable_python(tsn_path: Path):
    cfg = Config.fromfile(tsn_path)
    text = cfg.pretty_text
    assert text.startswith("model = dict(\n    type='Recognizer2D',\n    backbone=dict(type='ResNet', ")
    assert "workflow = [('train', 1)]\n" in text
    assert "    dict(type='Resize', scale=(-1, 256)),\n" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    odd = Config({'my-key': {1: 'a', 'x y': None}, 'ok': dict(type=1, match=2)})
    assert odd.pretty_text == "globals()['my-key'] = {1: 'a', 'x y': None}\nok = dict(type=1, match=2)\n"
    assert Config.fromstring(odd.pretty_text, '.py').to_dict() == odd.to_dict()


# --------------------------------------------------------------------------- errors

def test_missing_base_file_names_it_and_the_referrer(tmp_path: Path):
    child = write(tmp_path, 'exp/child.py', "_base_ = ['../_base_/nope.py']\n")
    with pytest.raises(FileNotFoundError) as info:
        Config.fromfile(child)
    assert str(tmp_path / '_base_' / 'nope.py') in str(info.value)
    assert str(child) in str(info.value)


def test_missing_config_file(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match='nothere.py'):
        Config.fromfile(tmp_path / 'nothere.py')


def test_syntax_error_names_file_and_line(tmp_path: Path):
    path = write(tmp_path, 'broken.py', "model = dict(\n    depth=50,\n    width=,\n)\n")
    with pytest.raises(ConfigError, match=rf'{path}:3: invalid Python syntax') as info:
        Config.fromfile(path)
    assert 'width=,' in str(info.value)
    assert isinstance(info.value.__cause__, SyntaxError)


def test_json_and_yaml_errors_name_file_and_line(tmp_path: Path):
    bad_json = write(tmp_path, 'bad.json', '{\n  "a": 1,\n  "b": \n}\n')
    with pytest.raises(ConfigError, match=rf'{bad_json}:4: invalid JSON'):
        Config.fromfile(bad_json)
    bad_yaml = write(tmp_path, 'bad.yaml', 'a: 1\nb: [1, 2\nc: 3\n')
    with pytest.raises(ConfigError, match=rf'{bad_yaml}:\d+: invalid YAML'):
        Config.fromfile(bad_yaml)
    not_mapping = write(tmp_path, 'list.yaml', '- 1\n- 2\n')
    with pytest.raises(ConfigError, match=rf'{not_mapping}: a config must be a mapping.*list'):
        Config.fromfile(not_mapping)


def test_unsupported_extension_names_the_file(tmp_path: Path):
    path = write(tmp_path, 'conf.toml', 'a = 1\n')
    with pytest.raises(ConfigError, match=rf"{path}: unsupported config file type '\.toml'"):
        Config.fromfile(path)
    base_user = write(tmp_path, 'c.py', "_base_ = 'conf.toml'\n")
    with pytest.raises(ConfigError, match=r'conf\.toml: unsupported'):
        Config.fromfile(base_user)


def test_merge_from_dict_warns_on_likely_typos(caplog):
    cfg = Config(dict(optimizer=dict(type='SGD', lr=0.1), data=dict(train=dict(pipeline=[dict(type='A')]))))
    with caplog.at_level('WARNING', logger='actionlab.config'):
        cfg.merge_from_dict({'optimzer.lr': 1.0, 'seed': 3, 'data.train.pipeline.0.tpye': 'B'})
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "override 'optimzer.lr' adds the new key 'optimzer'; did you mean 'optimizer'?",
        "override 'data.train.pipeline.0.tpye' adds the new key 'tpye'; did you mean "
        "'data.train.pipeline.0.type'?"]
    assert cfg.optimzer.lr == 1.0 and cfg.seed == 3  # still applied: new keys are legal
